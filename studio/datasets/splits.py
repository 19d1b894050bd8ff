"""Seeded, stratified index splits: every class is cut in the same proportions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_partition(
    labels: np.ndarray, fractions: Sequence[float], rng: np.random.Generator
) -> list[np.ndarray]:
    """Split indices of `labels` into a remainder part followed by one part per fraction.

    Each class contributes round(n * fraction) images to each part, but always keeps at least
    one image in the remainder (the training part), so a class of one image stays trainable.
    Returns sorted index arrays: [remainder, part_1, ..., part_k].
    """
    labels = np.asarray(labels)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        sizes = [int(np.floor(len(members) * f + 0.5)) for f in fractions]
        while sum(sizes) > len(members) - 1 and any(sizes):
            sizes[int(np.argmax(sizes))] -= 1
        start = sum(sizes)
        parts[0].append(members[start:])
        for i, size in enumerate(sizes):
            offset = sum(sizes[:i])
            parts[i + 1].append(members[offset : offset + size])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def stratified_subset(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `n` items keeping class proportions (largest-remainder rounding).

    When `n` allows it, every class keeps at least one item.
    """
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (n / counts.sum())
    take = np.floor(quota).astype(np.int64)
    for i in np.argsort(-(quota - take), kind="stable")[: n - int(take.sum())]:
        take[i] += 1
    if n >= len(classes):
        for i in np.flatnonzero(take == 0):
            take[int(np.argmax(take))] -= 1
            take[i] = 1
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=int(k), replace=False)
        for cls, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))
