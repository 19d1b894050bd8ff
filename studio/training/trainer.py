"""Train one run of the store from its config: data, model, fit, final model, test metrics.

The trainer knows nothing of the model's insides: it builds it through the variant table's
builder (`studio.models.build`), trains it through `fit`, and talks to the outside world only
through the run store and the run's folder (`studio.runs.artifacts`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import keras
import numpy as np

from studio.config.schema import RunConfig
from studio.config.variants import VARIANTS
from studio.datasets.dataset import Dataset
from studio.inference.loading import load_keras_file
from studio.models.build import ModelInputs, build_model
from studio.runs import artifacts, checkpoints
from studio.runs.errors import RunFailed
from studio.runs.store import RunStore
from studio.training import precision
from studio.training.callbacks import StoreWriter, save_atomically
from studio.training.compile import compile_model, warmup_cosine
from studio.training.device import describe_device
from studio.training.distillation import attach_run_teacher
from studio.training.evaluation import EVAL_BATCH, evaluate_model, store_summary
from studio.training.feed import ImageBatches
from studio.training.run_data import load_run_data
from studio.training.speed import ExecutionPlan, allow_jit, execution_plan


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance on the 0..255 scale, for the model's Normalization."""
    flat = images.reshape(-1, images.shape[-1]).astype("float64")
    return flat.mean(axis=0).tolist(), np.maximum(flat.var(axis=0), 1e-6).tolist()


def write_dataset_files(run_dir: Path, data: Dataset) -> None:
    """The labels (what the demo needs) and the dataset report (what was skipped and why)."""
    labels = artifacts.Labels(tuple(data.class_names), int(data.input_size), data.name)
    artifacts.write_labels(run_dir, labels)
    artifacts.write_dataset_report(run_dir, data.report.to_dict())


def model_inputs(data: Dataset) -> ModelInputs:
    """What the builder needs to know of the dataset (pixel statistics from training images)."""
    mean, variance = channel_stats(data.x_train)
    return ModelInputs(len(data.class_names), tuple(data.x_train.shape[1:]), mean, variance)


def describe_run_device(model: keras.Model, plan: ExecutionPlan) -> str:
    """The run's info line: where it trains, in which precision, how steps execute (what
    Keras actually does: it declines XLA for a model with a layer that cannot compile)."""
    actual = dataclasses.replace(plan, jit_compile=bool(model.jit_compile))
    return f"{describe_device()}, {precision.model_policy(model)}, {actual.describe()}"


def train_run(store: RunStore, run_id: str) -> str | None:
    """Train (or resume) a run to its last epoch; raises on stop, NaN or bad data. Returns a
    note for the run's reason when it resumed from its previous checkpoint."""
    run = store.get(run_id)
    if run.damage:  # its config would read as the defaults: never train those instead
        raise RunFailed(f"run {run_id} is damaged: {run.damage}")
    cfg = RunConfig.from_dict(run.config)
    # The global dtype policy is put back after: a caller in the same process (a test, a
    # notebook) keeps its own.
    with precision.policy(cfg.train.precision):
        return _train(store, run_id, cfg)


def _recorded_epochs(store: RunStore, run_id: str) -> int:
    return max((int(r["epoch"]) for r in store.metrics(run_id, kind="epoch")), default=0)


def load_checkpoint(
    store: RunStore, run_id: str, cfg: RunConfig
) -> tuple[keras.Model | None, int, str | None]:
    """The model to resume from, its epoch and a note when it is not the last checkpoint:
    (None, 0, None) for a run that never checkpointed. Checkpoints whose checksum or epoch
    is wrong are passed over before loading, ones Keras cannot read after; if none is left,
    the run cannot resume and RunFailed says so and how to start it fresh."""
    run_dir = store.run_dir(run_id)
    recorded = min(_recorded_epochs(store, run_id), cfg.train.epochs)
    choice = checkpoints.choose(run_dir, recorded)
    why = list(choice.rejected)
    for candidate in choice.usable:
        try:
            model = load_keras_file(candidate.path)
        except Exception as exc:  # Keras' own words, kept for the message
            why.append(f"the checkpoint of epoch {candidate.epoch} does not load ({exc})")
            continue
        note = None
        if why:
            note = f"resumed from the previous checkpoint (epoch {candidate.epoch}): " + "; ".join(
                why
            )
            print(f"[trainer] {note}", flush=True)
        return model, candidate.epoch, note
    if choice.marked:
        raise RunFailed(
            f"run {run_id} {checkpoints.CANNOT_RESUME} ({'; '.join(why)}). Start it "
            f"again from epoch 0 with `python -m studio resume {run_id} --fresh` (or Start "
            "fresh on its page); its recorded epochs are discarded"
        )
    return None, 0, None


def continue_schedule(model: keras.Model, epoch: int, steps_per_epoch: int, cfg: RunConfig) -> None:
    """Keep the learning-rate schedule's place by epoch when the batch size changed since the
    checkpoint (a retry at half the batch after running out of memory): the schedule is
    rebuilt for the new steps per epoch and the iteration count moved to the same epoch, so
    the remaining epochs follow the curve the run was on, at the new number of steps."""
    optimizer = model.optimizer
    iterations = int(keras.ops.convert_to_numpy(optimizer.iterations))
    if iterations == epoch * steps_per_epoch:
        return
    total = steps_per_epoch * cfg.train.epochs
    warmup = min(int(cfg.train.warmup_fraction * total), total - 1)
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's
    inner.learning_rate = warmup_cosine(cfg.train.learning_rate, total, warmup)
    optimizer.iterations.assign(epoch * steps_per_epoch)
    print(
        f"[trainer] {steps_per_epoch} steps per epoch now (the checkpoint had "
        f"{iterations // max(epoch, 1)}): the schedule continues from epoch {epoch}",
        flush=True,
    )


def _train(store: RunStore, run_id: str, cfg: RunConfig) -> str | None:
    run_dir = store.run_dir(run_id)
    keras.utils.set_random_seed(cfg.train.seed)
    plan = execution_plan()

    data = load_run_data(store, cfg)
    write_dataset_files(run_dir, data)
    num_classes = len(data.class_names)
    batch = min(cfg.train.batch_size, len(data.y_train))
    steps = math.ceil(len(data.y_train) / batch)
    store.update(run_id, steps_per_epoch=steps, num_classes=num_classes)

    # The checkpoint carries weights, optimizer slots and the iteration count that
    # positions the learning-rate schedule. Its layers keep the dtype policy they were
    # built with.
    model, start_epoch, note = load_checkpoint(store, run_id, cfg)
    store.truncate_after_epoch(run_id, start_epoch)
    if model is not None:
        allow_jit(model)
        model.jit_compile = plan.jit_compile
        continue_schedule(model, start_epoch, steps, cfg)
        if note:
            store.update(run_id, reason=note)
    else:
        model = build_model(cfg, model_inputs(data))
        compile_model(model, cfg.train, steps, plan)
    store.update(run_id, device=describe_run_device(model, plan))
    if VARIANTS[cfg.model.variant].distills:
        # Never saved with the student: reloaded (and checked again) on every start and resume.
        attach_run_teacher(store, model, cfg, data.class_names)

    if start_epoch < cfg.train.epochs:
        train_feed = ImageBatches(
            data.x_train,
            data.y_train,
            num_classes,
            batch,
            shuffle=True,
            seed=cfg.train.seed,
            mixup=cfg.augment.mixup,
            cutmix=cfg.augment.cutmix,
            start_epoch=start_epoch,
        )
        val_feed = (
            ImageBatches(data.x_val, data.y_val, num_classes, EVAL_BATCH)
            if len(data.y_val)
            else None
        )
        callbacks: list[keras.callbacks.Callback] = [
            StoreWriter(store, run_id, run_dir, batch, steps)
        ]
        if keras.backend.backend() == "tensorflow":
            callbacks.append(
                keras.callbacks.TensorBoard(
                    log_dir=str(run_dir / artifacts.TENSORBOARD),
                    write_graph=False,
                    profile_batch=0,
                )
            )
        model.fit(
            train_feed,
            validation_data=val_feed,
            epochs=cfg.train.epochs,
            initial_epoch=start_epoch,
            callbacks=callbacks,
            verbose=0,
        )

    final = run_dir / artifacts.FINAL_MODEL
    save_atomically(model, final)
    sha256 = artifacts.sha256_file(final)
    test: dict[str, float] = {}
    if len(data.y_test):
        test = store_summary(evaluate_model(model, data, cfg, run_dir, sha256))
    store.update(run_id, model_sha256=sha256, test=test)
    return note
