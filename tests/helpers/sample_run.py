"""A small finished run without training: for tests, the benchmark and trying the demo.

`make_sample_run` builds the run's model with the variant table's builder (random weights,
seeded), saves it as the run's `.keras` with the checksum recorded and labels written, as the
trainer does, and marks the run completed. By default it is the tiny preset on digits (10
classes, 32 px input); `preset="keras-example"` gives the Keras-example architecture on
CIFAR-10 shapes, untrained, which costs the same per image as a trained one. Imports keras.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from studio.config import make_config
from studio.datasets.catalog import CIFAR10_CLASSES, DIGITS_CLASSES
from studio.models.build import ModelInputs, build_model
from studio.runs import artifacts
from studio.runs.store import Run, RunStore
from tests.helpers.tiny import MEAN, VARIANCE, tiny_config


def make_sample_run(
    store: RunStore,
    *,
    preset: str = "tiny",
    variant: str = "spt-lsa",
    seed: int = 0,
    test: dict | None = None,
    **overrides: str,
) -> Run:
    """A completed run whose model the studio wrote; `preset` is "tiny" (which takes
    `--set`-style overrides, `**{"model.depth": "2"}`) or "keras-example"."""
    if preset == "tiny":
        cfg = tiny_config(variant, "digits", **overrides)
        names, dataset = list(DIGITS_CLASSES), "digits"
    elif preset == "keras-example":
        cfg = make_config("keras-example", "cifar10", variant, {"train.epochs": "1"})
        names, dataset = list(CIFAR10_CLASSES), "cifar10"
    else:
        raise ValueError(f"preset={preset!r} must be 'tiny' or 'keras-example'")
    input_size = 32
    keras.utils.set_random_seed(seed)
    model = build_model(cfg, ModelInputs(len(names), (input_size, input_size, 3), MEAN, VARIANCE))
    config = {**cfg.to_dict(), "preset": f"sample-{preset}"}
    run = store.create_run(config)
    folder = store.run_dir(run.id)
    artifacts.write_config(folder, config)
    model.save(folder / artifacts.FINAL_MODEL)
    artifacts.write_labels(folder, artifacts.Labels(tuple(names), input_size, dataset))
    now = time.time()
    store.update(
        run.id,
        status="completed",
        started_at=now,
        finished_at=now,
        epochs_done=cfg.train.epochs,
        num_classes=len(names),
        device="cpu (untrained sample)",
        model_sha256=artifacts.sha256_file(folder / artifacts.FINAL_MODEL),
        test=test if test is not None else {},
    )
    return store.get(run.id)


def sample_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Random uint8 images (n, size, size, 3) for benchmarks."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
