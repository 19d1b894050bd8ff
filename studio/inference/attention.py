"""Attention of a finished run: what its blocks attend to, read in the worker.

Imports keras: it runs in the inference worker (`op: attention`, `op: attention_distance`),
never in the Streamlit server, which asks through `InferenceClient` and draws the result with
the numpy maths of `studio.inference.attention_maps`. Results are cached per (image, model
file) in the run's folder (`artifacts.attention_cache`), so a second look is instant and
deleting the run deletes them.

Three kinds of model have readable attention: the studio's ViTs (blocks `block_{i}`, read by
`studio.models.vit.attention_scores`), a DeiT student (the same blocks, inside its backbone,
with class and distillation tokens) and ViT-B/16 (keras-hub's `ViTEncoder`, whose blocks do not
return their scores: `hub_vit_scores` replays them step by step).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from studio.config.schema import RunConfig
from studio.datasets.images import Source, decode_image
from studio.datasets.loader import load_dataset
from studio.inference.attention_maps import (
    AttentionResult,
    DistanceResult,
    distance_cache,
    image_sha256,
    image_statistics,
    mean_attention_distance,
    save_distance,
    save_result,
)
from studio.inference.loading import LoadedModel, ModelCache
from studio.models.vit import attention_key_dim, attention_scores, lsa_temperatures
from studio.runs.artifacts import ModelUnavailable, attention_cache, check_ability, model_info
from studio.runs.paths import dataset_cache_dir
from studio.runs.store import Run

# How many of the run's test images the mean attention distance averages over: enough for a
# steady mean (per-head values move by a few percent between batches of this size), few
# enough for a ViT-B/16 on two CPU cores.
DISTANCE_IMAGES = 32


@dataclass(frozen=True)
class TokenLayout:
    """Where a model's patches are: its grid, and the tokens before them."""

    image_size: int
    patch_size: int
    prefix_names: tuple[str, ...]
    key_dim: int

    @property
    def prefix_tokens(self) -> int:
        return len(self.prefix_names)


def _hub_backbone(model: keras.Model):
    """The keras-hub ViTBackbone inside a vit-b16 model."""
    for layer in model.layers:
        if type(layer).__name__ == "ViTBackbone":
            return layer
    raise ValueError(f"model {model.name!r} has no keras-hub ViTBackbone")


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def token_layout(model: keras.Model, run: Run) -> TokenLayout:
    """The patch grid and prefix tokens of a run's model, read off the model where it can be."""
    m = run.config["model"]
    if run.variant == "vit-b16":
        backbone = _hub_backbone(model)
        height, width = _pair(backbone.image_shape[:2])
        patch, patch_w = _pair(backbone.patch_size)
        if height != width or patch != patch_w:
            raise ValueError("only square images and patches are drawn")
        return TokenLayout(
            image_size=height,
            patch_size=patch,
            prefix_names=("class",) if backbone.use_class_token else (),
            key_dim=int(backbone.hidden_dim) // int(backbone.num_heads),
        )
    if run.variant == "deit":
        return TokenLayout(
            int(m["image_size"]),
            int(m["patch_size"]),
            ("class", "distillation"),
            attention_key_dim(model.backbone),
        )
    return TokenLayout(
        int(m["image_size"]),
        int(m["patch_size"]),
        ("class",) if m.get("pooling") == "cls" else (),
        attention_key_dim(model),
    )


# One preprocessing model per vit-b16 model, so repeated calls do not rebuild the graph.
_HUB_INPUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub_vit_scores(model: keras.Model, images, batch_size: int = 8) -> list[np.ndarray]:
    """Per-block attention probabilities (B, heads, T, T) of a vit-b16 model (0..255 images).

    keras-hub's `ViTEncoderBlock.call` keeps its `MultiHeadAttention` scores to itself, so
    this replays its inference path with the block's own layers, asking the attention for
    them: `x + mha(ln_1(x))`, then `x + mlp(ln_2(x))` (dropout is the identity at
    inference). `tests/models/test_attention_models.py` checks the replay ends where the
    backbone does, so a keras-hub that changes its block fails there, not silently.
    """
    backbone = _hub_backbone(model)
    scale = _HUB_INPUTS.get(model)
    if scale is None:
        # Augmentation (training only), resizing and pixel scaling: the model up to its backbone.
        scale = _HUB_INPUTS[model] = keras.Model(model.input, model.get_layer("scale").output)
    embed = backbone.get_layer("vit_patching_and_embedding")
    encoder = backbone.get_layer("vit_encoder")
    images = np.asarray(images, dtype="float32")
    batches = []
    for start in range(0, len(images), batch_size):
        x = embed(scale(images[start : start + batch_size], training=False))
        per_block = []
        for block in encoder.encoder_layers:
            h = block.layer_norm_1(x)
            attended, scores = block.mha(h, h, return_attention_scores=True, training=False)
            x = x + attended
            x = x + block.mlp(block.layer_norm_2(x))
            per_block.append(keras.ops.convert_to_numpy(scores).astype("float32"))
        batches.append(per_block)
    return [np.concatenate(per_block) for per_block in zip(*batches, strict=True)]


def model_scores(model: keras.Model, run: Run, images) -> np.ndarray:
    """(B, layers, heads, T, T) attention probabilities of any variant with readable attention."""
    if run.variant == "vit-b16":
        per_block = hub_vit_scores(model, images)
    elif run.variant == "deit":
        per_block = attention_scores(model.backbone, images)
    else:
        per_block = attention_scores(model, images)
    return np.stack(per_block, axis=1)


def _temperatures(model: keras.Model, run: Run) -> list[float] | None:
    if run.variant == "vit-b16":
        return None
    return lsa_temperatures(model.backbone if run.variant == "deit" else model)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _model_images(model: keras.Model, pixels: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) pixels as the model takes them (grey models get the channel mean)."""
    images = pixels.astype(np.float32)
    if model.input_shape[-1] == 1:
        images = images.mean(axis=-1, keepdims=True)
    return images


def read_attention(loaded: LoadedModel, image: Source) -> AttentionResult:
    """The attention of a loaded run model on one image (ImageDecodeError if unreadable)."""
    info, model = loaded.info, loaded.model
    run = info.run
    _, height, width, _ = model.input_shape
    size = int(height or width)
    pixels = decode_image(image, size=size)
    images = _model_images(model, pixels[None])
    scores = model_scores(model, run, images)[0]
    logits = keras.ops.convert_to_numpy(model(images, training=False))[0]
    probs = _softmax(logits)
    temperatures = _temperatures(model, run)
    layout = token_layout(model, run)
    names = list(info.labels.class_names)
    meta = {
        "run_id": run.id,
        "variant": run.variant,
        "dataset": run.dataset,
        "image_size": layout.image_size,
        "patch_size": layout.patch_size,
        "pooling": run.config["model"].get("pooling", "flatten"),
        "prefix_tokens": layout.prefix_tokens,
        "prefix_names": list(layout.prefix_names),
        # The width LSA's temperature starts from (sqrt(key_dim)), read off the model itself.
        "key_dim": layout.key_dim,
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


def read_distance(loaded: LoadedModel, pixels: np.ndarray, source: str) -> DistanceResult:
    """Mean attention distance per layer and head of a loaded run model over uint8 `pixels`
    (B, H, W, 3) at its input size, and its top probability on each of them."""
    model, run = loaded.model, loaded.info.run
    layout = token_layout(model, run)
    images = _model_images(model, pixels)
    scores = model_scores(model, run, images)
    grid = layout.image_size // layout.patch_size
    distances = mean_attention_distance(scores, grid, layout.patch_size, layout.prefix_tokens)
    logits = keras.ops.convert_to_numpy(model(images, training=False))
    temperatures = _temperatures(model, run)
    return DistanceResult(
        distances=distances.astype(np.float32),
        reference_top=_softmax(logits).max(axis=-1).astype(np.float32),
        reference_stats=image_statistics(pixels).astype(np.float32),
        temperatures=None if temperatures is None else np.asarray(temperatures, np.float32),
        meta={
            "run_id": run.id,
            "variant": run.variant,
            "dataset": run.dataset,
            "image_size": layout.image_size,
            "patch_size": layout.patch_size,
            "prefix_tokens": layout.prefix_tokens,
            "key_dim": layout.key_dim,
            "images": len(pixels),
            "source": source,
            "model_sha256": run.model_sha256,
        },
    )


def reference_images(run: Run, home: Path, count: int = DISTANCE_IMAGES) -> tuple[np.ndarray, str]:
    """Up to `count` of the run's test images (validation when it has no test split),
    spread evenly over the split, at the size the run was trained on; and where they came from.
    """
    cfg = RunConfig.from_dict(run.config)
    data = load_dataset(cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(home))
    x, split = data.x_test, "test"
    if len(x) == 0:
        x, split = data.x_val, "validation"
    if len(x) == 0:
        raise ValueError(f"{run.dataset} has no test or validation images")
    picks = np.linspace(0, len(x) - 1, num=min(count, len(x))).round().astype(int)
    return np.asarray(x)[np.unique(picks)].astype(np.uint8), f"{split} images of {run.dataset}"


def model_reference_images(
    loaded: LoadedModel, home: Path, needed_for: str
) -> tuple[np.ndarray, str]:
    """`reference_images` at the loaded model's input size; ModelUnavailable, naming what
    `needed_for` them, when they cannot be loaded."""
    run = loaded.info.run
    try:
        pixels, source = reference_images(run, home)
    except Exception as err:  # not cached and offline, a folder moved, an empty split
        raise ModelUnavailable(
            f"run {run.id}: {needed_for} needs its test images, which could not be loaded "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]})"
        ) from None
    size = loaded.info.labels.input_size
    if pixels.shape[1:3] != (size, size):
        # A dataset loaded at another size than the model takes: resize as serving does.
        pixels = np.stack([decode_image(Image.fromarray(p), size=size) for p in pixels])
    return pixels, source


def compute_distance_cached(cache: ModelCache, run_ref: str) -> Path:
    """The run's mean attention distance over its test images, computed once per model file.

    Raises ModelUnavailable (no usable model, no readable attention) before loading anything.
    """
    info = model_info(cache.store, run_ref, verify=False)
    check_ability(info.run, "attention_maps")
    loaded = cache.get(info.run.id)
    pixels, source = model_reference_images(loaded, cache.store.home, "the mean attention distance")
    result = read_distance(loaded, pixels, source)
    path = distance_cache(cache.store, info.run)
    save_distance(path, result)
    return path
