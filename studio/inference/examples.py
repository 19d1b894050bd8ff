"""A few test images of a run's dataset, as PNG files for the demo and the exported Space.

Writing them loads the run's dataset, so the Streamlit server asks the inference worker
(`InferenceClient.examples`) and the CLI writes them in its own process (`ensure_examples`).
The images are the dataset's own decoded pixels at the run's input size, stored losslessly,
so an example decodes to exactly what the model was tested on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from studio.config.schema import RunConfig
from studio.datasets.loader import load_caption_dataset, load_dataset
from studio.runs.artifacts import EXAMPLES_INDEX, examples_dir, read_examples
from studio.runs.paths import dataset_cache_dir
from studio.runs.store import RunStore

MIN_EXAMPLES = 8  # a dataset of few classes still gets this many
# One per class up to this many classes (CIFAR-100 shows its first 20 classes' examples).
MAX_CLASSES_SHOWN = 20


def examples_wanted(classes: int) -> int:
    """How many examples a run of `classes` classes gets: one per class, within the bounds."""
    return max(MIN_EXAMPLES, min(classes, MAX_CLASSES_SHOWN))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "class"


def write_examples(store: RunStore, run_id: str, max_images: int | None = None) -> list[Path]:
    """Pick test images, one per class first (`examples_wanted`, or `max_images`; a caption
    run's first MIN_EXAMPLES, named by their first true caption), and write them as PNGs."""
    run = store.get(run_id)
    cfg = RunConfig.from_dict(run.config)
    folder = examples_dir(store.home, run.id)
    files: list[str] = []
    reason = None
    try:
        if cfg.task == "caption":
            x, names = _caption_examples(store, cfg, max_images or MIN_EXAMPLES)
            picks = list(range(len(x)))
        else:
            data = load_dataset(
                cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
            )
            x, y = data.x_test, data.y_test
            if len(y) == 0:
                x, y = data.x_val, data.y_val
            wanted = max_images or examples_wanted(len(data.class_names))
            picks = _pick(np.asarray(y), wanted)
            names = [data.class_names[int(label)] for label in y]
    except Exception as err:  # no examples is fine; the reason goes into the index
        picks, reason = [], f"{type(err).__name__}: {err}"
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for n, i in enumerate(picks):
        name = f"{n:02d}-{_slug(names[i])}.png"
        Image.fromarray(np.asarray(x[i], dtype=np.uint8)).save(tmp / name)
        files.append(name)
    (tmp / EXAMPLES_INDEX).write_text(json.dumps({"run": run.id, "files": files, "reason": reason}))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote them meanwhile: theirs are as good
        shutil.rmtree(tmp, ignore_errors=True)
    return read_examples(store.home, run.id) or []


def _caption_examples(store: RunStore, cfg: RunConfig, wanted: int) -> tuple[np.ndarray, list]:
    """A caption run's first `wanted` test images (validation ones if it has no test split)
    and the first true caption of each."""
    data = load_caption_dataset(
        cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
    )
    x, captions = data.x_test, data.captions_test
    if len(x) == 0:
        x, captions = data.x_val, data.captions_val
    return x[:wanted], [c[0] for c in captions[:wanted]]


def _pick(labels: np.ndarray, max_images: int) -> list[int]:
    """Indices: the first image of each class (by class), then more, up to max_images."""
    first: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        first.setdefault(int(label), i)
    picks = [first[label] for label in sorted(first)][:max_images]
    taken = set(picks)
    rest = [i for i in range(len(labels)) if i not in taken]
    return picks + rest[: max_images - len(picks)]


def ensure_examples(store: RunStore, run_id: str) -> list[Path]:
    """The run's examples, written in this process the first time; [] when there are none."""
    found = read_examples(store.home, run_id)
    return found if found is not None else write_examples(store, run_id)
