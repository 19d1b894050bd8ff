"""Stratified, seeded index splits used by every loader."""

from __future__ import annotations

import numpy as np

from studio.datasets.splits import stratified_partition, stratified_subset


def test_partition_cuts_every_class_in_proportion_and_covers_everything():
    labels = np.repeat([0, 1, 2], [100, 40, 7])
    train, val, test = stratified_partition(labels, [0.1, 0.2], np.random.default_rng(0))
    assert np.bincount(labels[val]).tolist() == [10, 4, 1]
    assert np.bincount(labels[test]).tolist() == [20, 8, 1]
    joined = np.concatenate([train, val, test])
    assert sorted(joined.tolist()) == list(range(len(labels)))


def test_a_tiny_class_keeps_an_image_for_training():
    labels = np.array([0] * 10 + [1])
    train, val, test = stratified_partition(labels, [0.5, 0.5], np.random.default_rng(0))
    assert 10 in train.tolist()
    assert len(val) + len(test) == 9


def test_subset_is_exact_proportional_and_keeps_every_class():
    labels = np.repeat([0, 1, 2], [90, 9, 1])
    rng = np.random.default_rng(0)
    chosen = stratified_subset(labels, 20, rng)
    assert len(chosen) == 20 and len(set(chosen.tolist())) == 20
    assert np.bincount(labels[chosen]).tolist() == [17, 2, 1]
