"""The steps every run type shares: pixel statistics, the device line, resuming from a
checkpoint (and keeping the schedule's place), and `fit` wired to the run store.

The classifier's trainer (`trainer`) and the captioner's (`caption_trainer`) both use them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

from studio.config.schema import RunConfig
from studio.inference.loading import load_keras_file
from studio.runs import artifacts, checkpoints
from studio.runs.errors import RunFailed
from studio.runs.store import RunStore
from studio.training import precision
from studio.training.callbacks import StoreWriter
from studio.training.compile import warmup_cosine
from studio.training.device import describe_device
from studio.training.speed import ExecutionPlan, allow_jit


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance on the 0..255 scale, for the model's Normalization."""
    flat = images.reshape(-1, images.shape[-1]).astype("float64")
    return flat.mean(axis=0).tolist(), np.maximum(flat.var(axis=0), 1e-6).tolist()


def describe_run_device(model: keras.Model, plan: ExecutionPlan) -> str:
    """The run's info line: where it trains, in which precision, how steps execute (what
    Keras actually does: it declines XLA for a model with a layer that cannot compile)."""
    actual = dataclasses.replace(plan, jit_compile=bool(model.jit_compile))
    return f"{describe_device()}, {precision.model_policy(model)}, {actual.describe()}"


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


def fit_run(
    store: RunStore,
    run_id: str,
    model: keras.Model,
    train_feed,
    val_feed,
    batch: int,
    cfg: RunConfig,
    start_epoch: int,
    before_store: list[keras.callbacks.Callback] = (),
) -> None:
    """`fit` from `start_epoch` to the last epoch, every epoch's row, heartbeat, stop check and
    checkpoint going through the run store; `before_store` callbacks see each epoch's logs
    first (and may add to the row)."""
    run_dir = store.run_dir(run_id)
    callbacks = [*before_store, StoreWriter(store, run_id, run_dir, batch, len(train_feed))]
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


def resume_or_build(
    store: RunStore,
    run_id: str,
    cfg: RunConfig,
    steps_per_epoch: int,
    plan: ExecutionPlan,
    build: Callable[[], keras.Model],
) -> tuple[keras.Model, int, str | None]:
    """The model to train, the epoch it starts from and the resume's note: the run's
    checkpoint (its schedule kept in place, rows past it dropped, a fallback noted in the
    run's reason), else `build()`, a fresh compiled model. The device line is recorded.

    The checkpoint carries weights, optimizer slots and the iteration count that positions
    the learning-rate schedule; its layers keep the dtype policy they were built with.
    """
    model, start_epoch, note = load_checkpoint(store, run_id, cfg)
    store.truncate_after_epoch(run_id, start_epoch)
    if model is not None:
        allow_jit(model)
        model.jit_compile = plan.jit_compile
        continue_schedule(model, start_epoch, steps_per_epoch, cfg)
        if note:
            store.update(run_id, reason=note)
    else:
        model = build()
    store.update(run_id, device=describe_run_device(model, plan))
    return model, start_epoch, note
