"""The studio's Vision Transformer: vanilla ViT, SPT, LSA or both, as one functional model."""

from __future__ import annotations

import re
import weakref

import keras
import numpy as np

from studio.config.schema import POOLINGS, AugmentConfig, ModelConfig, RunConfig
from studio.layers.attention import LocalitySelfAttention
from studio.layers.dropout import ByteDropout
from studio.layers.encoder import TransformerBlock
from studio.layers.patches import ClassToken, PatchEncoder, ShiftedPatchTokenization
from studio.models.build import ModelInputs

_BLOCK_NAME = re.compile(r"^block_(\d+)$")


def patch_tokens(inputs, m: ModelConfig, augment_cfg: AugmentConfig, mean, variance, seeds):
    """0..255 images -> normalised, resized, augmented (training only) patch tokens."""
    x = inputs
    if augment_cfg.rand_augment:
        # RandAugment's ops assume pixel values, so it runs before normalisation.
        x = keras.layers.RandAugment(value_range=(0, 255), seed=next(seeds), name="rand_augment")(x)
    x = keras.layers.Normalization(mean=mean, variance=variance, name="normalize")(x)
    x = keras.layers.Resizing(m.image_size, m.image_size, name="resize")(x)
    x = augmentation(x, augment_cfg, seeds)
    return ShiftedPatchTokenization(
        m.image_size, m.patch_size, m.projection_dim, shifted=m.spt, name="tokenize"
    )(x)


def encode(x, m: ModelConfig, seeds):
    """`m.depth` transformer blocks named `block_{i}`, then the final layer norm."""
    for i in range(m.depth):
        # Linear stochastic-depth ramp: 0 for the first block, the full rate for the last.
        rate = m.stochastic_depth * (i / (m.depth - 1) if m.depth > 1 else 1.0)
        x = TransformerBlock(
            m.num_heads,
            m.projection_dim,
            m.mlp_units,
            dropout=m.dropout,
            drop_path=rate,
            locality=m.lsa,
            seed=next(seeds),
            key_dim=m.key_dim,
            name=f"block_{i}",
        )(x)
    return keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)


def mlp_head(x, units, dropout, prefix, seeds):
    """Hidden GELU layers with dropout, named `{prefix}_dense_{i}` / `{prefix}_dropout_{i}`."""
    for i, width in enumerate(units):
        x = keras.layers.Dense(width, activation="gelu", name=f"{prefix}_dense_{i}")(x)
        x = ByteDropout(dropout, seed=next(seeds), name=f"{prefix}_dropout_{i}")(x)
    return x


def seeds_from(seed: int | None):
    # Unrelated seeds per random layer, drawn rather than counted up: a block seeds its two
    # drop paths with `seed` and `seed + 1`, which consecutive seeds would share across blocks.
    rng = None if seed is None else np.random.default_rng(seed)
    while True:
        yield None if rng is None else int(rng.integers(0, 2**31 - 2))


def augmentation(x, augment_cfg: AugmentConfig, seeds):
    if augment_cfg.flip:
        x = keras.layers.RandomFlip("horizontal", seed=next(seeds), name="flip")(x)
    if augment_cfg.rotation > 0:
        x = keras.layers.RandomRotation(augment_cfg.rotation, seed=next(seeds), name="rotate")(x)
    if augment_cfg.zoom > 0:
        x = keras.layers.RandomZoom(
            augment_cfg.zoom, augment_cfg.zoom, seed=next(seeds), name="zoom"
        )(x)
    return x


def build_vit(
    model_cfg: ModelConfig,
    augment_cfg: AugmentConfig,
    num_classes: int,
    input_shape: tuple,
    mean,
    variance,
    seed: int | None = None,
) -> keras.Model:
    """A functional ViT classifier (name "vit") that outputs logits.

    Takes float32 images on the 0..255 scale shaped `input_shape` (H, W, C); inside, it
    normalises per channel with `mean` / `variance` (0..255 scale), resizes to
    `model_cfg.image_size`, augments (training only, seeded from `seed`), tokenises with or
    without SPT, runs `model_cfg.depth` blocks named `block_{i}` (LSA when `model_cfg.lsa`),
    pools and classifies. Weight initialisation follows Keras' global seed
    (`keras.utils.set_random_seed`).
    """
    m = model_cfg
    if m.pooling not in POOLINGS:
        raise ValueError(f"pooling={m.pooling!r} must be one of {', '.join(POOLINGS)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be an integer >= 1")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape} must be (height, width, channels)")
    seeds = seeds_from(seed)

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="images")
    x = patch_tokens(inputs, m, augment_cfg, mean, variance, seeds)
    tokens = m.num_patches
    if m.pooling == "cls":
        x = ClassToken(m.projection_dim, name="class_token")(x)
        tokens += 1
    x = PatchEncoder(tokens, m.projection_dim, name="position_embedding")(x)
    x = encode(x, m, seeds)

    if m.pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
        x = ByteDropout(m.head_dropout, seed=next(seeds), name="flatten_dropout")(x)
    elif m.pooling == "gap":
        x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    else:
        x = x[:, 0]
    x = mlp_head(x, m.head_units, m.head_dropout, "head", seeds)
    # float32 logits keep the softmax cross-entropy stable under mixed-precision policies.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name="vit")


def build(cfg: RunConfig, inputs: ModelInputs) -> keras.Model:
    """The variant table's builder of `vit`, `spt`, `lsa` and `spt-lsa`."""
    return build_vit(
        cfg.model,
        cfg.augment,
        inputs.num_classes,
        inputs.input_shape,
        inputs.mean,
        inputs.variance,
        seed=cfg.train.seed,
    )


def _blocks(model: keras.Model) -> list[TransformerBlock]:
    found = []
    for layer in model.layers:
        match = _BLOCK_NAME.match(layer.name)
        if match and isinstance(layer, TransformerBlock):
            found.append((int(match.group(1)), layer))
    if not found:
        raise ValueError(f"model {model.name!r} has no TransformerBlock layers named block_<i>")
    return [layer for _, layer in sorted(found, key=lambda pair: pair[0])]


class _AttentionProbe(keras.layers.Layer):
    """Runs a trained block and returns (tokens, attention scores); never saved.

    Calling the block itself with `return_attention_scores=True` inside a functional graph
    does not work: Keras sizes a layer's outputs from its first call, which returned one tensor.
    """

    def __init__(self, block, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def call(self, x):
        return self.block(x, training=False, return_attention_scores=True)

    def compute_output_spec(self, x):
        return self.block.compute_output_spec(x, return_attention_scores=True)


# One read-out model per model, so repeated calls (UI clicks) do not rebuild the graph.
_ATTENTION_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _attention_model(model: keras.Model) -> keras.Model:
    cached = _ATTENTION_MODELS.get(model)
    if cached is not None:
        return cached
    blocks = _blocks(model)
    # `.input` is the tensor of the block's first call, its place in the model's own graph;
    # a `.keras` reload rebuilds that graph, so this works for loaded models too.
    x = blocks[0].input
    scores = []
    for block in blocks:
        x, block_scores = _AttentionProbe(block, name=f"{block.name}_probe")(x)
        scores.append(block_scores)
    reader = keras.Model(model.input, scores, name=f"{model.name}_attention")
    _ATTENTION_MODELS[model] = reader
    return reader


def attention_scores(model: keras.Model, images, batch_size: int = 32) -> list[np.ndarray]:
    """Per-block attention probabilities, each (B, heads, T, T), for images in inference mode.

    `model` is one built by `build_vit` (freshly or reloaded from `.keras`); `images` are
    shaped like its input, on the 0..255 scale.
    """
    reader = _attention_model(model)
    images = np.asarray(images, dtype="float32")
    # Called directly rather than through `predict`: a handful of images for a page does not
    # repay compiling a predict function (slow under JAX).
    batches = []
    for start in range(0, len(images), batch_size):
        out = reader(images[start : start + batch_size], training=False)
        if not isinstance(out, (list, tuple)):  # Keras unwraps a one-output list
            out = [out]
        # float32 whatever the model computes in (bfloat16 under mixed precision).
        batches.append([keras.ops.convert_to_numpy(scores).astype("float32") for scores in out])
    return [np.concatenate(per_block) for per_block in zip(*batches, strict=True)]


def lsa_temperatures(model: keras.Model) -> list[float] | None:
    """The learned softmax temperature of each block's LSA, or None without LSA."""
    values = []
    for block in _blocks(model):
        if isinstance(block.attention, LocalitySelfAttention):
            values.append(float(keras.ops.convert_to_numpy(block.attention.temperature)))
    return values or None


def attention_key_dim(model: keras.Model) -> int:
    """The per-head query/key width of the model's blocks (LSA's temperature starts at its root)."""
    return int(_blocks(model)[0].key_dim)
