"""Batches from in-memory uint8 arrays: seeded per-epoch shuffles, one-hot labels, mixup.

Pure numpy, so the same feed serves the TensorFlow, JAX and PyTorch backends, and a resumed
run sees the same shuffle for epoch e as an uninterrupted one.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class ImageBatches(keras.utils.PyDataset):
    """Yields (float32 images in 0..255, one-hot float32 labels) batches.

    Args:
        images: uint8 array (N, H, W, 3).
        labels: int array (N,).
        num_classes: width of the one-hot labels.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: reshuffle every epoch (training) or keep order (evaluation).
        seed: base seed; epoch e uses seed + e.
        mixup: Beta(alpha, alpha) mixing of shuffled pairs; 0 turns it off.
        start_epoch: the epoch the first pass counts as (for resumed runs).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        num_classes: int,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        mixup: float = 0.0,
        start_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.mixup = mixup
        self.epoch = start_epoch
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng(self.seed + self.epoch).permutation(len(self.labels))

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.images[rows].astype("float32")
        y = np.eye(self.num_classes, dtype="float32")[self.labels[rows]]
        if self.mixup > 0 and self.shuffle and len(rows) > 1:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            lam = rng.beta(self.mixup, self.mixup)
            partner = rng.permutation(len(rows))
            x = lam * x + (1 - lam) * x[partner]
            y = lam * y + (1 - lam) * y[partner]
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._permutation()
