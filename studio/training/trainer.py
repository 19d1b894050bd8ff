"""Train one run of the store from its config: data, model, fit, final model, test metrics.

The trainer knows nothing of the model's insides: it builds it through `build_vit`, trains it
through `fit`, and talks to the outside world only through the run store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np

from studio.checksum import sha256_file
from studio.config import DEIT, VIT_B16, RunConfig
from studio.datasets import Dataset, load_dataset
from studio.models.deit import build_deit
from studio.models.pretrained import build_pretrained_vit
from studio.models.vit import build_vit
from studio.paths import dataset_cache_dir
from studio.store import RunStore
from studio.training.callbacks import CHECKPOINT, StoreWriter, checkpointed_epoch, save_atomically
from studio.training.compile import compile_model
from studio.training.device import describe_device
from studio.training.distillation import attach_run_teacher
from studio.training.feed import ImageBatches
from studio.training.model_files import FINAL_MODEL, LABELS, load_keras_file

EVAL_BATCH = 256


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and variance on the 0..255 scale, for the model's Normalization."""
    flat = images.reshape(-1, images.shape[-1]).astype("float64")
    return flat.mean(axis=0).tolist(), np.maximum(flat.var(axis=0), 1e-6).tolist()


def load_run_data(store: RunStore, cfg: RunConfig) -> Dataset:
    return load_dataset(
        cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
    )


def write_dataset_files(run_dir: Path, data: Dataset) -> None:
    """labels.json (what the demo needs) and dataset_report.json (what was skipped and why)."""
    labels = {
        "class_names": list(data.class_names),
        "input_size": int(data.input_size),
        "dataset": data.name,
    }
    (run_dir / LABELS).write_text(json.dumps(labels, indent=2))
    (run_dir / "dataset_report.json").write_text(json.dumps(data.report.to_dict(), indent=2))


def evaluate_arrays(model: keras.Model, x: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    """Test-set loss, top-1 and top-5 with the run's own loss and metrics."""
    if len(y) == 0:
        return {}
    feed = ImageBatches(x, y, num_classes, EVAL_BATCH)
    result = model.evaluate(feed, verbose=0, return_dict=True)
    return {k: float(v) for k, v in result.items() if k in ("loss", "accuracy", "top3", "top5")}


def build_model(cfg: RunConfig, data: Dataset) -> keras.Model:
    """A fresh, uncompiled model for the run's variant, sized for its dataset."""
    mean, variance = channel_stats(data.x_train)
    common = {
        "num_classes": len(data.class_names),
        "input_shape": tuple(data.x_train.shape[1:]),
        "mean": mean,
        "variance": variance,
        "seed": cfg.train.seed,
    }
    if cfg.model.variant == DEIT:
        return build_deit(cfg.model, cfg.augment, cfg.distill, **common)
    if cfg.model.variant == VIT_B16:
        # The preset brings its own pixel scaling; the dataset's statistics are not used.
        return build_pretrained_vit(
            cfg.model, cfg.augment, common["num_classes"], common["input_shape"], cfg.train.seed
        )
    return build_vit(cfg.model, cfg.augment, **common)


def train_run(store: RunStore, run_id: str) -> None:
    """Train (or resume) a run to its last epoch; raises on stop, NaN or bad data."""
    run = store.get(run_id)
    cfg = RunConfig.from_dict(run.config)
    run_dir = store.run_dir(run_id)
    keras.utils.set_random_seed(cfg.train.seed)

    data = load_run_data(store, cfg)
    write_dataset_files(run_dir, data)
    num_classes = len(data.class_names)
    batch = min(cfg.train.batch_size, len(data.y_train))
    steps = math.ceil(len(data.y_train) / batch)
    store.update(run_id, steps_per_epoch=steps, num_classes=num_classes, device=describe_device())

    start_epoch = checkpointed_epoch(run_dir)
    store.truncate_after_epoch(run_id, start_epoch)
    if start_epoch:
        # The checkpoint carries weights, optimizer slots and the iteration count that
        # positions the learning-rate schedule.
        model = load_keras_file(run_dir / CHECKPOINT)
    else:
        model = build_model(cfg, data)
        compile_model(model, cfg.train, steps)
    if cfg.model.variant == DEIT:
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
                    log_dir=str(run_dir / "tensorboard"), write_graph=False, profile_batch=0
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

    final = run_dir / FINAL_MODEL
    save_atomically(model, final)
    test = evaluate_arrays(model, data.x_test, data.y_test, num_classes)
    store.update(run_id, model_sha256=sha256_file(final), test=test)
