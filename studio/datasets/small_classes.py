"""Classes too small for a stratified split: which carved split gets none of their images, and
the smallest class that reaches every split. Asked before training (pre-flight, dataset card),
so a class of one image does not train silently with nothing in validation or test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from studio.datasets.scan import FolderSummary
from studio.datasets.splits import stratified_partition

_WORDS = {"val": "validation", "test": "test"}
_LISTED = 6
_CEILING = 1_000_000


def carved_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Images a class of `n` gives each carved part, by the split's own rule."""
    parts = stratified_partition(np.zeros(n, np.int64), fractions, np.random.default_rng(0))
    return [len(p) for p in parts[1:]]


def min_class_size(fractions: Sequence[float]) -> int:
    """The fewest images a class needs for every part with a fraction > 0 to get one."""
    wanted = [f > 0 for f in fractions]
    # round(n * f) >= 1 needs n >= 0.5 / f; the loop then finds where training's one is kept.
    n = max(1, int(0.5 / min((f for f in fractions if f > 0), default=1.0)))
    while n < _CEILING:
        if all(k > 0 for k, w in zip(carved_sizes(n, fractions), wanted, strict=True) if w):
            return n
        n += 1
    return _CEILING


def small_classes_warning(counts: Mapping[str, int], carved: Mapping[str, float]) -> str | None:
    """A sentence naming the classes that some carved split gets no image of, or None.

    Args:
        counts: class name -> images it has in the pool the splits are carved from.
        carved: split (`val`, `test`) -> the fraction carved from each class.
    """
    splits = [s for s, f in carved.items() if f > 0]
    fractions = [carved[s] for s in splits]
    if not splits:
        return None
    short = []
    for name, n in counts.items():
        if n < 1:
            continue  # an empty class is the folder scan's problem
        sizes = carved_sizes(n, fractions)
        missing = [_WORDS[s] for s, k in zip(splits, sizes, strict=True) if k == 0]
        if missing:
            short.append(
                f"{name} ({n} image{'s' if n != 1 else ''}: no {' and no '.join(missing)})"
            )
    if not short:
        return None
    more = f" and {len(short) - _LISTED} more" if len(short) > _LISTED else ""
    shares = " and ".join(f"{_WORDS[s]} {carved[s]:.0%}" for s in splits)
    return (
        f"{len(short)} class(es) too small for the split: {', '.join(short[:_LISTED])}{more}. "
        f"With {shares} of each class held out, a class needs at least "
        f"{min_class_size(fractions)} images to appear in every split: add images, or give "
        "val/ and test/ folders of your own"
    )


def folder_small_classes(
    summary: FolderSummary, val_fraction: float, test_fraction: float
) -> str | None:
    """`small_classes_warning` for a scanned folder: only the splits it has no folder for are
    carved, from its training pool."""
    asked = (("val", val_fraction), ("test", test_fraction))
    carved = {s: f for s, f in asked if s not in summary.split_dirs}
    return small_classes_warning(summary.counts.get(summary.training_split, {}), carved)
