"""A run's reference for "this image looks unlike the run's classes", computed in the worker.

Any model, attention or not: its top probability on up to 32 of the run's test images and their
pixel statistics (`attention_maps.familiarity` compares an image with them). Computed once
per model file (`op: reference`) and cached beside the attention files, so the demo asks once
per model, never per prediction.
"""

from __future__ import annotations

from pathlib import Path

from studio.inference.attention import model_reference_images
from studio.inference.attention_maps import (
    Reference,
    cached_reference,
    image_statistics,
    reference_cache,
    save_reference,
)
from studio.inference.loading import ModelCache
from studio.inference.predict import predict_probs
from studio.runs.artifacts import model_info


def compute_reference_cached(cache: ModelCache, run_ref: str) -> Path:
    """The cached reference file of the run, written on first use.

    Raises ModelUnavailable when the run has no usable model or its test images cannot be
    loaded (offline and not cached, a folder moved).
    """
    info = model_info(cache.store, run_ref, verify=False)
    path = reference_cache(cache.store, info.run)
    found = cached_reference(cache.store, info.run)
    if found is not None:
        if not path.is_file():
            save_reference(path, found)
        return path
    loaded = cache.get(info.run.id)
    pixels, source = model_reference_images(
        loaded, cache.store.home, "the check for images unlike its classes"
    )
    probs = predict_probs(loaded.model, pixels)
    save_reference(
        path,
        Reference(
            reference_top=probs.max(axis=-1),
            reference_stats=image_statistics(pixels),
            meta={"run_id": info.run.id, "images": len(pixels), "source": source},
        ),
    )
    return path
