"""Attention maps from a ViT's per-layer attention probabilities: numpy only, no keras.

The inference worker (`studio.inference.attention`) saves the raw probabilities; the Patches
page reads them back (`cached_result`) and turns them into pictures with the functions here,
so the maths is tested without a model.

Shapes: `scores` is (layers, heads, T, T) with rows the query tokens and columns the key
tokens; every row sums to 1. With a class token (pooling `cls`) token 0 is the class token and
tokens 1..T-1 are patches in row-major order (the order `ShiftedPatchTokenization` cuts them);
without one, token t is patch t.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.runs.artifacts import attention_cache
from studio.runs.store import Run, RunStore


@dataclass
class AttentionResult:
    """What the worker computed for one (run, image), read back from its `.npz`.

    Args:
        scores: (layers, heads, T, T) float32 attention probabilities.
        pixels: the (input_size, input_size, 3) uint8 image the model was given.
        probs: (num_classes,) softmax of the model's logits for that image.
        temperatures: learned LSA temperature per layer, or None for plain attention.
        meta: run id, variant, image_size, patch_size, pooling, class_names, key_dim, ...
    """

    scores: np.ndarray
    pixels: np.ndarray
    probs: np.ndarray
    temperatures: np.ndarray | None
    meta: dict = field(default_factory=dict)

    @property
    def has_class_token(self) -> bool:
        return self.meta.get("pooling") == "cls"

    @property
    def lsa(self) -> bool:
        return self.temperatures is not None

    @property
    def patch_size(self) -> int:
        return int(self.meta["patch_size"])

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def layers(self) -> int:
        return self.scores.shape[0]

    @property
    def heads(self) -> int:
        return self.scores.shape[1]

    def top_classes(self, k: int = 3) -> list[tuple[str, float]]:
        names = self.meta.get("class_names") or [str(i) for i in range(len(self.probs))]
        order = np.argsort(self.probs)[::-1][:k]
        return [(str(names[i]), float(self.probs[i])) for i in order]


def save_result(path: Path, result: AttentionResult) -> None:
    """Write `result` as a compressed `.npz` (no pickles), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    arrays = {
        "scores": result.scores.astype(np.float32),
        "pixels": result.pixels.astype(np.uint8),
        "probs": result.probs.astype(np.float32),
        "meta": np.array(json.dumps(result.meta)),
    }
    if result.temperatures is not None:
        arrays["temperatures"] = np.asarray(result.temperatures, dtype=np.float32)
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    tmp.replace(path)


def load_result(path: Path) -> AttentionResult:
    """Read what `save_result` wrote; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        return AttentionResult(
            scores=data["scores"],
            pixels=data["pixels"],
            probs=data["probs"],
            temperatures=data["temperatures"] if "temperatures" in data.files else None,
            meta=json.loads(str(data["meta"])),
        )


def image_sha256(data: bytes) -> str:
    """What names an image in the attention cache."""
    return hashlib.sha256(data).hexdigest()


def cached_result(store: RunStore, run: Run, data: bytes) -> AttentionResult | None:
    """The cached result for (run, image), or None when there is none (or it is unreadable)."""
    path = attention_cache(store, run, image_sha256(data))
    if not path.is_file():
        return None
    try:
        return load_result(path)
    except Exception:  # a half-written or stale file is recomputed, not shown
        path.unlink(missing_ok=True)
        return None


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 4 or scores.shape[2] != scores.shape[3]:
        raise ValueError(f"scores must be (layers, heads, T, T); got shape {scores.shape}")
    return scores


def patch_token(row: int, col: int, grid: int, has_class_token: bool) -> int:
    """Index of the token of patch (row, col) in a grid x grid layout."""
    if not (0 <= row < grid and 0 <= col < grid):
        raise ValueError(f"patch (row {row}, col {col}) is outside the {grid}x{grid} grid")
    return row * grid + col + (1 if has_class_token else 0)


def _patch_columns(vectors: np.ndarray, grid: int, has_class_token: bool) -> np.ndarray:
    """(..., T) over key tokens -> (..., grid, grid) over patches (class token dropped)."""
    patches = vectors[..., 1:] if has_class_token else vectors
    if patches.shape[-1] != grid * grid:
        raise ValueError(
            f"{patches.shape[-1]} patch tokens do not fill a {grid}x{grid} grid "
            f"(class token: {has_class_token})"
        )
    return patches.reshape(*patches.shape[:-1], grid, grid)


def query_maps(
    scores: np.ndarray, row: int, col: int, grid: int, has_class_token: bool = False
) -> np.ndarray:
    """(layers, heads, grid, grid): how much patch (row, col) attends to every patch.

    Each map sums to 1 minus what the query gives the class token (exactly 1 without one).
    Under LSA the query's own cell is 0: its self-attention is masked.
    """
    scores = _check_scores(scores)
    query = patch_token(row, col, grid, has_class_token)
    return _patch_columns(scores[:, :, query, :], grid, has_class_token)


def class_token_share(scores: np.ndarray, row: int, col: int, grid: int) -> np.ndarray:
    """(layers, heads): how much patch (row, col) attends to the class token (token 0)."""
    scores = _check_scores(scores)
    return scores[:, :, patch_token(row, col, grid, True), 0]


def rollout(scores: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) through all layers: a (T, T) matrix.

    Per layer: average the heads, add the identity for the residual connection, renormalise
    the rows, then multiply the layers from the first up: R = A_L' ... A_1'. Row i of R says
    how much each input token flows into output token i; every row sums to 1. Under LSA each
    layer's diagonal is 0 before the identity is added, so the identity is a token's only
    route to itself.
    """
    scores = _check_scores(scores)
    tokens = scores.shape[-1]
    identity = np.eye(tokens)
    result = identity
    for layer in scores:
        mixed = layer.mean(axis=0) + identity
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result


def rollout_map(scores: np.ndarray, grid: int, has_class_token: bool = False) -> np.ndarray:
    """(grid, grid) rollout over the image, summing to 1.

    With a class token: the class token's row (what the classifier reads), class column
    dropped and renormalised. Without one (flatten or average pooling every output token
    reaches the classifier): the mean of all rows.
    """
    matrix = rollout(scores)
    vector = matrix[0] if has_class_token else matrix.mean(axis=0)
    patches = _patch_columns(vector, grid, has_class_token)
    total = patches.sum()
    return patches / total if total > 0 else patches


def diagonal_share(scores: np.ndarray) -> np.ndarray:
    """(layers,): mean attention of a token to itself, over heads and tokens (0 under LSA)."""
    scores = _check_scores(scores)
    return np.diagonal(scores, axis1=2, axis2=3).mean(axis=(1, 2))


def head_mean(scores: np.ndarray, layer: int) -> np.ndarray:
    """(T, T) attention of one layer, averaged over heads; rows still sum to 1."""
    scores = _check_scores(scores)
    return scores[layer].mean(axis=0)
