"""Batches: seeded shuffles per epoch (the same after a resume), one-hot labels, mixup."""

from __future__ import annotations

import numpy as np

from studio.training.feed import ImageBatches


def _data(n=10):
    x = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1).repeat(3, axis=-1)
    return x, np.arange(n) % 3


def _epoch_order(feed):
    return np.concatenate([feed[i][0][:, 0, 0, 0] for i in range(len(feed))]).astype(int).tolist()


def test_one_hot_and_batching():
    x, y = _data()
    feed = ImageBatches(x, y, num_classes=3, batch_size=4)
    assert len(feed) == 3
    xb, yb = feed[2]
    assert xb.dtype == np.uint8 and xb.shape == (2, 1, 1, 3)  # cast inside the model
    assert yb.tolist() == [[0, 0, 1], [1, 0, 0]]  # labels of rows 8 and 9


def test_shuffle_is_seeded_per_epoch_and_resumable():
    x, y = _data()
    feed = ImageBatches(x, y, 3, 4, shuffle=True, seed=7)
    epoch0 = _epoch_order(feed)
    feed.on_epoch_end()
    epoch1 = _epoch_order(feed)
    assert sorted(epoch0) == list(range(10)) and epoch0 != epoch1
    resumed = ImageBatches(x, y, 3, 4, shuffle=True, seed=7, start_epoch=1)
    assert _epoch_order(resumed) == epoch1


def test_mixup_keeps_label_mass():
    x, y = _data(16)
    feed = ImageBatches(x, y, 3, 8, shuffle=True, seed=1, mixup=0.8)
    _, yb = feed[0]
    assert np.allclose(yb.sum(axis=1), 1.0)
    assert not np.all(np.isin(yb, [0.0, 1.0]))


def test_cutmix_pastes_a_box_and_mixes_labels_by_its_area():
    n, side = 8, 8
    # Image i is flat with value i and class i: what a pasted box took shows in the pixels.
    x = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, side, side, 3), np.uint8)
    feed = ImageBatches(x, np.arange(n), n, n, shuffle=True, seed=3, cutmix=1.0)
    xb, yb = feed[0]
    pasted = 0
    for own, image, label in zip(feed._order, xb, yb, strict=True):
        values, counts = np.unique(image[..., 0].astype(int), return_counts=True)
        kept = counts[values == own].sum() / side**2
        assert np.isclose(label[own], kept) and np.isclose(label.sum(), 1.0)
        pasted += len(values) == 2
    assert pasted > 0


def test_with_mixup_and_cutmix_each_batch_uses_one_of_the_two():
    x, y = _data(64)
    x = np.repeat(np.repeat(x, 8, axis=1), 8, axis=2)
    feed = ImageBatches(x, y, 3, 16, shuffle=True, seed=5, mixup=0.8, cutmix=1.0)
    kinds = []
    for _epoch in range(3):
        for i in range(len(feed)):
            xb, _ = feed[i]
            whole = np.allclose(xb, np.round(xb))  # cutmix copies pixels; mixup blends them
            kinds.append("cutmix" if whole else "mixup")
        feed.on_epoch_end()
    assert set(kinds) == {"cutmix", "mixup"}, kinds
