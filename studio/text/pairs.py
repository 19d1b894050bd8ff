"""(image, caption) training pairs: which image each token row belongs to.

The studio trains on all pairs: an epoch shows every caption of every image once (an image
with five captions five times, each time with another caption as the target). With several
phrasings per image the decoder sees all of them each epoch, and the loss averages over them
rather than over one caption drawn at random. `one_per_image` draws one caption per image
instead, for an epoch the size of the image count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from studio.text.tokenizer import CaptionTokenizer


@dataclass
class CaptionPairs:
    """Token rows and the image each belongs to.

    Args:
        image_index: int64 (P,), the row of the split's images each caption describes.
        tokens: int32 (P, max_length), `CaptionTokenizer.encode_batch` of the captions.
        cut: captions longer than max_length, cut (the dataset report names the count).
    """

    image_index: np.ndarray
    tokens: np.ndarray
    cut: int

    def __len__(self) -> int:
        return len(self.image_index)


def caption_pairs(
    caption_lists: Sequence[Sequence[str]], tokenizer: CaptionTokenizer, max_length: int
) -> CaptionPairs:
    """One pair per caption of `caption_lists` (a split's captions, image by image), in order."""
    counts = np.array([len(c) for c in caption_lists], dtype=np.int64)
    index = np.repeat(np.arange(len(caption_lists), dtype=np.int64), counts)
    flat = [caption for captions in caption_lists for caption in captions]
    tokens, cut = tokenizer.encode_with_cut(flat, max_length)
    return CaptionPairs(image_index=index, tokens=tokens, cut=cut)


def one_per_image(pairs: CaptionPairs, rng: np.random.Generator) -> np.ndarray:
    """Indices into `pairs`, one caption drawn at random for each image, in image order."""
    if not len(pairs):
        return np.zeros(0, dtype=np.int64)
    # Pairs of an image are contiguous (caption_pairs keeps image order): draw an offset
    # within each image's run of pairs.
    starts = np.flatnonzero(np.r_[True, pairs.image_index[1:] != pairs.image_index[:-1]])
    lengths = np.diff(np.r_[starts, len(pairs)])
    return starts + (rng.random(len(starts)) * lengths).astype(np.int64)
