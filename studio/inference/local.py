"""Predictions in this very process: what `python -m studio predict` prints. Imports keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.datasets.images import ImageDecodeError
from studio.inference.loading import load_model
from studio.inference.predict import DEFAULT_TOP_K, decode_for_model, predict_probs, ranked
from studio.runs.artifacts import ModelInfo, model_info
from studio.runs.store import RunStore


def predict_files(
    store: RunStore, ref: str, sources: list, k: int = DEFAULT_TOP_K, batch_size: int = 32
) -> tuple[ModelInfo, list[list[tuple[str, float]]]]:
    """Top-k of each image for a run.

    Every image is decoded (and refused with a reason) before the model is loaded.
    """
    info = model_info(store, ref)
    arrays = []
    for n, source in enumerate(sources, 1):
        try:
            arrays.append(decode_for_model(source, info.labels.input_size))
        except ImageDecodeError as err:
            name = source if isinstance(source, (str, Path)) else f"image {n}"
            raise ImageDecodeError(f"{name}: {err.reason}") from None
    model = load_model(info)
    results = []
    for start in range(0, len(arrays), batch_size):
        probs = predict_probs(model, np.stack(arrays[start : start + batch_size]))
        results += [ranked(row, info.labels.class_names, k) for row in probs]
    return info, results
