"""Self-attention with a float32 softmax, and Locality Self-Attention (Lee, Lee & Song 2021),
written on Keras' public API."""

from __future__ import annotations

import math

import keras
from keras import ops

from studio.layers.dropout import ByteDropout, check_rate


def attention_output_spec(x, num_heads: int, dtype, return_attention_scores: bool):
    """Symbolic outputs of a layer that keeps `x`'s shape and can return (B, H, T, T) scores."""
    output = keras.KerasTensor(x.shape, dtype=dtype)
    if not return_attention_scores:
        return output
    tokens = x.shape[1]
    return output, keras.KerasTensor((x.shape[0], num_heads, tokens, tokens), dtype=dtype)


@keras.saving.register_keras_serializable(package="studio")
class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention with its softmax in float32 whatever the compute dtype.

    Keras' `MultiHeadAttention` runs its softmax in the compute dtype (bfloat16 under mixed
    precision) and draws a 32-bit random number per attention weight for dropout; this layer
    keeps the softmax in float32 and drops with `ByteDropout`. On JAX, with no dropout to
    apply and no scores asked for, it calls `keras.ops.dot_product_attention`, which a GPU
    runs as one fused kernel.

    Input `(B, T, D)`; output `(B, T, D)`, plus scores `(B, num_heads, T, T)` when asked for.

    Args:
        num_heads: number of attention heads.
        key_dim: width of each head's queries, keys and values.
        dropout: dropout rate on the attention probabilities.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be an integer >= 1")
        check_rate("dropout", dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"expected tokens shaped (B, T, D) with known D; got {tuple(input_shape)}"
            )
        tokens, width = input_shape[1], input_shape[2]
        heads_shape = (None, self.num_heads, self.key_dim)
        for name in ("query", "key", "value"):
            dense = keras.layers.EinsumDense(
                "btd,dhk->bthk",
                output_shape=heads_shape,
                bias_axes="hk",
                dtype=self.dtype_policy,
                name=name,
            )
            dense.build(input_shape)
            setattr(self, f"{name}_dense", dense)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd",
            output_shape=(None, width),
            bias_axes="d",
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.output_dense.build((input_shape[0], tokens, self.num_heads, self.key_dim))
        self.attention_dropout = ByteDropout(self.dropout, dtype=self.dtype_policy)

    def query_scale(self):
        """What the queries are multiplied by before their product with the keys."""
        return 1.0 / math.sqrt(self.key_dim)

    def logits_mask(self, tokens):
        """A (T, T) float32 term added to the logits, or None."""
        return None

    def call(self, x, training=None, return_attention_scores=False):
        # Scaling the queries costs T / key_dim times less than scaling the (B, H, T, T)
        # logits, and gives the same product.
        query = self.query_dense(x) * ops.cast(self.query_scale(), self.compute_dtype)
        key = self.key_dense(x)
        value = self.value_dense(x)
        tokens = ops.shape(x)[1]
        mask = self.logits_mask(tokens)
        dropping = bool(training) and self.dropout > 0
        if keras.backend.backend() == "jax" and not dropping and not return_attention_scores:
            context = ops.dot_product_attention(
                query, key, value, mask=None if mask is None else mask > -1.0, scale=1.0
            )
            return self.output_dense(context)
        logits = ops.cast(ops.einsum("bqhk,bthk->bhqt", query, key), "float32")
        if mask is not None:
            logits = logits + mask
        scores = ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)
        weights = self.attention_dropout(scores, training=training)
        output = self.output_dense(ops.einsum("bhqt,bthk->bqhk", weights, value))
        if return_attention_scores:
            return output, scores
        return output

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, x, training=None, return_attention_scores=False):
        return attention_output_spec(x, self.num_heads, self.compute_dtype, return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_heads": self.num_heads, "key_dim": self.key_dim, "dropout": self.dropout}
        )
        return config


@keras.saving.register_keras_serializable(package="studio")
class LocalitySelfAttention(SelfAttention):
    """Multi-head self-attention that sharpens its focus on other tokens.

    Two changes to plain self-attention make ViT attend locally on small datasets: the softmax
    temperature is a learned scalar (initialised to `sqrt(key_dim)`, the usual fixed scale) and
    each token's score against itself is masked out, so every token must gather from others.
    The diagonal of the attention matrix is exactly 0: the mask adds -1e9 to the float32
    logits, which the softmax turns into exactly 0 (one pass forward, none backward).

    Input `(B, T, D)` with `T >= 2`; output `(B, T, D)`, plus scores `(B, num_heads, T, T)`
    when asked for.

    Args:
        num_heads: number of attention heads.
        key_dim: width of each head's queries, keys and values.
        dropout: dropout rate on the attention probabilities.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def build(self, input_shape):
        tokens = input_shape[1] if len(input_shape) == 3 else None
        if tokens is not None and tokens < 2:
            raise ValueError(
                f"locality self-attention masks each token's own score, so it needs at least "
                f"2 tokens; got T={tokens} (input shape {tuple(input_shape)})"
            )
        super().build(input_shape)
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(math.sqrt(self.key_dim)),
            trainable=True,
        )

    def query_scale(self):
        return 1.0 / self.temperature

    def logits_mask(self, tokens):
        return ops.eye(tokens, dtype="float32") * -1e9
