"""The Keras callback that connects `fit` to the run store.

It writes a step row after the first step and then every few seconds, and an epoch row per
epoch with every metric the model reports (whatever it compiled, and any loss parts it
tracks), checkpoints atomically, honours stop requests at batch boundaries and fails loudly on
a non-finite loss. It also marks the phases of the way to the first row in worker.log
(`studio.runs.phases`).
"""

from __future__ import annotations

import math
import os
import time
import weakref
from pathlib import Path

import keras
from keras import ops

from studio.runs import checkpoints, phases, worker
from studio.runs.errors import OutOfMemory, StopRequested
from studio.runs.store import RunStore
from studio.training.errors import NonFiniteLoss


def save_atomically(model: keras.Model, path: Path) -> None:
    """Write to a temporary file then rename, so a kill mid-save keeps the last good file;
    a failed save (a full disk) leaves no partial file behind."""
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    try:
        model.save(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def save_checkpoint(model: keras.Model, run_dir: Path, epoch: int) -> None:
    """The checkpoint of `epoch`, complete on disk before it replaces the last one (which
    becomes the previous: `studio.runs.checkpoints`)."""
    tmp = run_dir / checkpoints.PARTIAL
    try:
        model.save(tmp)
        checkpoints.install(run_dir, tmp, epoch)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def current_learning_rate(model: keras.Model) -> float:
    return float(ops.convert_to_numpy(model.optimizer.learning_rate))


def build_optimizer(model: keras.Model) -> None:
    """Create the optimizer's slots before `fit` traces its first step.

    Keras' TensorFlow trainer otherwise creates them inside the first trace of the train
    function, and a tf.function that creates variables is traced twice: about half of the
    first step's seconds (measured: 17 -> 9 s of CPU for cpu-quick on 2 cores). The slots are
    the same zeros either way; a resumed model's optimizer is built already.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)


def learning_rate_once_per_trace(model: keras.Model) -> None:
    """Compute the learning-rate schedule once per traced train step, not once per variable.

    Keras' TensorFlow optimizer reads `optimizer.learning_rate` for every variable it applies
    weight decay to, and with a schedule each read adds the whole CosineDecay subgraph to the
    step: about a third of the first step's seconds for cpu-quick (8 -> 5 s of CPU on 2 cores).
    Within one traced graph every read sees the same iteration count (it is incremented after
    all updates), so reusing the first read's tensor changes no number. Set on the optimizer
    object only, never in its config: checkpoints and final models save the schedule as before.
    Other backends, and Keras versions without this hook, are left alone.
    """
    if keras.backend.backend() != "tensorflow":
        return
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's
    compute = getattr(optimizer, "_get_current_learning_rate", None)
    if compute is None or getattr(compute, "once_per_trace", False):
        return
    import tensorflow as tf

    last: list = [lambda: None, None]  # (a weak reference to) the graph traced, its tensor

    def once_per_trace():
        if tf.executing_eagerly():
            return compute()
        graph = tf.compat.v1.get_default_graph()
        if last[0]() is not graph:
            last[:] = [weakref.ref(graph), compute()]
        return last[1]

    once_per_trace.once_per_trace = True
    optimizer._get_current_learning_rate = once_per_trace


class StoreWriter(keras.callbacks.Callback):
    """Streams metrics, heartbeats and checkpoints of one run into the run store.

    Args:
        store: the run store.
        run_id: the run being trained.
        run_dir: the run's folder (checkpoints go here).
        batch_size: images per step, for images/s.
        steps_per_epoch: batches per epoch, for progress.
        step_every_s: seconds between step rows.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        run_dir: Path,
        batch_size: int,
        steps_per_epoch: int,
        step_every_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.run_dir = run_dir
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.step_every_s = step_every_s
        self._epoch = 0
        self._epoch_start = 0.0
        self._first_batch_end = 0.0
        self._train_images_per_s: float | None = None
        self._last_row = 0.0
        self._last_stop_check = 0.0
        self._first_step_seen = False

    @staticmethod
    def _values(logs: dict) -> dict[str, float]:
        """Every numeric entry of Keras' logs, as floats."""
        values = {}
        for key, value in logs.items():
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                continue  # not a number (Keras may log nested results)
        return values

    def on_train_begin(self, logs=None):
        phases.mark("fit-begins")  # data loaded, model built (or loaded) and compiled
        # From here a termination signal is answered at the next batch boundary, not at once.
        worker.defer_termination()
        # Both make the first trace of the train step cheaper; neither changes a number.
        build_optimizer(self.model)
        learning_rate_once_per_trace(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1  # stored epochs count from 1: "epoch 3" is the third pass
        self._epoch_start = time.perf_counter()
        self._last_row = time.monotonic()

    def _images_per_s(self, step: int) -> float | None:
        # Timed from the end of the epoch's first batch: that batch may hold seconds of
        # graph tracing and XLA compilation, which are not throughput.
        if step < 2:
            return None
        elapsed = time.perf_counter() - self._first_batch_end
        return (step - 1) * self.batch_size / max(elapsed, 1e-9)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = batch + 1
        if step == 1:
            self._first_batch_end = time.perf_counter()
        first_of_fit = not self._first_step_seen
        if first_of_fit:
            self._first_step_seen = True
            phases.mark("first-step")  # the train function traced, compiled and run once
        # Kept per batch so the epoch row reports training throughput without validation.
        self._train_images_per_s = self._images_per_s(step)
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteLoss(
                f"loss became {loss} at epoch {self._epoch} step {step}; the checkpoint of "
                f"epoch {self._epoch - 1} is kept. Try a lower learning rate."
            )
        if worker.termination_signal():
            raise StopRequested(
                f"stopped by {worker.termination_signal()} at epoch {self._epoch} step {step}"
            )
        running_low = worker.memory_low()
        if running_low:
            raise OutOfMemory(running_low)
        now = time.monotonic()
        if now - self._last_stop_check >= 0.5:
            self._last_stop_check = now
            if self.store.stop_requested(self.run_id):
                raise StopRequested(f"stopped by the user at epoch {self._epoch} step {step}")
        if now - self._last_row >= self.step_every_s or step == 1:
            self._last_row = now
            self.store.add_metric(
                self.run_id,
                "step",
                self._epoch,
                step,
                **self._values(logs),
                images_per_s=self._images_per_s(step),
            )
            if first_of_fit:
                phases.mark("first-row")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_start
        images_per_s = self._train_images_per_s
        values = self._values(logs)
        val_loss = values.get("val_loss")
        if val_loss is not None and not math.isfinite(val_loss):
            raise NonFiniteLoss(
                f"validation loss became {val_loss} at epoch {self._epoch}; the checkpoint of "
                f"epoch {self._epoch - 1} is kept. Try a lower learning rate."
            )
        # Order matters for resume: the row first, then the checkpoint with its marker.
        # Resume trusts a checkpoint only for an epoch the store recorded, and drops rows
        # past the one it loads, so every epoch is recorded exactly once.
        self.store.add_metric(
            self.run_id,
            "epoch",
            self._epoch,
            self.steps_per_epoch,
            **values,
            lr=current_learning_rate(self.model),
            images_per_s=images_per_s,
            epoch_seconds=seconds,
        )
        save_checkpoint(self.model, self.run_dir, self._epoch)
        run = self.store.get(self.run_id)
        self.store.update(
            self.run_id, epochs_done=self._epoch, train_seconds=run.train_seconds + seconds
        )
