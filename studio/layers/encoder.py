"""The transformer encoder block and the stochastic depth it uses."""

from __future__ import annotations

import keras
from keras import ops

from studio.layers.attention import LocalitySelfAttention, SelfAttention, attention_output_spec
from studio.layers.dropout import ByteDropout, check_rate


@keras.saving.register_keras_serializable(package="studio")
class DropPath(keras.layers.Layer):
    """Stochastic depth: drop a residual branch for whole samples while training.

    Each sample's branch is zeroed with probability `rate` and scaled by `1 / (1 - rate)`
    otherwise, so its expected value is unchanged. The identity at inference.

    Args:
        rate: probability of dropping the branch for a sample.
        seed: seed for the random draws.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate("rate", rate)
        self.rate = rate
        self.seed = seed
        # A SeedGenerator is layer state, so JAX's stateless RNG advances between steps.
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        return x * ops.floor(keep + noise) / keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="studio")
class TransformerBlock(keras.layers.Layer):
    """Pre-norm transformer encoder block, as in the Keras small-datasets ViT example.

    `x + DropPath(Attention(LN(x)))`, then `x + DropPath(MLP(LN(x)))`. The attention is
    the studio's `SelfAttention` with `key_dim` per head, or `LocalitySelfAttention` with the
    same sizes when `locality` is set. The MLP is one `Dense(gelu)` + `ByteDropout` per entry
    of `mlp_units`.

    Args:
        num_heads: attention heads.
        projection_dim: token width.
        mlp_units: hidden widths of the MLP; the last must equal `projection_dim`.
        dropout: dropout rate on attention probabilities and after each MLP layer.
        drop_path: stochastic depth rate for both residual branches.
        locality: use Locality Self-Attention instead of plain multi-head attention.
        epsilon: layer normalisation epsilon.
        seed: seed for the drop-path draws.
        key_dim: each head's query/key width; None means `projection_dim` (the Keras
            example's choice, 4x the usual `projection_dim // num_heads`).
        keras_attention: plain attention is Keras' `MultiHeadAttention`, as in blocks saved
            before the studio had its own (their configs lack this key and load with it set).
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        num_heads,
        projection_dim,
        mlp_units,
        dropout=0.0,
        drop_path=0.0,
        locality=False,
        epsilon=1e-6,
        seed=None,
        key_dim=None,
        keras_attention=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        key_dim = projection_dim if key_dim is None else key_dim
        for name, value in (
            ("num_heads", num_heads),
            ("projection_dim", projection_dim),
            ("key_dim", key_dim),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be an integer >= 1")
        mlp_units = list(mlp_units)
        if not mlp_units or any(not isinstance(u, int) or u < 1 for u in mlp_units):
            raise ValueError(f"mlp_units={mlp_units} must be a non-empty list of integers >= 1")
        if mlp_units[-1] != projection_dim:
            raise ValueError(
                f"mlp_units={mlp_units} must end with projection_dim={projection_dim} "
                "(the residual adds the MLP output back to the tokens)"
            )
        check_rate("dropout", dropout)
        check_rate("drop_path", drop_path)
        self.num_heads = num_heads
        self.projection_dim = projection_dim
        self.mlp_units = mlp_units
        self.dropout = dropout
        self.drop_path = drop_path
        self.locality = bool(locality)
        self.epsilon = epsilon
        self.seed = seed
        self.key_dim = key_dim
        self.keras_attention = bool(keras_attention)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.setdefault("keras_attention", True)
        return super().from_config(config)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != self.projection_dim:
            raise ValueError(
                f"expected tokens shaped (B, T, {self.projection_dim}) (projection_dim); "
                f"got {tuple(input_shape)}"
            )
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.epsilon, dtype=policy, name="attention_norm"
        )
        self.attention_norm.build(input_shape)
        if self.locality:
            self.attention = LocalitySelfAttention(
                self.num_heads, self.key_dim, self.dropout, dtype=policy, name="attention"
            )
            self.attention.build(input_shape)
        elif not self.keras_attention:
            self.attention = SelfAttention(
                self.num_heads, self.key_dim, self.dropout, dtype=policy, name="attention"
            )
            self.attention.build(input_shape)
        else:
            self.attention = keras.layers.MultiHeadAttention(
                self.num_heads,
                key_dim=self.key_dim,
                dropout=self.dropout,
                dtype=policy,
                name="attention",
            )
            self.attention.build(input_shape, input_shape)
        self.mlp_norm = keras.layers.LayerNormalization(
            epsilon=self.epsilon, dtype=policy, name="mlp_norm"
        )
        self.mlp_norm.build(input_shape)
        self.mlp_dense = []
        self.mlp_dropout = []
        shape = tuple(input_shape)
        for i, units in enumerate(self.mlp_units):
            dense = keras.layers.Dense(units, activation="gelu", dtype=policy, name=f"mlp_{i}")
            dense.build(shape)
            shape = (*shape[:-1], units)
            self.mlp_dense.append(dense)
            self.mlp_dropout.append(
                ByteDropout(self.dropout, dtype=policy, name=f"mlp_dropout_{i}")
            )
        # Two generators so the branches drop independently even with a fixed seed.
        branch_seeds = (None, None) if self.seed is None else (self.seed, self.seed + 1)
        self.attention_drop_path = DropPath(self.drop_path, branch_seeds[0], dtype=policy)
        self.mlp_drop_path = DropPath(self.drop_path, branch_seeds[1], dtype=policy)

    def call(self, x, training=None, return_attention_scores=False):
        h = self.attention_norm(x)
        # MultiHeadAttention takes (query, value); self-attention passes the tokens twice.
        inputs = (h, h) if self.uses_keras_attention else (h,)
        h = self.attention(
            *inputs, training=training, return_attention_scores=return_attention_scores
        )
        if return_attention_scores:
            h, scores = h
        x = x + self.attention_drop_path(h, training=training)
        h = self.mlp_norm(x)
        for dense, dropout in zip(self.mlp_dense, self.mlp_dropout, strict=True):
            h = dropout(dense(h), training=training)
        x = x + self.mlp_drop_path(h, training=training)
        if return_attention_scores:
            return x, scores
        return x

    @property
    def uses_keras_attention(self) -> bool:
        return self.keras_attention and not self.locality

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, x, training=None, return_attention_scores=False):
        return attention_output_spec(x, self.num_heads, self.compute_dtype, return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "projection_dim": self.projection_dim,
                "mlp_units": list(self.mlp_units),
                "dropout": self.dropout,
                "drop_path": self.drop_path,
                "locality": self.locality,
                "epsilon": self.epsilon,
                "seed": self.seed,
                "key_dim": self.key_dim,
                "keras_attention": self.keras_attention,
            }
        )
        return config
