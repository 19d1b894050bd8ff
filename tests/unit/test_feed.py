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
    assert xb.dtype == np.float32 and xb.shape == (2, 1, 1, 3)
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
