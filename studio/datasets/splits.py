"""Seeded, stratified index splits: every class is cut in the same proportions; grouped
splits keep every group (a patient, a writer) whole on one side."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Folds StratifiedGroupKFold may cut a pool into: parts are whole folds, so with enough groups
# a share is hit within 1/40.
_MAX_FOLDS = 20


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


class GroupSplitError(ValueError):
    """The groups cannot be split as asked; the message names the numbers."""


@dataclass
class GroupedParts:
    """A grouped split: index arrays [remainder, part_1, ...] and what had to give way.

    Args:
        parts: sorted index arrays, as `stratified_partition` returns them.
        pinned: groups kept in the remainder because they are a class's only group.
        moved: groups moved back to the remainder so that their class keeps training images.
    """

    parts: list[np.ndarray]
    pinned: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


def grouped_partition(
    labels: np.ndarray,
    groups: np.ndarray,
    fractions: Sequence[float],
    seed: int,
    class_names: Sequence[str] | None = None,
) -> GroupedParts:
    """Split indices so that every group lies in exactly one part, classes stratified by group.

    Each part with a fraction > 0 gets at least one group and about that share of the images,
    carved in order by scikit-learn's StratifiedGroupKFold (m of k folds, m/k close to the
    part's share of what is left). A group that is its class's only group stays in the
    remainder (the training part), and every class keeps at least one training group.

    Raises GroupSplitError when there are too few groups, or when every class is one group.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    names, group_of = np.unique(groups, return_inverse=True)
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    part_of = np.zeros(len(names), dtype=np.int64)  # per group: 0 remainder, i + 1 part i
    if not wanted:
        return GroupedParts([np.arange(len(labels)), *(np.zeros(0, np.int64) for _ in fractions)])
    groups_per_class, single = _groupable(labels, group_of, len(names), len(wanted))
    free = np.array([g for g in range(len(names)) if g not in single], dtype=np.int64)
    random_state = int(np.random.default_rng([seed, 2]).integers(2**31 - 1))
    left = 1.0
    for n, i in enumerate(wanted):
        candidates = free[part_of[free] == 0]
        later = len(wanted) - n - 1 + (0 if single else 1)
        share = fractions[i] / left
        most = len(candidates) - later
        part_of[_carve(candidates, group_of, labels, share, most, random_state + n)] = i + 1
        left -= fractions[i]
    name_of = (lambda c: class_names[c]) if class_names is not None else str
    moved = _keep_every_class_training(part_of, groups_per_class, group_of, name_of)
    parts = [np.sort(np.flatnonzero(part_of[group_of] == p)) for p in range(len(fractions) + 1)]
    return GroupedParts(
        parts=parts,
        pinned=[str(names[g]) for g in sorted(single)],
        moved=[str(names[g]) for g in moved],
    )


def check_groupable(labels: np.ndarray, groups: np.ndarray, fractions: Sequence[float]) -> None:
    """Raise GroupSplitError where `grouped_partition` surely fails, without splitting (cheap)."""
    wanted = sum(f > 0 for f in fractions)
    if wanted:
        names, group_of = np.unique(np.asarray(groups), return_inverse=True)
        _groupable(np.asarray(labels), group_of, len(names), wanted)


def _groupable(
    labels: np.ndarray, group_of: np.ndarray, n_groups: int, wanted: int
) -> tuple[dict[int, np.ndarray], set[int]]:
    """Groups of each class, and the groups that are some class's only one (kept training)."""
    groups_per_class = {int(c): np.unique(group_of[labels == c]) for c in np.unique(labels)}
    single = {int(gs[0]) for gs in groups_per_class.values() if len(gs) == 1}
    if all(len(gs) == 1 for gs in groups_per_class.values()):
        raise GroupSplitError(
            f"each class is a single group ({len(groups_per_class)} classes, {n_groups} "
            "groups): a grouped split would hold whole classes out of training, so no class "
            "could be both learnt and tested"
        )
    free = n_groups - len(single)
    if single and free < wanted:
        raise GroupSplitError(
            f"{n_groups} groups are too few: {len(single)} are the only group of their class and "
            f"stay in training, leaving {free} for {wanted} held-out split(s) that need one each"
        )
    if not single and free < wanted + 1:
        raise GroupSplitError(
            f"{n_groups} group(s) are too few: training and {wanted} held-out split(s) need at "
            f"least {wanted + 1}, one group each"
        )
    return groups_per_class, single


def _folds_for(share: float, n_groups: int, n_classes: int) -> tuple[int, int]:
    """(k, m): take m of k folds. Preferred: m/k within a fifth of `share` (at least 1%), and
    folds few enough to hold a group of every class (stratified); then the closest m/k, then
    the fewest folds."""
    tolerance = max(0.01, 0.2 * share)
    stratifiable = max(2, n_groups // max(1, n_classes))
    options = []
    for k in range(2, min(n_groups, _MAX_FOLDS) + 1):
        m = min(max(1, round(share * k)), k - 1)
        error = abs(m / k - share)
        # Within 1%, fewer folds win: StratifiedGroupKFold's time grows with their number.
        options.append((error > tolerance, k > stratifiable, round(error, 2), k, m))
    *_, k, m = min(options)
    return k, m


def _carve(
    candidates: np.ndarray,
    group_of: np.ndarray,
    labels: np.ndarray,
    share: float,
    most: int,
    random_state: int,
) -> np.ndarray:
    """Group ids (of `candidates`) holding about `share` of their images, class-stratified."""
    if len(candidates) <= 1:
        return candidates[:most]
    from sklearn.model_selection import StratifiedGroupKFold

    pool = np.flatnonzero(np.isin(group_of, candidates))
    k, m = _folds_for(share, len(candidates), len(np.unique(labels[pool])))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # "The least populated class has only n members": expected with few groups; the
        # report gives the counts each split actually got.
        warnings.simplefilter("ignore", UserWarning)
        folds = [
            np.unique(group_of[pool[test]])
            for _, test in splitter.split(pool, labels[pool], group_of[pool])
        ]
    folds = [f for f in folds if len(f)]
    chosen = np.concatenate(folds[:m])
    return chosen[: max(1, most)]


def _keep_every_class_training(
    part_of: np.ndarray, groups_per_class: dict[int, np.ndarray], group_of: np.ndarray, name_of
) -> list[int]:
    """Move back to training the smallest held-out group of any class left without one."""
    sizes = np.bincount(group_of, minlength=len(part_of))
    moved: list[int] = []
    for label, members in groups_per_class.items():
        if (part_of[members] == 0).any():
            continue
        for g in members[np.argsort(sizes[members], kind="stable")]:
            if np.count_nonzero(part_of == part_of[g]) > 1:  # its part keeps another group
                part_of[g] = 0
                moved.append(int(g))
                break
        else:
            raise GroupSplitError(
                f"class {name_of(label)} has {len(members)} group(s), all needed to keep a "
                "held-out split non-empty, so none would be left for training"
            )
    return moved
