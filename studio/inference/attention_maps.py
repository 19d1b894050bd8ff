"""Attention maps from a ViT's per-layer attention probabilities: numpy only, no keras.

The inference worker (`studio.inference.attention`) saves the raw probabilities; the Patches
page reads them back (`cached_result`) and turns them into pictures with the functions here,
so the maths is tested without a model.

Shapes: `scores` is (layers, heads, T, T) with rows the query tokens and columns the key
tokens; every row sums to 1. The first `prefix_tokens` tokens are not patches: none under
average or flatten pooling, the class token with pooling `cls` and in ViT-B/16, the class and
distillation tokens in DeiT. The patches follow in row-major order (the order
`ShiftedPatchTokenization` cuts them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.runs.artifacts import attention_cache, save_npz_atomically
from studio.runs.store import Run, RunStore


@dataclass
class AttentionResult:
    """What the worker computed for one (run, image), read back from its `.npz`.

    Args:
        scores: (layers, heads, T, T) float32 attention probabilities.
        pixels: the (input_size, input_size, 3) uint8 image the model was given.
        probs: (num_classes,) softmax of the model's logits for that image.
        temperatures: learned LSA temperature per layer, or None for plain attention.
        meta: run id, variant, image_size, patch_size, pooling, class_names, key_dim,
            prefix_tokens and prefix_names (the tokens before the patches), ...
    """

    scores: np.ndarray
    pixels: np.ndarray
    probs: np.ndarray
    temperatures: np.ndarray | None
    meta: dict = field(default_factory=dict)

    @property
    def prefix_tokens(self) -> int:
        """How many tokens precede the patches (results cached before DeiT imply it)."""
        if "prefix_tokens" in self.meta:
            return int(self.meta["prefix_tokens"])
        return 1 if self.meta.get("pooling") == "cls" else 0

    @property
    def prefix_names(self) -> list[str]:
        """Names of the tokens before the patches: [], ["class"] or ["class", "distillation"]."""
        names = list(self.meta.get("prefix_names") or ["class", "distillation"])
        return names[: self.prefix_tokens]

    @property
    def has_class_token(self) -> bool:
        return self.prefix_tokens > 0

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
    arrays = {
        "scores": result.scores.astype(np.float32),
        "pixels": result.pixels.astype(np.uint8),
        "probs": result.probs.astype(np.float32),
        "meta": np.array(json.dumps(result.meta)),
    }
    if result.temperatures is not None:
        arrays["temperatures"] = np.asarray(result.temperatures, dtype=np.float32)
    save_npz_atomically(path, arrays)


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


def patch_token(row: int, col: int, grid: int, prefix_tokens: int = 0) -> int:
    """Index of the token of patch (row, col) in a grid x grid layout after `prefix_tokens`."""
    if not (0 <= row < grid and 0 <= col < grid):
        raise ValueError(f"patch (row {row}, col {col}) is outside the {grid}x{grid} grid")
    return row * grid + col + int(prefix_tokens)


def _patch_columns(vectors: np.ndarray, grid: int, prefix_tokens: int) -> np.ndarray:
    """(..., T) over key tokens -> (..., grid, grid) over patches (prefix tokens dropped)."""
    patches = vectors[..., int(prefix_tokens) :]
    if patches.shape[-1] != grid * grid:
        raise ValueError(
            f"{patches.shape[-1]} patch tokens do not fill a {grid}x{grid} grid "
            f"({int(prefix_tokens)} tokens before the patches)"
        )
    return patches.reshape(*patches.shape[:-1], grid, grid)


def query_maps(
    scores: np.ndarray, row: int, col: int, grid: int, prefix_tokens: int = 0
) -> np.ndarray:
    """(layers, heads, grid, grid): how much patch (row, col) attends to every patch.

    Each map sums to 1 minus what the query gives the prefix tokens (exactly 1 without any).
    Under LSA the query's own cell is 0: its self-attention is masked.
    """
    scores = _check_scores(scores)
    query = patch_token(row, col, grid, prefix_tokens)
    return _patch_columns(scores[:, :, query, :], grid, prefix_tokens)


def class_token_share(scores: np.ndarray, row: int, col: int, grid: int) -> np.ndarray:
    """(layers, heads): how much patch (row, col) attends to the class token (token 0)."""
    scores = _check_scores(scores)
    return scores[:, :, patch_token(row, col, grid, 1), 0]


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


def rollout_map(
    scores: np.ndarray, grid: int, prefix_tokens: int = 0, token: int = 0
) -> np.ndarray:
    """(grid, grid) rollout over the image, summing to 1.

    With prefix tokens: the row of prefix token `token` (0 the class token, 1 DeiT's
    distillation token: what its head reads), prefix columns dropped and renormalised.
    Without (flatten or average pooling every output token reaches the classifier): the mean
    of all rows.
    """
    prefix_tokens = int(prefix_tokens)
    if prefix_tokens and not 0 <= token < prefix_tokens:
        raise ValueError(f"token {token} is not one of the {prefix_tokens} prefix tokens")
    matrix = rollout(scores)
    vector = matrix[token] if prefix_tokens else matrix.mean(axis=0)
    patches = _patch_columns(vector, grid, prefix_tokens)
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


# -- mean attention distance -----------------------------------------------------------------


def patch_distances(grid: int, patch_size: int) -> np.ndarray:
    """(N, N) pixel distances between the centres of the N = grid**2 patches (row-major)."""
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    dr = rows[:, None] - rows[None, :]
    dc = cols[:, None] - cols[None, :]
    return np.sqrt(dr**2 + dc**2) * float(patch_size)


def mean_attention_distance(
    scores: np.ndarray, grid: int, patch_size: int, prefix_tokens: int = 0
) -> np.ndarray:
    """(layers, heads) mean attention distance in pixels (Dosovitskiy et al. 2020, fig. 7).

    For each head: per query patch, the sum over key patches of attention weight times the
    pixel distance between the two patch centres, averaged over query patches. Only
    patch-to-patch attention counts: prefix tokens (class, distillation) have no place in the
    image, so their rows and columns are dropped and each patch's row is renormalised to sum
    to 1 (a row that gave everything to the prefix tokens counts as distance 0). Under LSA a
    patch never attends to itself, so its zero-distance term is gone.

    `scores` is (layers, heads, T, T) for one image or (images, layers, heads, T, T) for a
    batch, averaged over the images. Distances are in pixels of the model's input grid
    (`grid * patch_size` px wide).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 4:
        scores = scores[None]
    if scores.ndim != 5 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(
            "scores must be (layers, heads, T, T) or (images, layers, heads, T, T); "
            f"got shape {scores.shape}"
        )
    p = int(prefix_tokens)
    patches = scores[..., p:, p:]
    if patches.shape[-1] != grid * grid:
        raise ValueError(
            f"{patches.shape[-1]} patch tokens do not fill a {grid}x{grid} grid "
            f"({p} tokens before the patches)"
        )
    totals = patches.sum(axis=-1, keepdims=True)
    weights = np.divide(patches, totals, out=np.zeros_like(patches), where=totals > 0)
    per_query = (weights * patch_distances(grid, patch_size)).sum(axis=-1)
    return per_query.mean(axis=(0, -1))


@dataclass
class DistanceResult:
    """Mean attention distance of a run, measured on a batch of its own test images.

    Args:
        distances: (layers, heads) mean attention distance in pixels.
        reference_top: (images,) the model's top probability on each of those images, the
            yardstick for "this image looks unlike the run's classes".
        reference_stats: (images, 3) their `image_statistics`, the other yardstick.
        temperatures: learned LSA temperature per layer, or None for plain attention.
        meta: run id, variant, image_size, patch_size, key_dim, images (how many), source.
    """

    distances: np.ndarray
    reference_top: np.ndarray
    reference_stats: np.ndarray | None
    temperatures: np.ndarray | None
    meta: dict = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def patch_size(self) -> int:
        return int(self.meta["patch_size"])


def save_distance(path: Path, result: DistanceResult) -> None:
    """Write `result` as a compressed `.npz` (no pickles), atomically."""
    arrays = {
        "distances": np.asarray(result.distances, np.float32),
        "reference_top": np.asarray(result.reference_top, np.float32),
        "meta": np.array(json.dumps(result.meta)),
    }
    if result.temperatures is not None:
        arrays["temperatures"] = np.asarray(result.temperatures, dtype=np.float32)
    if result.reference_stats is not None:
        arrays["reference_stats"] = np.asarray(result.reference_stats, dtype=np.float32)
    save_npz_atomically(path, arrays)


def load_distance(path: Path) -> DistanceResult:
    """Read what `save_distance` wrote; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        return DistanceResult(
            distances=data["distances"],
            reference_top=data["reference_top"],
            reference_stats=data["reference_stats"] if "reference_stats" in data.files else None,
            temperatures=data["temperatures"] if "temperatures" in data.files else None,
            meta=json.loads(str(data["meta"])),
        )


# The distance file sits beside the per-image attention files, named like one of them (same
# model-file part, so a retrained model gets a new one) with this key's digest in place of an
# image's.
DISTANCE_KEY = b"studio: mean attention distance over the run's test images, v1"


def distance_cache(store: RunStore, run: Run) -> Path:
    """Where the run's mean attention distance is cached, per model file."""
    return attention_cache(store, run, image_sha256(DISTANCE_KEY))


def cached_distance(store: RunStore, run: Run) -> DistanceResult | None:
    """The run's cached mean attention distance, or None when there is none (or unreadable)."""
    path = distance_cache(store, run)
    if not path.is_file():
        return None
    try:
        return load_distance(path)
    except Exception:  # a half-written or stale file is recomputed, not shown
        path.unlink(missing_ok=True)
        return None


# -- an image unlike the run's classes -------------------------------------------------------

# Without reference images: a top class under half is called unsure.
UNSURE_TOP = 0.5
# With them: a top probability below this share of the run's own test images' is unusual.
REFERENCE_QUANTILE = 0.05
# Pixel statistics outside the test images' range widened by this much (on a 0..1 scale).
STATS_MARGIN = 0.05
STAT_NAMES = ("brightness", "contrast", "colourfulness")
MAPS_NOTE = "The maps below show where the model looked, not what it recognised. "


def image_statistics(pixels: np.ndarray) -> np.ndarray:
    """(..., 3) brightness, contrast and colourfulness of uint8 (..., H, W, 3) images, 0..1.

    Brightness is the mean grey level, contrast its standard deviation, colourfulness the
    mean spread between a pixel's largest and smallest channel (0 for a grey image).
    """
    x = np.asarray(pixels, dtype=np.float64) / 255.0
    grey = x.mean(axis=-1)
    spread = x.max(axis=-1) - x.min(axis=-1)
    return np.stack(
        [grey.mean(axis=(-1, -2)), grey.std(axis=(-1, -2)), spread.mean(axis=(-1, -2))], axis=-1
    )


@dataclass(frozen=True)
class Familiarity:
    """Whether an image looks like the run's classes, by stated heuristics (message "" if so)."""

    unfamiliar: bool
    top_class: str
    top_prob: float
    message: str


def familiarity(
    probs: np.ndarray,
    class_names: list[str],
    reference_top: np.ndarray | None = None,
    pixels: np.ndarray | None = None,
    reference_stats: np.ndarray | None = None,
    note: str = MAPS_NOTE,
) -> Familiarity:
    """Does the image look unlike the run's classes? Two heuristics, either one suffices.

    - Confidence, the maximum-softmax-probability baseline (Hendrycks & Gimpel 2017): the top
      probability is compared with those the model gives its own test images
      (`reference_top`); below their 5th percentile is flagged. Without reference images, a
      top probability under 50 % is. Softmax models are often confidently wrong on images far
      from their data (a digits ViT calls a cat "1" at 85 %), so this alone misses them.
    - Pixels: the image's brightness, contrast and colourfulness (`image_statistics` of
      `pixels`, at the model's input size) against the range of the same test images'
      (`reference_stats`, widened by 0.05); outside it is flagged. This catches a colour photo
      shown to a model of grey digits, not a plausible photo of the wrong subject.

    Neither proves anything about one image, so the message says "looks unlike", never "is not".
    `note` is said before the closing caveat (the Patches page's word on its maps).
    """
    probs = np.asarray(probs, dtype=np.float64)
    best = int(np.argmax(probs))
    names = (
        list(class_names) if len(class_names) == len(probs) else [str(i) for i in range(len(probs))]
    )
    top = float(probs[best])
    name = names[best]
    reasons = []
    reference = None if reference_top is None else np.asarray(reference_top, np.float64)
    if reference is not None and len(reference) >= 5:
        if top < float(np.quantile(reference, REFERENCE_QUANTILE)):
            below = float((reference > top).mean())
            reasons.append(
                f"the model is less sure of it than of {below:.0%} of {len(reference)} of the "
                "run's own test images"
            )
    elif top < UNSURE_TOP:
        reasons.append("the model gives no class even half of its probability")
    if pixels is not None and reference_stats is not None and len(reference_stats) >= 5:
        stats = image_statistics(pixels)
        ref = np.asarray(reference_stats, np.float64)
        low, high = ref.min(axis=0) - STATS_MARGIN, ref.max(axis=0) + STATS_MARGIN
        outside = [
            f"{label} {stats[k]:.2f} (theirs {ref[:, k].min():.2f}–{ref[:, k].max():.2f})"
            for k, label in enumerate(STAT_NAMES)
            if not low[k] <= stats[k] <= high[k]
        ]
        if outside:
            reasons.append(
                f"its pixels are unlike all {len(ref)} of the run's test images: "
                + ", ".join(outside)
            )
    message = ""
    if reasons:
        message = (
            f"This image looks unlike the run's classes (top class {name} at {top:.0%}): "
            f"{'; '.join(reasons)}. {note}These are heuristics on its confidence and the "
            "image's pixels, not a detector."
        )
    return Familiarity(bool(reasons), name, top, message)


# -- the yardsticks alone, for any model (the demo) ---------------------------------------------


@dataclass
class Reference:
    """A run's own test images as `familiarity` measures them, for models with or without
    readable attention: its top probability on each, and their `image_statistics`."""

    reference_top: np.ndarray
    reference_stats: np.ndarray
    meta: dict = field(default_factory=dict)


REFERENCE_KEY = b"studio: the run's confidence and pixel statistics on its test images, v1"


def reference_cache(store: RunStore, run: Run) -> Path:
    """Where the run's reference is cached, per model file (beside its attention files)."""
    return attention_cache(store, run, image_sha256(REFERENCE_KEY))


def save_reference(path: Path, reference: Reference) -> None:
    save_npz_atomically(
        path,
        {
            "reference_top": np.asarray(reference.reference_top, np.float32),
            "reference_stats": np.asarray(reference.reference_stats, np.float32),
            "meta": np.array(json.dumps(reference.meta)),
        },
    )


def load_reference(path: Path) -> Reference:
    """Read what `save_reference` wrote; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        return Reference(
            reference_top=data["reference_top"],
            reference_stats=data["reference_stats"],
            meta=json.loads(str(data["meta"])),
        )


def cached_reference(store: RunStore, run: Run) -> Reference | None:
    """The run's cached reference, else the one its mean attention distance carries, else None."""
    path = reference_cache(store, run)
    if path.is_file():
        try:
            return load_reference(path)
        except Exception:  # half-written or stale: recomputed
            path.unlink(missing_ok=True)
    distance = cached_distance(store, run)
    if distance is not None and distance.reference_stats is not None:
        return Reference(distance.reference_top, distance.reference_stats, dict(distance.meta))
    return None
