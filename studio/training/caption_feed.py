"""Batches of (image, caption) pairs for a captioning run: teacher-forced inputs and targets.

An epoch is a pass over the images, each with one of its captions drawn afresh (seeded by the
epoch, so a resumed run sees the same draws as an uninterrupted one): every image weighs the
same whether it has one caption or five, and an epoch costs one encoder pass per image.
Pure numpy, like the classification feed, so every backend reads the same batches.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from studio.models.captioner import IMAGES, TOKENS, teacher_forcing
from studio.text.pairs import CaptionPairs, one_per_image


class CaptionBatches(keras.utils.PyDataset):
    """Yields ({"images": uint8 (B, H, W, 3), "tokens": int32 (B, L)}, int32 targets (B, L))
    with L = max_length - 1: the model reads a caption's tokens 0..L-1 and predicts 1..L.

    Args:
        images: uint8 array (N, H, W, 3), the split's images.
        pairs: the split's (image, token row) pairs (`studio.text.pairs.caption_pairs`).
        batch_size: pairs per batch; the last batch may be smaller.
        shuffle: training: one caption per image drawn and the images shuffled, every epoch;
            otherwise every pair once, in order (validation loss over all captions).
        seed: base seed; epoch e uses seed + e.
        start_epoch: the epoch the first pass counts as (for resumed runs).
    """

    def __init__(
        self,
        images: np.ndarray,
        pairs: CaptionPairs,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        start_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.images = images
        self.pairs = pairs
        self.inputs, self.targets = teacher_forcing(pairs.tokens)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = start_epoch
        self._order = self._draw()

    def _draw(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.pairs))
        rng = np.random.default_rng(self.seed + self.epoch)
        chosen = one_per_image(self.pairs, rng)
        return chosen[rng.permutation(len(chosen))]

    def __len__(self) -> int:
        return math.ceil(len(self._order) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[self.pairs.image_index[rows]]
        return {IMAGES: images, TOKENS: self.inputs[rows]}, self.targets[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.epoch += 1
            self._order = self._draw()
