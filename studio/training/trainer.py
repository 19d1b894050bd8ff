"""Train one run of the store from its config: data, model, fit, final model, test metrics.

The trainer knows nothing of the model's insides: it builds it through the variant table's
builder (`studio.models.build`), trains it through `fit`, and talks to the outside world only
through the run store and the run's folder (`studio.runs.artifacts`).
"""

from __future__ import annotations

import math
from pathlib import Path

import keras

from studio.config.schema import RunConfig
from studio.config.variants import VARIANTS
from studio.datasets.dataset import Dataset
from studio.models.build import ModelInputs, build_model
from studio.runs import artifacts
from studio.runs.errors import RunFailed
from studio.runs.store import RunStore
from studio.training import precision
from studio.training.callbacks import save_atomically
from studio.training.caption_trainer import train_captioner
from studio.training.compile import compile_model
from studio.training.distillation import attach_run_teacher
from studio.training.evaluation import EVAL_BATCH, evaluate_model, store_summary
from studio.training.feed import ImageBatches
from studio.training.fitting import channel_stats, fit_run, resume_or_build
from studio.training.run_data import load_run_data
from studio.training.speed import execution_plan


def write_dataset_files(run_dir: Path, data: Dataset) -> None:
    """The labels (what the demo needs) and the dataset report (what was skipped and why)."""
    labels = artifacts.Labels(tuple(data.class_names), int(data.input_size), data.name)
    artifacts.write_labels(run_dir, labels)
    artifacts.write_dataset_report(run_dir, data.report.to_dict())


def model_inputs(data: Dataset) -> ModelInputs:
    """What the builder needs to know of the dataset (pixel statistics from training images)."""
    mean, variance = channel_stats(data.x_train)
    return ModelInputs(len(data.class_names), tuple(data.x_train.shape[1:]), mean, variance)


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
        if cfg.task == "caption":
            return train_captioner(store, run_id, cfg)
        return _train(store, run_id, cfg)


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

    def build() -> keras.Model:
        model = build_model(cfg, model_inputs(data))
        compile_model(model, cfg.train, steps, plan)
        return model

    model, start_epoch, note = resume_or_build(store, run_id, cfg, steps, plan, build)
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
        fit_run(store, run_id, model, train_feed, val_feed, batch, cfg, start_epoch)

    final = run_dir / artifacts.FINAL_MODEL
    save_atomically(model, final)
    sha256 = artifacts.sha256_file(final)
    test: dict[str, float] = {}
    if len(data.y_test):
        test = store_summary(evaluate_model(model, data, cfg, run_dir, sha256))
    store.update(run_id, model_sha256=sha256, test=test)
    return note
