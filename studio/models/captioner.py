"""The captioner: the studio's ViT trunk encodes an image, a small Transformer writes its caption.

One functional model, `captioner`, made of two nested functional models that can be run
apart, so generation encodes each image once and then runs only the decoder per token:

- `image_encoder`: float32 images on the 0..255 scale (H, W, 3) -> (B, T, projection_dim)
  tokens. The ViT of `studio.models.vit` without its head: normalisation, resizing,
  augmentation (training only), patch tokens (SPT when `model.spt`), a class token when
  `model.pooling == "cls"`, position embedding and `model.depth` blocks named `block_{i}`
  (LSA when `model.lsa`), so `studio.models.vit.attention_scores` reads it as it reads a ViT.
- `caption_decoder`: teacher-forced token ids (max_length - 1,) and the image tokens ->
  logits (B, max_length - 1, vocab), float32 in every precision policy. keras-hub's
  `TokenAndPositionEmbedding` and `caption.decoder_depth` `TransformerDecoder` blocks (causal
  self-attention, cross-attention to the image tokens, padding mask), pre-norm, then a final
  layer norm and a float32 `Dense` to the vocabulary.

The captioner's inputs are a dict: `{"images": (B, H, W, 3) float32, "tokens": (B, L) int}`,
L = `caption.max_length - 1`, token id 0 is padding. Position i's logits predict token i + 1
of the caption; `teacher_forcing` cuts a batch of padded captions into inputs and targets.
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np

from studio.config.schema import RunConfig
from studio.layers.captions import (  # noqa: F401  (re-exported: the model's parts, read here)
    DECODER,
    ENCODER,
    PAD_ID,
    PaddingMask,
    caption_decoder,
    caption_length,
    image_encoder,
)
from studio.layers.patches import ClassToken, PatchEncoder
from studio.models.vit import encode, patch_tokens, seeds_from

MODEL_NAME = "captioner"
IMAGES, TOKENS, IMAGE_TOKENS = "images", "tokens", "image_tokens"


def build_image_encoder(
    cfg: RunConfig, input_shape: tuple, mean, variance, seed: int | None = None
) -> keras.Model:
    """The ViT trunk without its head (name "image_encoder"): images -> (B, T, projection_dim).

    T is `model.num_patches`, plus one class token first when `model.pooling == "cls"` (the
    token layout the attention tools read from the run's config).
    """
    m = cfg.model
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape} must be (height, width, channels)")
    seeds = seeds_from(seed)
    images = keras.Input(shape=tuple(input_shape), dtype="float32", name=IMAGES)
    x = patch_tokens(images, m, cfg.augment, mean, variance, seeds)
    tokens = m.num_patches
    if m.pooling == "cls":
        x = ClassToken(m.projection_dim, name="class_token")(x)
        tokens += 1
    x = PatchEncoder(tokens, m.projection_dim, name="position_embedding")(x)
    x = encode(x, m, seeds)
    return keras.Model(images, x, name=ENCODER)


def build_caption_decoder(cfg: RunConfig, vocab_size: int, image_tokens: int) -> keras.Model:
    """The text decoder (name "caption_decoder"): `[token ids (B, L), image tokens (B, T, D)]`
    -> float32 logits (B, L, vocab_size), L = `caption.max_length - 1`, D =
    `model.projection_dim`. Position i sees tokens 0..i only (causal self-attention)."""
    c, width = cfg.caption, cfg.model.projection_dim
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise ValueError(f"vocab_size={vocab_size!r} must be an integer >= 2")
    if c.max_length < 2:
        raise ValueError(f"caption.max_length={c.max_length} must be >= 2")
    length = c.max_length - 1
    token_ids = keras.Input(shape=(length,), dtype="int32", name=TOKENS)
    memory = keras.Input(shape=(image_tokens, width), name=IMAGE_TOKENS)
    padding = PaddingMask(name="padding_mask")(token_ids)
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocab_size,
        sequence_length=length,
        embedding_dim=width,
        name="token_embedding",
    )(token_ids)
    for i in range(c.decoder_depth):
        # Pre-norm like the encoder's blocks: it trains without warm-up tricks at small sizes.
        x = keras_hub.layers.TransformerDecoder(
            intermediate_dim=c.decoder_mlp,
            num_heads=c.decoder_heads,
            dropout=c.decoder_dropout,
            activation="gelu",
            layer_norm_epsilon=1e-6,
            normalize_first=True,
            name=f"decoder_block_{i}",
        )(x, memory, decoder_padding_mask=padding)
    # Pre-norm blocks leave their residual stream unnormalised; the head wants it normalised.
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(x)
    # float32 logits keep the softmax cross-entropy stable under mixed-precision policies.
    logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
    return keras.Model([token_ids, memory], logits, name=DECODER)


def build_captioner(
    cfg: RunConfig, vocab_size: int, input_shape: tuple, mean, variance
) -> keras.Model:
    """A fresh, uncompiled captioner (name "captioner") for `cfg` (`task == "caption"`).

    Inputs `{"images": (B, H, W, 3) float32 0..255, "tokens": (B, max_length - 1) int}`;
    output float32 logits (B, max_length - 1, vocab_size). `vocab_size` is the tokenizer's
    (padding id 0 included); `input_shape` is (H, W, 3) of the dataset's images; `mean` and
    `variance` are per-channel on the 0..255 scale. Augmentation is seeded from
    `train.seed`; weights follow Keras' global seed.
    """
    encoder = build_image_encoder(cfg, input_shape, mean, variance, seed=cfg.train.seed)
    decoder = build_caption_decoder(cfg, vocab_size, encoder.output.shape[1])
    images = keras.Input(shape=tuple(input_shape), dtype="float32", name=IMAGES)
    token_ids = keras.Input(shape=(cfg.caption.max_length - 1,), dtype="int32", name=TOKENS)
    logits = decoder([token_ids, encoder(images)])
    return keras.Model({IMAGES: images, TOKENS: token_ids}, logits, name=MODEL_NAME)


def teacher_forcing(captions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, max_length) padded token ids (start ... end, then 0s) -> (inputs, targets), each
    (N, max_length - 1): the model reads `captions[:, :-1]` and predicts `captions[:, 1:]`."""
    captions = np.asarray(captions)
    if captions.ndim != 2 or captions.shape[1] < 2:
        raise ValueError(f"captions shaped {captions.shape} must be (N, max_length >= 2)")
    return captions[:, :-1].astype("int32"), captions[:, 1:].astype("int32")
