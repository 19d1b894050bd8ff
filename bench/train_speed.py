"""Training speed of the studio's presets on this machine, for each backend and speed lever.

Usage: python bench/train_speed.py [--presets keras-example,paper] [--backends auto]
           [--arms float32/keras,float32/bytes,...] [--steps 2] [--rounds 3]

An arm is a preset, a backend and three levers, written precision/dropout[/xla]: the
precision (float32 or bfloat16, mixed), the dropout's random draws (`keras`: one 32-bit
number per element as keras.layers.Dropout draws them; `bytes`: the studio's ByteDropout,
one byte per element) and XLA (TensorFlow only; JAX always compiles with it). Each arm
trains the studio's own model and optimizer (`build_model` + `compile_model`, as the
trainer does) on CIFAR-shaped random uint8 images
in its own process (a process has one backend and one global dtype policy). The baseline
arm stays warm while each other arm is started, warmed up, then timed in turns with it,
`--rounds` times `--steps` train steps each, so that a machine that gets busier or quieter
mid-run weighs on both sides of each ratio alike.
Prints, per arm: median images/s, seconds per CIFAR epoch (45,000 training images), peak
memory (the process's resident set on CPU; the device's peak on a GPU), and the ratio to the
first arm (by default float32, Keras' dropout, no XLA: the published Keras example's own
speed): the median of that arm's and each other arm's turns taken side by side. `*` marks the arm
the studio picks by itself on this machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CIFAR_TRAIN_IMAGES = 45_000  # 50,000 less the studio's 10 % validation split


def _child(arm: dict, steps: int) -> None:
    """Build, warm up, then time `steps` train steps each time the parent writes a line."""
    import keras
    import numpy as np

    from studio.config import make_config
    from studio.models.build import ModelInputs, build_model
    from studio.training import precision
    from studio.training.compile import compile_model
    from studio.training.feed import ImageBatches
    from studio.training.speed import execution_plan

    policy = precision.apply(arm["precision"])
    cfg = make_config(preset=arm["preset"], dataset="cifar10", variant=arm["variant"])
    keras.utils.set_random_seed(0)
    batch = cfg.train.batch_size
    n = batch * max(steps, 2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=n)
    model = build_model(cfg, ModelInputs(10, (32, 32, 3), [128.0] * 3, [4096.0] * 3))
    plan = execution_plan()
    if arm["xla"] != "auto":
        plan = dataclasses.replace(plan, jit_compile=arm["xla"] == "on")
    compile_model(model, cfg.train, 1000, plan)
    # Timed through `fit`, as the trainer trains: the same feed, steps per call and callbacks
    # machinery (a few milliseconds per call, paid by every arm alike).
    feed = ImageBatches(x, y, 10, batch, shuffle=True, mixup=cfg.augment.mixup)
    start = time.perf_counter()
    model.fit(feed, epochs=1, steps_per_epoch=2, verbose=0)  # trace / compile
    ready = {"warmup_s": time.perf_counter() - start, "policy": policy}
    print("READY " + json.dumps(ready), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        start = time.perf_counter()
        model.fit(feed, epochs=1, steps_per_epoch=steps, verbose=0)
        seconds = (time.perf_counter() - start) / steps
        print("TIMED " + json.dumps({"s_step": seconds, "batch": batch}), flush=True)
    print("PEAK " + json.dumps({"bytes": _peak_bytes()}), flush=True)


def _peak_bytes() -> int:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return int((device.memory_stats() or {}).get("peak_bytes_in_use", 0))
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _installed_backends() -> list[str]:
    import importlib.util

    found = [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b)]
    if "jax" in found:
        # JAX on a CPU is far slower than TensorFlow here (see the note); by default it is
        # measured only where it has a GPU, which is where the studio uses it.
        probe = subprocess.run(
            [sys.executable, "-c", "import jax; print(jax.default_backend())"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "cpu" and "tensorflow" in found:
            found.remove("jax")
    return found


def _studio_pick(backend: str) -> dict:
    """The precision and XLA setting the trainer picks itself on this machine."""
    code = (
        "import json; from studio.training import precision; "
        "from studio.training.speed import execution_plan; "
        "print(json.dumps({'policy': precision.resolve('auto'), "
        "'xla': execution_plan().jit_compile}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}


def _start(arm: dict, steps: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "KERAS_BACKEND": arm["backend"],
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "STUDIO_DROPOUT": arm["dropout"],
    }
    return subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(arm), "--steps", str(steps)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def _read(proc: subprocess.Popen, tag: str) -> dict:
    for line in proc.stdout:
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1 :])
    err = proc.stderr.read().strip().splitlines()
    raise RuntimeError(err[-1] if err else f"child exited with {proc.wait()}")


def _turn(proc: subprocess.Popen) -> dict:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return _read(proc, "TIMED")


def _finish(arm: dict, proc: subprocess.Popen) -> None:
    try:
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        arm["peak_bytes"] = _read(proc, "PEAK")["bytes"]
    except (OSError, RuntimeError) as exc:
        arm.setdefault("error", str(exc))
    proc.wait()


def _measure_preset(arms: list[dict], steps: int, rounds: int) -> list[dict]:
    """Time every arm in turns against the first (the baseline), two processes at a time.

    Two at a time because one process of the keras-example preset holds several GiB of
    attention matrices; the baseline stays warm throughout, so each arm's ratio comes from
    turns taken side by side.
    """
    base, others = arms[0], arms[1:]
    base_proc = _start(base, steps)
    try:
        base.update(_read(base_proc, "READY"))
    except RuntimeError as exc:
        base["error"] = str(exc)
        return arms
    for arm in others:
        proc = _start(arm, steps)
        try:
            arm.update(_read(proc, "READY"))
            for _ in range(rounds):
                before = _turn(base_proc)["s_step"]
                timed = _turn(proc)
                arm.setdefault("s_step", []).append(timed["s_step"])
                arm.setdefault("ratios", []).append(before / timed["s_step"])
                base.setdefault("s_step", []).append(before)
                arm["batch"] = base["batch"] = timed["batch"]
        except (OSError, RuntimeError) as exc:
            arm["error"] = str(exc)
            proc.kill()
        _finish(arm, proc)
    if not others:
        for _ in range(rounds):
            timed = _turn(base_proc)
            base.setdefault("s_step", []).append(timed["s_step"])
            base["batch"] = timed["batch"]
    base["ratios"] = [1.0]
    _finish(base, base_proc)
    return arms


def _table(arms: list[dict], picks: dict) -> None:
    print(
        f"  {'preset':<14}{'backend':<11}{'precision':<10}{'dropout':<8}{'xla':<5}{'images/s':>9}"
        f"{'s/epoch':>9}{'peak MiB':>9}{'vs f32':>8}{'warm-up s':>10}"
    )
    for preset, group in itertools.groupby(arms, key=lambda a: a["preset"]):
        for arm in group:
            pick = picks.get(arm["backend"], {})
            mark = (
                "*"
                if pick
                and pick.get("policy") == arm.get("policy")
                and pick.get("xla") == (arm["xla"] == "on")
                and arm["dropout"] == "bytes"
                else " "
            )
            head = (
                f"{mark} {preset:<14}{arm['backend']:<11}{arm['precision']:<10}"
                f"{arm['dropout']:<8}{arm['xla']:<5}"
            )
            if "s_step" not in arm or "peak_bytes" not in arm:
                print(head + f"failed: {arm.get('error', '?')[:80]}")
                continue
            ips = arm["batch"] / statistics.median(arm["s_step"])
            ratio = statistics.median(arm["ratios"])
            print(
                head + f"{ips:>9.1f}{CIFAR_TRAIN_IMAGES / ips:>9.0f}"
                f"{arm['peak_bytes'] / 2**20:>9.0f}{ratio:>7.2f}x{arm['warmup_s']:>10.1f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="keras-example,paper")
    parser.add_argument("--variant", default="spt-lsa")
    parser.add_argument("--backends", default="auto", help="comma list, or auto")
    parser.add_argument(
        "--arms",
        default="float32/keras,float32/bytes,bfloat16/keras,bfloat16/bytes,bfloat16/bytes/xla",
        help="precision/dropout[/xla] per arm; the first is the baseline",
    )
    parser.add_argument("--steps", type=int, default=2, help="train steps per timed turn")
    parser.add_argument("--rounds", type=int, default=3, help="timed turns per arm")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child), args.steps)
        return 0
    backends = _installed_backends() if args.backends == "auto" else args.backends.split(",")
    picks = {b: _studio_pick(b) for b in backends}
    print(
        f"train speed, {args.variant}, {args.rounds} turns of {args.steps} steps per arm; "
        f"cpu count {os.cpu_count()}; studio picks: {picks}"
    )
    arms = []
    for preset in args.presets.split(","):
        group = []
        for backend in backends:
            for lever in args.arms.split(","):
                precision, dropout, *xla = lever.split("/")
                if backend != "tensorflow" and xla:
                    continue  # JAX always compiles with XLA: one arm per precision/dropout
                group.append(
                    {
                        "preset": preset,
                        "variant": args.variant,
                        "backend": backend,
                        "precision": precision,
                        "dropout": dropout,
                        "xla": "on" if xla or backend != "tensorflow" else "off",
                    }
                )
        arms.extend(_measure_preset(group, args.steps, args.rounds))
        _table([a for a in arms if a["preset"] == preset], picks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
