"""BLEU-4 and CIDEr-D of predicted captions against each image's references.

The scorers are the COCO caption evaluation's own (`pycocoevalcap`: `Bleu(4)` and `Cider`,
which is CIDEr-D: clipped n-gram counts, a Gaussian length penalty, x10), so numbers compare
with published ones. Its PTB tokenizer runs Stanford CoreNLP in Java; `coco_tokens` does what
it does for captions without it: lower-case, split off punctuation and contractions
("it's" -> "it 's", "don't" -> "do n't"), then drop the punctuation tokens COCO drops. Text
with quotes, brackets or abbreviations ("U.S.") may split a little differently from
CoreNLP's, which moves scores by far less than the spread between runs.

BLEU-4 is corpus-level (n-gram counts summed over all images, the brevity penalty against
the closest reference length), as COCO reports it. CIDEr-D weighs n-grams by how rare they
are among the images' references, so it needs several images: over a single image every
n-gram is in "all" documents and it is 0.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

# The tokens COCO's PTBTokenizer wrapper removes (pycocoevalcap.tokenizer.ptbtokenizer),
# quotes and brackets included in the spellings plain text has before PTB rewrites them.
_PUNCTUATION = frozenset(
    {"''", "'", "``", "`", '"', ".", "?", "!", ",", ":", "-", "--", "...", ";"}
    | {"(", ")", "[", "]", "{", "}", "-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"}
)
_CONTRACTION = re.compile(r"(?i)(n't|'s|'re|'ve|'ll|'m|'d)\b")
_TOKEN = re.compile(r"\.\.\.|--|n't|'\w+|\w+(?:[-.]\w+)*|[^\w\s]")


@dataclass
class CaptionScores:
    """Scores of one set of predictions.

    Args:
        bleu: corpus BLEU-1 .. BLEU-4 (0..1).
        cider: corpus CIDEr-D (0..10; good COCO models score about 1.1-1.4).
        cider_per_image: each image's CIDEr-D, in input order.
        images: how many images were scored.
    """

    bleu: tuple[float, float, float, float]
    cider: float
    cider_per_image: np.ndarray
    images: int

    @property
    def bleu4(self) -> float:
        return self.bleu[3]

    def to_dict(self) -> dict[str, Any]:
        """{"bleu4", "cider", "bleu1".."bleu3", "images"}: plain floats for metric rows."""
        b1, b2, b3, b4 = self.bleu
        return {
            "bleu4": b4,
            "cider": self.cider,
            "bleu1": b1,
            "bleu2": b2,
            "bleu3": b3,
            "images": self.images,
        }


def coco_tokens(text: str) -> str:
    """`text` tokenised as COCO's evaluation does (see the module), tokens joined by spaces."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\n", " ")
    text = _CONTRACTION.sub(r" \1", text)
    tokens = _TOKEN.findall(text)
    return " ".join(t for t in tokens if t not in _PUNCTUATION)


def caption_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> CaptionScores:
    """BLEU-1..4 and CIDEr-D of `predictions[i]` against all of `references[i]`.

    Raises ValueError when the lengths differ, an image has no reference, or no reference
    holds a word.
    """
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predicted captions for {len(references)} images' references"
        )
    if not predictions:
        raise ValueError("no captions to score")
    hypotheses: dict[int, list[str]] = {}
    truths: dict[int, list[str]] = {}
    for i, (predicted, refs) in enumerate(zip(predictions, references, strict=True)):
        if isinstance(refs, str) or not refs:
            raise ValueError(f"image {i} has no reference captions (a list of strings each)")
        hypotheses[i] = [coco_tokens(predicted)]
        truths[i] = [coco_tokens(r) for r in refs]
    if not any(r for refs in truths.values() for r in refs):
        raise ValueError("the reference captions hold no words to score against")
    bleu, _ = Bleu(4).compute_score(truths, hypotheses, verbose=0)  # verbose=1 prints counts
    cider, per_image = Cider().compute_score(truths, hypotheses)
    b1, b2, b3, b4 = (float(b) for b in bleu)
    return CaptionScores(
        bleu=(b1, b2, b3, b4),
        cider=float(cider),
        cider_per_image=np.asarray(per_image, dtype=np.float64),
        images=len(predictions),
    )
