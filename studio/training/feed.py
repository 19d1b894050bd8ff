"""Batches from in-memory uint8 arrays: seeded per-epoch shuffles, one-hot labels, mixup
and CutMix.

Pure numpy, so the same feed serves the TensorFlow, JAX and PyTorch backends, and a resumed
run sees the same shuffle for epoch e as an uninterrupted one.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class ImageBatches(keras.utils.PyDataset):
    """Yields (images in 0..255, one-hot float32 labels) batches.

    Images stay uint8 (a quarter of the bytes to copy to an accelerator; the model casts them
    to float32 inside its compiled step) unless mixup or CutMix blend them, then float32.

    Args:
        images: uint8 array (N, H, W, 3).
        labels: int array (N,).
        num_classes: width of the one-hot labels.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: reshuffle every epoch (training) or keep order (evaluation).
        seed: base seed; epoch e uses seed + e.
        mixup: Beta(alpha, alpha) mixing of shuffled pairs; 0 turns it off.
        cutmix: Beta(alpha, alpha) share of each image replaced by a box of its pair's,
            labels mixed by the box's area; 0 turns it off. With both on, each batch uses
            one of the two, at even odds (as timm does).
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
        cutmix: float = 0.0,
    ) -> None:
        super().__init__()
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.mixup = mixup
        self.cutmix = cutmix
        self.epoch = start_epoch
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng(self.seed + self.epoch).permutation(len(self.labels))

    @property
    def mixing(self) -> bool:
        return self.shuffle and (self.mixup > 0 or self.cutmix > 0)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.images[rows]
        y = np.eye(self.num_classes, dtype="float32")[self.labels[rows]]
        if self.mixing:
            # Every batch float32, mixed or not: a backend's input signature is fixed.
            x = x.astype("float32")
            if len(rows) > 1:
                x, y = self._mix(x, y, np.random.default_rng((self.seed, self.epoch, index)))
        return x, y

    def _mix(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
        partner = rng.permutation(len(y))
        use_cutmix = self.cutmix > 0 and (self.mixup <= 0 or rng.random() < 0.5)
        if not use_cutmix:
            lam = rng.beta(self.mixup, self.mixup)
            return lam * x + (1 - lam) * x[partner], lam * y + (1 - lam) * y[partner]
        height, width = x.shape[1:3]
        cut = np.sqrt(1.0 - rng.beta(self.cutmix, self.cutmix))
        box_h, box_w = int(height * cut), int(width * cut)
        top = rng.integers(0, height - box_h + 1)
        left = rng.integers(0, width - box_w + 1)
        x = x.copy()
        x[:, top : top + box_h, left : left + box_w] = x[
            partner, top : top + box_h, left : left + box_w
        ]
        # Labels follow the area actually pasted, after rounding the box to whole pixels.
        lam = 1.0 - (box_h * box_w) / (height * width)
        return x, lam * y + (1 - lam) * y[partner]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._permutation()
