"""Predictions in this very process: what `python -m studio predict` prints. Imports keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.datasets.images import ImageDecodeError
from studio.inference.captioning import generate
from studio.inference.loading import load_captioner, load_model
from studio.inference.predict import DEFAULT_TOP_K, decode_for_model, predict_probs, ranked
from studio.runs.artifacts import ModelInfo, ModelUnavailable, model_info
from studio.runs.store import RunStore
from studio.text.tokenizer import END, START


def predict_files(
    store: RunStore, ref: str, sources: list, k: int = DEFAULT_TOP_K, batch_size: int = 32
) -> tuple[ModelInfo, list[list[tuple[str, float]]]]:
    """Top-k of each image for a run.

    Every image is decoded (and refused with a reason) before the model is loaded.
    """
    info = model_info(store, ref)
    if info.labels.task == "caption":
        raise ModelUnavailable(
            f"run {info.run.id} writes captions, it has no classes to rank; `predict` prints "
            "its caption of each image"
        )
    arrays = _decode_all(info, sources)
    model = load_model(info)
    results = []
    for start in range(0, len(arrays), batch_size):
        probs = predict_probs(model, np.stack(arrays[start : start + batch_size]))
        results += [ranked(row, info.labels.class_names, k) for row in probs]
    return info, results


def _decode_all(info: ModelInfo, sources: list) -> list[np.ndarray]:
    arrays = []
    for n, source in enumerate(sources, 1):
        try:
            arrays.append(decode_for_model(source, info.labels.input_size))
        except ImageDecodeError as err:
            name = source if isinstance(source, (str, Path)) else f"image {n}"
            raise ImageDecodeError(f"{name}: {err.reason}") from None
    return arrays


def caption_files(
    store: RunStore, ref: str, sources: list, beam_width: int | None = None
) -> tuple[ModelInfo, list[str]]:
    """A caption run's caption of each image, written with `beam_width` beams (None: the
    run's `caption.beam_width`). Images are decoded (and refused) before the model loads."""
    info = model_info(store, ref)
    if info.labels.task != "caption":
        raise ModelUnavailable(f"run {info.run.id} classifies images; it writes no captions")
    arrays = _decode_all(info, sources)
    model, tokenizer = load_captioner(info)
    beam = beam_width or int(info.run.config.get("caption", {}).get("beam_width", 3))
    ids = generate(model, np.stack(arrays), beam, None, START, END)
    return info, tokenizer.decode_batch(ids)
