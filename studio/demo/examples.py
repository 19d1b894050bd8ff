"""A few test images of a run's dataset, as PNG files for the demo and the exported Space.

`python -m studio.demo.examples RUN [--home STUDIO_HOME]` writes them; the demo calls it as a
subprocess (`ensure_examples`) so the Streamlit server never holds a dataset in memory. The
images are the dataset's own decoded pixels at the run's input size, stored losslessly, so an
example decodes to exactly what the model was tested on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from studio.store import RunNotFound, RunStore

MAX_EXAMPLES = 8
INDEX = "index.json"
TIMEOUT_S = 180.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def examples_root(home: Path) -> Path:
    return Path(home) / "demo" / "examples"


def examples_dir(home: Path, run_id: str) -> Path:
    return examples_root(home) / run_id


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "class"


def read_examples(home: Path, run_id: str) -> list[Path] | None:
    """The run's example files, or None when they were never written."""
    folder = examples_dir(home, run_id)
    try:
        index = json.loads((folder / INDEX).read_text())
    except (OSError, ValueError):
        return None
    files = [folder / name for name in index.get("files", []) if "/" not in name]
    return [f for f in files if f.is_file()]


def write_examples(store: RunStore, run_id: str, max_images: int = MAX_EXAMPLES) -> list[Path]:
    """Pick up to `max_images` test images, one per class first, and write them as PNGs."""
    from studio.config import RunConfig
    from studio.datasets import load_dataset
    from studio.paths import dataset_cache_dir

    run = store.get(run_id)
    cfg = RunConfig.from_dict(run.config)
    folder = examples_dir(store.home, run.id)
    files: list[str] = []
    reason = None
    try:
        data = load_dataset(
            cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
        )
        x, y = data.x_test, data.y_test
        if len(y) == 0:
            x, y = data.x_val, data.y_val
        picks = _pick(np.asarray(y), max_images)
    except Exception as err:  # no examples is fine; the reason goes into the index
        picks, reason = [], f"{type(err).__name__}: {err}"
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n, i in enumerate(picks):
        name = f"{n:02d}-{_slug(data.class_names[int(y[i])])}.png"
        Image.fromarray(np.asarray(x[i], dtype=np.uint8)).save(tmp / name)
        files.append(name)
    (tmp / INDEX).write_text(json.dumps({"run": run.id, "files": files, "reason": reason}))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote them meanwhile: theirs are as good
        shutil.rmtree(tmp, ignore_errors=True)
    return read_examples(store.home, run.id) or []


def _pick(labels: np.ndarray, max_images: int) -> list[int]:
    """Indices: the first image of each class (by class), then more, up to max_images."""
    first: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        first.setdefault(int(label), i)
    picks = [first[label] for label in sorted(first)][:max_images]
    taken = set(picks)
    rest = [i for i in range(len(labels)) if i not in taken]
    return picks + rest[: max_images - len(picks)]


def ensure_examples(store: RunStore, run_id: str, timeout_s: float = TIMEOUT_S) -> list[Path]:
    """The run's examples, written by a subprocess the first time; [] when there are none."""
    found = read_examples(store.home, run_id)
    if found is not None:
        return found
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    command = [sys.executable, "-m", "studio.demo.examples", run_id, "--home", str(store.home)]
    try:
        subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return []
    return read_examples(store.home, run_id) or []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.demo.examples")
    parser.add_argument("run", help="run id, unique prefix or number")
    parser.add_argument("--home", type=Path, help="STUDIO_HOME (default: the environment's)")
    args = parser.parse_args(argv)
    try:
        files = write_examples(RunStore(args.home), args.run)
    except RunNotFound as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(files)} example(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
