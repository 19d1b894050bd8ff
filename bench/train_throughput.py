"""Training images/s of a preset on this machine, for each Keras backend installed.

Usage: python bench/train_throughput.py [--preset keras-example] [--backends tensorflow,jax]
Each backend runs in its own process (a process has one Keras backend). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(preset: str, variant: str, batches: int, warmup: int) -> dict:
    import keras
    import numpy as np

    from studio.config import make_config
    from studio.models.vit import build_vit
    from studio.training.compile import compile_model
    from studio.training.feed import ImageBatches

    cfg = make_config(preset=preset, dataset="cifar10", variant=variant)
    keras.utils.set_random_seed(0)
    batch = cfg.train.batch_size
    rng = np.random.default_rng(0)
    n = batch * (batches + warmup)
    # CIFAR-shaped uint8 images: throughput depends on shapes, not on pixel values.
    x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=n)
    model = build_vit(cfg.model, cfg.augment, 10, (32, 32, 3), [128.0] * 3, [4096.0] * 3, seed=0)
    compile_model(model, cfg.train, batches + warmup)
    feed = ImageBatches(x, y, 10, batch, shuffle=True)
    for i in range(warmup):  # compile / trace before timing
        model.train_on_batch(*feed[i])
    start = time.perf_counter()
    for i in range(warmup, warmup + batches):
        model.train_on_batch(*feed[i])
    seconds = time.perf_counter() - start
    return {
        "backend": keras.backend.backend(),
        "preset": preset,
        "variant": variant,
        "batch": batch,
        "params": model.count_params(),
        "images_per_s": batches * batch / seconds,
        "seconds_per_step": seconds / batches,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="keras-example")
    parser.add_argument("--variants", default="vit,spt-lsa")
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        for variant in args.variants.split(","):
            print(json.dumps(measure(args.preset, variant, args.batches, args.warmup)), flush=True)
        return 0
    print(
        f"{'backend':<11} {'variant':<8} {'batch':>5} {'params':>11} {'images/s':>9} {'s/step':>7}"
    )
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend}
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--preset",
            args.preset,
            "--variants",
            args.variants,
            "--batches",
            str(args.batches),
            "--warmup",
            str(args.warmup),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"{backend:<11} failed: {tail[0]}")
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                print(
                    f"{r['backend']:<11} {r['variant']:<8} {r['batch']:>5} {r['params']:>11,} "
                    f"{r['images_per_s']:>9.1f} {r['seconds_per_step']:>7.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
