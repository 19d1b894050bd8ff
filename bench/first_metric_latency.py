"""Seconds from `python -m studio train` to the first metric row, warm spare and cold.

Usage: python bench/first_metric_latency.py [--starts 5] [--mode both|warm|cold] [-- train flags]

Each start runs `python -m studio train --dataset digits --preset cpu-quick --epochs 1` in a
temporary STUDIO_HOME (one per mode, kept across its starts), waits for the run's first step
row, prints the phases its worker logged (seconds after the command started: the CLI's return,
the worker's interpreter up or the spare's hand-off, the framework imported, data + model ready
and `fit` begun, the first step traced and run, the first row written), then stops the run and
waits for its process to exit. "warm" starts go to a spare worker that is ready (the bench
waits for one before each start); "cold" starts run with STUDIO_WARM_WORKER=0. Modes alternate
start by start, so machine load falls on both alike. Ends with the median and worst per mode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio.runs import launcher, phases, procs, spare  # noqa: E402
from studio.runs.artifacts import WORKER_LOG  # noqa: E402
from studio.runs.paths import spool_dir  # noqa: E402
from studio.runs.store import TERMINAL, RunStore  # noqa: E402

TRAIN = ["--dataset", "digits", "--preset", "cpu-quick", "--epochs", "1"]
SHOWN = ("python-up", "handed-over", "framework-imported", "fit-begins", "first-step")
TIMEOUT_S = 300.0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def spare_ready(home: Path) -> bool:
    """An idle spare whose log says its framework is imported."""
    idle = spare.spare_status(home)["idle"]
    if not idle:
        return False
    try:
        log = (spool_dir(home) / spare.LOG).read_text(errors="replace")
    except OSError:
        return False
    return any(re.search(rf"^\[spare {pid}\] ready", log, re.M) for pid in idle)


def start(home: Path, env: dict[str, str], extra: list[str]) -> dict:
    store = RunStore(home)
    began = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "train", *TRAIN, *extra, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    returned = time.time() - began
    run_id = json.loads(proc.stdout)["id"]

    def first_row():
        run = store.get(run_id)
        if run.status in ("failed", "interrupted"):
            raise SystemExit(f"run {run_id} {run.status}: {run.reason}")
        return store.metrics(run_id, kind="step")

    rows = wait_for(first_row, TIMEOUT_S, f"the first metric row of {run_id}")
    first = rows[0]["time"] - began
    store.request_stop(run_id)
    wait_for(lambda: store.get(run_id).status in TERMINAL, TIMEOUT_S, f"{run_id} to stop")
    run = store.get(run_id)  # and its process to exit, so it takes no CPU from the next start
    wait_for(lambda: not procs.is_alive(run.pid, run.pid_start), TIMEOUT_S, f"{run_id} to exit")
    marks = {name: at - began for name, at in phases.read(store.run_dir(run_id) / WORKER_LOG)}
    return {"returned": returned, "first_row": first, "phases": marks}


def describe(result: dict) -> str:
    marks = result["phases"]
    path = "warm" if "handed-over" in marks else "cold"
    parts = [f"cli returned {result['returned']:.1f}"]
    parts += [f"{name} {marks[name]:.1f}" for name in SHOWN if name in marks]
    parts.append(f"first row {result['first_row']:.1f} s")
    return f"[{path}] " + ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="starts per mode (default 5)")
    parser.add_argument("--mode", choices=("both", "warm", "cold"), default="both")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    modes = ("cold", "warm") if args.mode == "both" else (args.mode,)
    root = Path(tempfile.mkdtemp(prefix="first-metric-"))
    homes = {mode: root / mode for mode in modes}
    envs = {
        mode: {**os.environ, "STUDIO_HOME": str(homes[mode]), "STUDIO_WARM_WORKER": "1"}
        for mode in modes
    }
    if "cold" in envs:
        envs["cold"]["STUDIO_WARM_WORKER"] = "0"
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    try:
        for i in range(args.starts):
            for mode in modes:
                if mode == "warm":
                    os.environ.update(envs["warm"])  # spare.ensure reads the environment
                    homes["warm"].mkdir(parents=True, exist_ok=True)
                    # As the Train page does: the spare gets a worker's environment.
                    launcher.warm_up(RunStore(homes["warm"]))
                    wait_for(lambda: spare_ready(homes["warm"]), TIMEOUT_S, "a ready spare")
                result = start(homes[mode], envs[mode], extra)
                results[mode].append(result)
                print(f"{mode} start {i + 1}: {describe(result)}", flush=True)
    finally:
        if "warm" in homes:
            spare.stop_spares(homes["warm"])
        shutil.rmtree(root, ignore_errors=True)
    for mode in modes:
        seconds = [r["first_row"] for r in results[mode]]
        went_warm = sum("handed-over" in r["phases"] for r in results[mode])
        print(
            f"{mode}: seconds to the first metric row over {len(seconds)} starts: "
            f"median {statistics.median(seconds):.1f}, worst {max(seconds):.1f}"
            + (f" ({went_warm} handed to a spare)" if mode == "warm" else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
