"""A dataset from a folder of class subfolders (also how TF Flowers is read once extracted).

Split rule: a split that has its own folder (train/, val/, test/) is used as given; a missing
val or test split is carved from the training images, stratified and seeded, by
`val_fraction` / `test_fraction`. A flat folder (no train/) is carved into all three the
same way, so both fractions are shares of all its images. Given test images are never
used for anything but testing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from studio.datasets.dataset import SPLITS, Dataset, build_dataset
from studio.datasets.decoding import Progress, decode_files
from studio.datasets.errors import DatasetError
from studio.datasets.scan import FolderSummary, scan_folder
from studio.datasets.splits import stratified_partition


def load_folder(
    path: str | Path,
    *,
    name: str,
    input_size: int,
    val_fraction: float,
    test_fraction: float,
    limit: int | None,
    seed: int,
    cache_dir: Path | None,
    progress: Progress | None = None,
    source: str | None = None,
) -> Dataset:
    """Decode every image under `path` to (input_size, input_size) and split it.

    Raises DatasetError when the folder breaks a rule (fewer than 2 classes, a class without
    decodable images, ...). Files that do not decode are reported, not fatal.
    """
    summary = scan_folder(path)
    if summary.problems:
        raise DatasetError("; ".join(summary.problems))
    splits, classes = [], []
    paths: list[Path] = []
    for split, per_class in summary.files.items():
        for label, class_name in enumerate(summary.class_names):
            found = per_class.get(class_name, [])
            paths += found
            splits += [split] * len(found)
            classes += [label] * len(found)
    decoded = decode_files(
        paths, input_size, cache_dir, cache_name=_cache_name(summary.root), progress=progress
    )
    split_of = np.array(splits)[decoded.kept]
    labels = np.array(classes, dtype=np.int64)[decoded.kept]
    training = summary.training_split
    _require_decodable_classes(summary, labels[split_of == training], decoded.skipped)

    rng = np.random.default_rng([seed, 0])
    pool = np.flatnonzero(split_of == training)
    carve_val = "val" not in summary.split_dirs
    carve_test = "test" not in summary.split_dirs
    fractions = [val_fraction if carve_val else 0.0, test_fraction if carve_test else 0.0]
    train_i, val_i, test_i = (pool[p] for p in stratified_partition(labels[pool], fractions, rng))
    if not carve_val:
        val_i = np.flatnonzero(split_of == "val")
    if not carve_test:
        test_i = np.flatnonzero(split_of == "test")
    chosen = {"train": train_i, "val": val_i, "test": test_i}
    return build_dataset(
        {split: (decoded.images[i], labels[i]) for split, i in chosen.items()},
        class_names=summary.class_names,
        name=name,
        input_size=input_size,
        source=source or _describe(summary),
        limit=limit,
        seed=seed,
        skipped=decoded.skipped + summary.unsupported,
        notes=summary.notes + _split_notes(summary, carve_val, carve_test, fractions, seed),
    )


def _cache_name(root: Path) -> str:
    # Readable prefix for people browsing the cache, hashed path so two folders never collide.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return f"folder-{re.sub(r'[^A-Za-z0-9_.-]+', '_', root.name)}-{digest}"


def _require_decodable_classes(
    summary: FolderSummary, train_labels: np.ndarray, skipped: list[tuple[str, str]]
) -> None:
    counts = np.bincount(train_labels, minlength=len(summary.class_names))
    train_dir = summary.split_dirs[summary.training_split]
    for label in np.flatnonzero(counts == 0):
        folder = train_dir / summary.class_names[label]
        reasons = [(p, r) for p, r in skipped if Path(p).is_relative_to(folder)]
        example = f"; e.g. {Path(reasons[0][0]).name}: {reasons[0][1]}" if reasons else ""
        raise DatasetError(
            f"class folder {folder} has no decodable images "
            f"({len(reasons)} file(s) skipped{example})"
        )


def _describe(summary: FolderSummary) -> str:
    if summary.layout == "flat":
        return f"folder {summary.root} (class folders, no split folders)"
    given = ", ".join(f"{summary.split_dirs[s].name}/" for s in SPLITS if s in summary.split_dirs)
    return f"folder {summary.root} (split folders {given})"


def _split_notes(
    summary: FolderSummary, carve_val: bool, carve_test: bool, fractions: list[float], seed: int
) -> list[str]:
    pool = "all images" if summary.layout == "flat" else f"{summary.split_dirs['train'].name}/"
    notes = []
    for split, carved, fraction in (
        ("val", carve_val, fractions[0]),
        ("test", carve_test, fractions[1]),
    ):
        if carved:
            notes.append(f"{split}: {fraction:.0%} of {pool}, stratified, seed {seed}")
        else:
            notes.append(f"{split}: as given in {summary.split_dirs[split].name}/")
    return notes
