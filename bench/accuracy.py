"""Test top-1 and wall time of a named recipe on a named dataset, trained as the studio trains.

Usage: python bench/accuracy.py --preset cpu-best --dataset ../shared/data/cifar10-mini
           [--model spt-lsa] [--set FIELD=VALUE ...] [--home DIR]

The dataset is a built-in name (cifar10, cifar100, tf_flowers, digits) or a folder path. The
run goes through `python -m studio train` (the studio's own worker process) in a temporary
STUDIO_HOME unless --home names one; wall time counts from the command to the test metrics,
start-up and evaluation included. Prints the run's validation curve and one summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILTIN = ("cifar10", "cifar100", "tf_flowers", "digits")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--dataset", required=True, help="a built-in name or a folder path")
    parser.add_argument("--model", help="variant (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--home", help="STUDIO_HOME to train in (default: a temporary one)")
    args = parser.parse_args()

    dataset = args.dataset
    if dataset not in BUILTIN:
        folder = Path(dataset).expanduser().resolve()
        if not folder.is_dir():
            print(f"--dataset {dataset}: neither a built-in dataset nor a folder", file=sys.stderr)
            return 2
        dataset = f"folder:{folder}"
    home = Path(args.home or tempfile.mkdtemp(prefix="accuracy-")) / "studio-home"
    env = {**os.environ, "STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "studio", "train", "--dataset", dataset, "--preset", args.preset]
    if args.model:
        cmd += ["--model", args.model]
    for item in args.set:
        cmd += ["--set", item]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--json"], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr.strip() or proc.stdout.strip(), file=sys.stderr)
        return proc.returncode
    run_id = json.loads(proc.stdout)["id"]

    os.environ["STUDIO_HOME"] = str(home)
    from studio.runs.store import TERMINAL, RunStore

    store = RunStore(home)
    while (run := store.get(run_id)).status not in TERMINAL:
        time.sleep(2)
    wall = time.perf_counter() - start
    nan = float("nan")
    for row in store.metrics(run_id, kind="epoch"):
        loss, val = row.get("loss"), row.get("val_accuracy")
        print(
            f"epoch {row['epoch']:>3}: loss {nan if loss is None else loss:.3f} "
            f"val top-1 {nan if val is None else val:.3f}"
        )
    test = run.test or {}
    print(
        f"{args.preset} on {args.dataset}: {run.status}, test top-1 "
        f"{test.get('accuracy', nan):.4f}, top-5 {test.get('top5', nan):.4f}, "
        f"wall {wall:.0f} s, {run.device}, run {run_id} in {home}"
    )
    return 0 if run.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
