"""A small finished run without training: for tests, the benchmark and trying the demo.

`make_sample_run` builds a ViT with `build_vit` (random weights, seeded), saves it as the
run's `.keras` with the checksum recorded and labels written, exactly as the trainer does,
and marks the run completed. By default it is a tiny digits model (10 classes, 32 px input);
`preset="keras-example"` gives the Keras-example architecture on CIFAR-10 shapes, untrained,
which costs the same per image as a trained one. Imports keras.
"""

from __future__ import annotations

import dataclasses
import json
import time

import keras
import numpy as np

from studio.checksum import sha256_file
from studio.inference import FINAL_MODEL, LABELS
from studio.models.vit import build_vit
from studio.presets import make_config
from studio.store import Run, RunStore

DIGITS = [str(d) for d in range(10)]
CIFAR10 = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def make_sample_run(
    store: RunStore,
    *,
    preset: str = "tiny",
    variant: str = "spt-lsa",
    seed: int = 0,
    test: dict | None = None,
) -> Run:
    """A completed run whose model the studio wrote; `preset` is "tiny" or "keras-example"."""
    if preset == "tiny":
        cfg = make_config("cpu-quick", "digits", variant, {"train.epochs": "1"})
        cfg.model = dataclasses.replace(
            cfg.model,
            image_size=16,
            patch_size=4,
            projection_dim=16,
            depth=1,
            num_heads=2,
            key_dim=8,
            mlp_units=[32, 16],
            head_units=[16],
        )
        names, input_size, dataset = DIGITS, 32, "digits"
    elif preset == "keras-example":
        cfg = make_config("keras-example", "cifar10", variant, {"train.epochs": "1"})
        names, input_size, dataset = CIFAR10, 32, "cifar10"
    else:
        raise ValueError(f"preset={preset!r} must be 'tiny' or 'keras-example'")
    keras.utils.set_random_seed(seed)
    model = build_vit(
        cfg.model,
        cfg.augment,
        num_classes=len(names),
        input_shape=(input_size, input_size, 3),
        mean=[120.0, 115.0, 105.0],
        variance=[4000.0, 3800.0, 4200.0],
        seed=seed,
    )
    run = store.create_run({**cfg.to_dict(), "preset": f"sample-{preset}"})
    folder = store.run_dir(run.id)
    model.save(folder / FINAL_MODEL)
    labels = {"class_names": names, "input_size": input_size, "dataset": dataset}
    (folder / LABELS).write_text(json.dumps(labels, indent=2))
    now = time.time()
    store.update(
        run.id,
        status="completed",
        started_at=now,
        finished_at=now,
        epochs_done=cfg.train.epochs,
        num_classes=len(names),
        device="cpu (untrained sample)",
        model_sha256=sha256_file(folder / FINAL_MODEL),
        test=test if test is not None else {},
    )
    return store.get(run.id)


def sample_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Random uint8 images (n, size, size, 3) for benchmarks."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
