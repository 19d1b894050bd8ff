"""Locality Self-Attention (Lee, Lee & Song 2021), written on Keras' public API."""

from __future__ import annotations

import math

import keras
from keras import ops

from studio.layers.dropout import ByteDropout


def attention_output_spec(x, num_heads: int, dtype, return_attention_scores: bool):
    """Symbolic outputs of a layer that keeps `x`'s shape and can return (B, H, T, T) scores."""
    output = keras.KerasTensor(x.shape, dtype=dtype)
    if not return_attention_scores:
        return output
    tokens = x.shape[1]
    return output, keras.KerasTensor((x.shape[0], num_heads, tokens, tokens), dtype=dtype)


@keras.saving.register_keras_serializable(package="studio")
class LocalitySelfAttention(keras.layers.Layer):
    """Multi-head self-attention that sharpens its focus on other tokens.

    Two changes to plain self-attention make ViT attend locally on small datasets: the softmax
    temperature is a learned scalar (initialised to `sqrt(key_dim)`, the usual fixed scale) and
    each token's score against itself is masked out, so every token must gather from others.
    The diagonal of the attention matrix is exactly 0.

    Input `(B, T, D)` with `T >= 2`; output `(B, T, D)`, plus scores `(B, num_heads, T, T)`
    when asked for.

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
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} must be in [0, 1)")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"expected tokens shaped (B, T, D) with known D; got {tuple(input_shape)}"
            )
        tokens, width = input_shape[1], input_shape[2]
        if tokens is not None and tokens < 2:
            raise ValueError(
                f"locality self-attention masks each token's own score, so it needs at least "
                f"2 tokens; got T={tokens} (input shape {tuple(input_shape)})"
            )
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
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(math.sqrt(self.key_dim)),
            trainable=True,
        )

    def call(self, x, training=None, return_attention_scores=False):
        # The temperature divides the queries rather than the (B, H, T, T) logits: the same
        # product on a tensor T / key_dim times smaller, with a gradient to match.
        scale = ops.cast(1.0 / self.temperature, self.compute_dtype)
        query = self.query_dense(x) * scale
        key = self.key_dense(x)
        value = self.value_dense(x)
        logits = ops.einsum("bqhk,bthk->bhqt", query, key)
        # Softmax in float32, so the masked diagonal underflows to exactly 0 whatever the
        # compute dtype (a large negative in float16 would overflow to -inf). The mask is a
        # constant added to the logits: one pass forward, none backward (a select is two).
        tokens = ops.shape(logits)[-1]
        diagonal = ops.eye(tokens, dtype="float32") * -1e9
        scores = ops.softmax(ops.cast(logits, "float32") + diagonal, axis=-1)
        scores = ops.cast(scores, self.compute_dtype)
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
