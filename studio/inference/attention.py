"""Attention of a finished run on one image: what its blocks attend to, read in the worker.

Imports keras: it runs in the inference worker (`op: attention`), never in the Streamlit
server, which asks through `InferenceClient.attention` and draws the result with the numpy
maths of `studio.inference.attention_maps`. Results are cached per (image, model file) in the
run's folder (`artifacts.attention_cache`), so a second look is instant and deleting the run
deletes them.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from studio.datasets.images import Source, decode_image
from studio.inference.attention_maps import AttentionResult, image_sha256, save_result
from studio.inference.loading import LoadedModel, ModelCache
from studio.models.vit import attention_key_dim, attention_scores, lsa_temperatures
from studio.runs.artifacts import attention_cache, check_ability, model_info


def read_attention(loaded: LoadedModel, image: Source) -> AttentionResult:
    """The attention of a loaded run model on one image (ImageDecodeError if unreadable)."""
    info, model = loaded.info, loaded.model
    run = info.run
    _, height, width, channels = model.input_shape
    size = int(height or width)
    pixels = decode_image(image, size=size)
    images = pixels[None].astype(np.float32)
    if channels == 1:
        images = images.mean(axis=-1, keepdims=True)
    scores = np.stack([s[0] for s in attention_scores(model, images)])
    logits = keras.ops.convert_to_numpy(model(images, training=False))[0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    temperatures = lsa_temperatures(model)
    m = run.config["model"]
    names = list(info.labels.class_names)
    meta = {
        "run_id": run.id,
        "variant": run.variant,
        "dataset": run.dataset,
        "image_size": int(m["image_size"]),
        "patch_size": int(m["patch_size"]),
        "pooling": m.get("pooling", "flatten"),
        # The width LSA's temperature starts from (sqrt(key_dim)), read off the model itself.
        "key_dim": attention_key_dim(model),
        "input_size": size,
        "model_sha256": run.model_sha256,
        "class_names": names if len(names) == len(probs) else [],
        "backend": keras.backend.backend(),
    }
    return AttentionResult(
        scores=scores.astype(np.float32),
        pixels=pixels,
        probs=probs.astype(np.float32),
        temperatures=None if temperatures is None else np.asarray(temperatures, np.float32),
        meta=meta,
    )


def compute_cached(cache: ModelCache, run_ref: str, data: bytes) -> Path:
    """Read the attention of the image in `data` with the run's model, as loaded in `cache`
    (the demo's predictions may have loaded it already), and cache it; returns the file.

    Raises ModelUnavailable for a run without a usable model or without readable attention
    (before loading anything), ImageDecodeError for an image the decoder refuses.
    """
    info = model_info(cache.store, run_ref, verify=False)
    check_ability(info.run, "attention_maps")
    result = read_attention(cache.get(info.run.id), data)
    path = attention_cache(cache.store, info.run, image_sha256(data))
    save_result(path, result)
    return path
