"""The in-memory dataset every loader returns, and the report of how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.datasets.splits import stratified_subset

SPLITS = ("train", "val", "test")


@dataclass
class DatasetReport:
    """How a dataset was assembled, for the run folder and the UI.

    Args:
        source: where the images came from and how the splits were made, in words.
        class_counts: split -> class name -> number of images.
        skipped: (path, reason) for every file that was left out.
        notes: anything else worth knowing (splits carved, limit applied, folders ignored).
        split: how the splits were made, for programs (a model card): see `split_info`.
    """

    source: str
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (skipped entries as {"path", "reason"} objects)."""
        return {
            "source": self.source,
            "class_counts": self.class_counts,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "notes": list(self.notes),
            "split": dict(self.split),
        }


def split_info(
    *,
    seed: int,
    method: str = "stratified",
    given: tuple[str, ...] | list[str] = (),
    fractions: dict[str, float] | None = None,
    group_by: str | None = None,
    groups: dict[str, int] | None = None,
    shared_groups: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The report's `split` field.

    Args:
        seed: seeds the carving.
        method: `stratified` (each class cut in the same proportions) or `grouped` (each
            group of `group_by` whole in one split, classes stratified by group).
        given: splits the source provides itself (e.g. `["test"]`), never re-cut.
        fractions: split -> the share asked for each carved split.
        group_by: the group key (`data.group_by`), None when not grouped.
        groups: split -> number of distinct groups in it (grouped only).
        shared_groups: `"train/test"` -> groups found in both, for every pair of splits
            (grouped only; 0 for carved pairs, by construction; a given split may share).
    """
    return {
        "method": method,
        "seed": seed,
        "given": list(given),
        "fractions": dict(fractions or {}),
        "group_by": group_by,
        "groups": groups,
        "shared_groups": shared_groups,
    }


@dataclass
class Dataset:
    """Train / val / test images as uint8 (N, S, S, 3) arrays with int64 (N,) labels.

    `val` or `test` may hold zero images when their fraction is 0.
    """

    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    class_names: list[str]
    name: str
    input_size: int
    report: DatasetReport

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of `train`, `val` or `test`."""
        if name not in SPLITS:
            raise ValueError(f"split={name!r} must be one of {', '.join(SPLITS)}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def build_dataset(
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    class_names: list[str],
    name: str,
    input_size: int,
    source: str,
    limit: int | None,
    seed: int,
    skipped: list[tuple[str, str]] | None = None,
    notes: list[str] | None = None,
    split_record: dict[str, Any] | None = None,
) -> Dataset:
    """Apply the training-image limit, shuffle each split with `seed`, count classes.

    `split_record` is the report's structured account of the split (`split_info`); without it the
    split is recorded as stratified and seeded, as the built-in loaders make it."""
    rng = np.random.default_rng([seed, 1])
    notes = list(notes or [])
    x_train, y_train = splits["train"]
    if limit is not None and len(y_train) > limit:
        keep = stratified_subset(y_train, limit, rng)
        notes.append(f"limit={limit}: kept {limit} of {len(y_train)} training images (stratified)")
        x_train, y_train = x_train[keep], y_train[keep]
    arrays: dict[str, np.ndarray] = {}
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        x, y = (x_train, y_train) if split == "train" else splits[split]
        # Loaders hand splits over grouped by class; shuffled, any prefix is a fair sample.
        order = rng.permutation(len(y))
        arrays[f"x_{split}"] = np.ascontiguousarray(x[order], dtype=np.uint8)
        arrays[f"y_{split}"] = np.asarray(y, dtype=np.int64)[order]
        per_class = np.bincount(arrays[f"y_{split}"], minlength=len(class_names))
        counts[split] = {c: int(n) for c, n in zip(class_names, per_class, strict=True)}
    report = DatasetReport(
        source=source,
        class_counts=counts,
        skipped=list(skipped or []),
        notes=notes,
        split=split_record if split_record is not None else split_info(seed=seed),
    )
    return Dataset(
        **arrays, class_names=list(class_names), name=name, input_size=input_size, report=report
    )
