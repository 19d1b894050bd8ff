"""What a captioner writes, and how good it is: captions for images, BLEU-4 and CIDEr-D.

Used at each epoch's end (validation scores and the example captions of the run's view), at
the run's end (the test split) and by `python -m studio evaluate RUN` on a caption run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from studio.config.schema import RunConfig
from studio.evaluation.caption_report import CAPTION_FORMAT
from studio.evaluation.captions import CaptionScores, caption_scores
from studio.inference.captioning import generate
from studio.inference.loading import load_captioner
from studio.runs import artifacts
from studio.runs.store import RunStore
from studio.text.tokenizer import END, START, CaptionTokenizer
from studio.training.run_data import load_run_captions

# Validation images scored at each epoch's end: enough for BLEU-4 and CIDEr-D to move by
# less than the epoch-to-epoch change, few enough to cost seconds, not minutes, on a CPU.
VAL_SCORED_IMAGES = 256


def write_captions(
    model: keras.Model,
    tokenizer: CaptionTokenizer,
    images: np.ndarray,
    beam_width: int,
) -> list[str]:
    """The model's caption of each image (uint8 or float 0..255), as text."""
    if not len(images):
        return []
    ids = generate(model, images, beam_width, None, START, END)
    return tokenizer.decode_batch(ids)


def score_captions(
    model: keras.Model,
    tokenizer: CaptionTokenizer,
    images: np.ndarray,
    references: Sequence[Sequence[str]],
    beam_width: int,
) -> tuple[CaptionScores, list[str]]:
    """BLEU-1..4 and CIDEr-D of the model's captions of `images` against `references`, and
    the captions."""
    predicted = write_captions(model, tokenizer, images, beam_width)
    return caption_scores(predicted, references), predicted


def test_report(
    model: keras.Model,
    tokenizer: CaptionTokenizer,
    images: np.ndarray,
    references: Sequence[Sequence[str]],
    names: Sequence[str],
    cfg: RunConfig,
    model_sha256: str,
) -> dict[str, Any]:
    """The caption run's test-split report: scores, beam width, and every image's caption
    beside its references with its own CIDEr-D (the worst first: where the model fails)."""
    beam = cfg.caption.beam_width
    scores, predicted = score_captions(model, tokenizer, images, references, beam)
    order = np.argsort(scores.cider_per_image, kind="stable")
    return {
        "format": CAPTION_FORMAT,
        "task": "caption",
        "split": "test",
        "model_sha256": model_sha256,
        "beam_width": beam,
        "scores": scores.to_dict(),
        "captions": [
            {
                "image": str(names[i]),
                "caption": predicted[i],
                "references": list(references[i]),
                "cider": float(scores.cider_per_image[i]),
            }
            for i in order
        ],
    }


def evaluate_caption_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """Reload a caption run's model (checksum checked), tokenizer and test split; score,
    record and return the report."""
    info = artifacts.model_info(store, run_id)
    cfg = RunConfig.from_dict(info.run.config)
    model, tokenizer = load_captioner(info)
    data = load_run_captions(store, cfg)
    if not len(data.x_test):
        raise ValueError(
            f"run {info.run.id} has no test images (data.test_fraction=0): nothing to score"
        )
    report = test_report(
        model, tokenizer, data.x_test, data.captions_test, data.names_test, cfg, info.sha256
    )
    artifacts.write_evaluation(store.run_dir(info.run.id), report)
    store.update(info.run.id, test={k: report["scores"][k] for k in ("bleu4", "cider")})
    return report
