"""A dataset from a folder of class subfolders (also how TF Flowers is read once extracted).

Split rule: a split that has its own folder (train/, val/, test/) is used as given; a missing
val or test split is carved from the training images, stratified and seeded, by
`val_fraction` / `test_fraction`. A flat folder (no train/) is carved into all three the
same way, so both fractions are shares of all its images. Given test images are never
used for anything but testing.

With `group_by` (studio.datasets.grouping), carving keeps every group (a patient, a writer)
whole in one split, classes stratified by group; groups that given split folders share are
reported, not moved.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.datasets.dataset import SPLITS, Dataset, build_dataset, split_info
from studio.datasets.decoding import Progress, decode_files
from studio.datasets.errors import DatasetError
from studio.datasets.grouping import FileGroups, file_groups, split_error
from studio.datasets.scan import FolderSummary, scan_folder
from studio.datasets.splits import (
    GroupedParts,
    GroupSplitError,
    grouped_partition,
    stratified_partition,
)


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
    group_by: str | None = None,
) -> Dataset:
    """Decode every image under `path` to (input_size, input_size) and split it.

    Raises DatasetError when the folder breaks a rule (fewer than 2 classes, a class without
    decodable images, an image without a group, too few groups, ...). Files that do not
    decode are reported, not fatal.
    """
    summary = scan_folder(path)
    if summary.problems:
        raise DatasetError("; ".join(summary.problems))
    keyed = file_groups(group_by, summary) if group_by else None
    splits, classes = [], []
    paths: list[Path] = []
    for split, per_class in summary.files.items():
        for label, class_name in enumerate(summary.class_names):
            found = per_class.get(class_name, [])
            paths += found
            splits += [split] * len(found)
            classes += [label] * len(found)
    # The cache holds decoded pixels only; the split (grouped or not) is made afresh on every
    # load, so neither group_by nor a CSV's contents belong in its key.
    decoded = decode_files(
        paths, input_size, cache_dir, cache_name=_cache_name(summary.root), progress=progress
    )
    split_of = np.array(splits)[decoded.kept]
    labels = np.array(classes, dtype=np.int64)[decoded.kept]
    training = summary.training_split
    _require_decodable_classes(summary, labels[split_of == training], decoded.skipped)

    pool = np.flatnonzero(split_of == training)
    carve_val = "val" not in summary.split_dirs
    carve_test = "test" not in summary.split_dirs
    fractions = [val_fraction if carve_val else 0.0, test_fraction if carve_test else 0.0]
    given = [s for s, carved in (("val", carve_val), ("test", carve_test)) if not carved]
    asked = {s: f for s, f in zip(("val", "test"), fractions, strict=True) if s not in given}
    source = source or _describe(summary)
    if keyed is None:
        rng = np.random.default_rng([seed, 0])
        parts = stratified_partition(labels[pool], fractions, rng)
        record = split_info(seed=seed, given=given, fractions=asked)
        notes = _split_notes(summary, carve_val, carve_test, fractions, seed)
    else:
        groups = np.array([keyed.groups[p] for p in paths], dtype=str)[decoded.kept]
        try:
            grouped = grouped_partition(
                labels[pool], groups[pool], fractions, seed, summary.class_names
            )
        except GroupSplitError as err:
            raise split_error(group_by, keyed, summary, val_fraction, test_fraction, err) from None
        parts = grouped.parts
    train_i, val_i, test_i = (pool[p] for p in parts)
    if not carve_val:
        val_i = np.flatnonzero(split_of == "val")
    if not carve_test:
        test_i = np.flatnonzero(split_of == "test")
    chosen = {"train": train_i, "val": val_i, "test": test_i}
    if keyed is not None:
        record, told, notes = _grouped_account(
            _Grouped(keyed, grouped, groups, labels, len(pool), group_by or ""),
            chosen,
            summary,
            asked,
            seed,
        )
        source = f"{source}; {told}"
    return build_dataset(
        {split: (decoded.images[i], labels[i]) for split, i in chosen.items()},
        class_names=summary.class_names,
        name=name,
        input_size=input_size,
        source=source,
        limit=limit,
        seed=seed,
        skipped=decoded.skipped + summary.unsupported,
        notes=summary.notes + notes,
        split_record=record,
    )


@dataclass
class _Grouped:
    """What a grouped split is reported from: the key, the carving, every image's group."""

    found: FileGroups
    carved: GroupedParts
    groups: np.ndarray
    labels: np.ndarray
    pool_size: int
    group_by: str


def _grouped_account(
    g: _Grouped,
    chosen: dict[str, np.ndarray],
    summary: FolderSummary,
    asked: dict[str, float],
    seed: int,
) -> tuple[dict, str, list[str]]:
    """The report's split record, the source's phrase and the notes of a grouped split."""
    members = {s: set(g.groups[i].tolist()) for s, i in chosen.items()}
    counts = {s: len(members[s]) for s in SPLITS}
    carved = {"train", *asked}
    pool = "all images" if summary.layout == "flat" else f"{summary.split_dirs['train'].name}/"
    notes: list[str] = []
    for split in ("val", "test"):
        if split in asked:
            share = len(chosen[split]) / max(1, g.pool_size)
            notes.append(
                f"{split}: {asked[split]:.0%} of {pool} asked, by group: {counts[split]} "
                f"group(s), {share:.1%} of the images, seed {seed}"
            )
        else:
            notes.append(f"{split}: as given in {summary.split_dirs[split].name}/")
    shared: dict[str, int] = {}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = sorted(members[a] & members[b])
        shared[f"{a}/{b}"] = len(both)
        if both and a in carved and b in carved:
            # Carved splits share no group by construction; if they did, nothing else holds.
            raise DatasetError(f"internal error: carved splits {a} and {b} share groups {both[:3]}")
        if both:
            names = [_where(s, summary, pool) for s in (a, b)]
            notes.append(
                f"WARNING: {len(both)} group(s) are in both {names[0]} and {names[1]} as given "
                f"(e.g. {', '.join(both[:3])}): those folders share people or sources, so "
                f"{b} scores will be optimistic; move each group's images into one folder"
            )
    record = split_info(
        seed=seed,
        method="grouped",
        given=[s for s in ("val", "test") if s not in asked],
        fractions=asked,
        group_by=g.group_by,
        groups=counts,
        shared_groups=shared,
    )
    total = len(set().union(*members.values()))
    per_split = " / ".join(f"{s} {counts[s]}" for s in SPLITS)
    apart = "no group in two splits" if not any(shared.values()) else "see the WARNING notes"
    told = f"split grouped by {g.found.description}: {total} groups, {per_split} groups; {apart}"
    return record, told, notes + _group_notes(g, chosen, summary, asked)


def _where(split: str, summary: FolderSummary, pool: str) -> str:
    if split in summary.split_dirs:
        return f"{summary.split_dirs[split].name}/"
    return f"{split} (carved from {pool})"


def _group_notes(
    g: _Grouped, chosen: dict[str, np.ndarray], summary: FolderSummary, asked: dict[str, float]
) -> list[str]:
    notes = list(g.found.notes)
    names = summary.class_names
    if g.carved.pinned:
        notes.append(
            f"{len(g.carved.pinned)} group(s) are the only group of their class and stay in "
            f"train (e.g. {', '.join(g.carved.pinned[:3])})"
        )
    if g.carved.moved:
        notes.append(
            f"moved group(s) {', '.join(g.carved.moved[:3])} back to train so that every class "
            "keeps training images"
        )
    for split in asked:
        have = set(g.labels[chosen[split]].tolist())
        lacking = [names[c] for c in range(len(names)) if c not in have]
        if lacking and len(chosen[split]):
            notes.append(
                f"{split}: no images of {', '.join(lacking[:5])}"
                + (" ..." if len(lacking) > 5 else "")
            )
    spanning: dict[str, list[str]] = {}
    for group, label in {(str(a), int(b)) for a, b in zip(g.groups, g.labels, strict=True)}:
        spanning.setdefault(group, []).append(names[label])
    several = sorted(k for k, v in spanning.items() if len(v) > 1)
    if several:
        example = several[0]
        notes.append(
            f"{len(several)} group(s) hold images of several classes (e.g. {example}: "
            f"{', '.join(sorted(spanning[example]))}); each still lies whole in one split"
        )
    return notes


def _cache_name(root: Path) -> str:
    # Readable prefix for people browsing the cache, hashed path so two folders never collide.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return f"folder-{re.sub(r'[^A-Za-z0-9_.-]+', '_', root.name)}-{digest}"


def _require_decodable_classes(
    summary: FolderSummary, train_labels: np.ndarray, skipped: list[tuple[str, str]]
) -> None:
    counts = np.bincount(train_labels, minlength=len(summary.class_names))
    # Class names are NFC; the folder keeps the spelling it has on disk.
    folders = summary.class_dirs[summary.training_split]
    for label in np.flatnonzero(counts == 0):
        folder = folders[summary.class_names[label]]
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
