"""Seconds from `python -m studio train` to the first metric row, for the note in issue 3.

Usage: python bench/first_metric_latency.py [--repeats 2] [-- extra train flags]
Runs in a temporary STUDIO_HOME; prints one line per repeat and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one(extra: list[str]) -> dict:
    from studio.runs.store import RunStore

    home = Path(tempfile.mkdtemp()) / "studio-home"
    env = {**os.environ, "STUDIO_HOME": str(home)}
    args = ["--dataset", "digits", "--preset", "cpu-quick", "--epochs", "1", *extra]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "train", *args, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    queued = time.perf_counter() - start
    run_id = json.loads(proc.stdout)["id"]
    os.environ["STUDIO_HOME"] = str(home)
    store = RunStore(home)
    running = None
    while True:
        run = store.get(run_id)
        if running is None and run.status == "running":
            running = time.perf_counter() - start
        rows = store.metrics(run_id, kind="step")
        if rows:
            first = time.perf_counter() - start
            break
        if run.status in ("failed", "interrupted"):
            raise SystemExit(f"run {run.status}: {run.reason}")
        time.sleep(0.05)
    store.request_stop(run_id)
    return {"queued_s": queued, "running_s": running, "first_row_s": first}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    results = []
    for i in range(args.repeats):
        r = one(extra)
        results.append(r["first_row_s"])
        print(
            f"repeat {i + 1}: train returned after {r['queued_s']:.2f} s, running after "
            f"{r['running_s'] or float('nan'):.2f} s, "
            f"first metric row after {r['first_row_s']:.2f} s"
        )
    print(f"median seconds to first metric row: {statistics.median(results):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
