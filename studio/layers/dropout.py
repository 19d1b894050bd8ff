"""Dropout that draws one random byte per element instead of one 32-bit number."""

from __future__ import annotations

import os

import keras
from keras import ops

# Random bytes per 32-bit draw.
_BYTES_PER_DRAW = 4
# STUDIO_DROPOUT=keras draws as keras.layers.Dropout does (an exact rate): a lever for
# bench/train_speed.py, which measures one against the other.
DROPOUT_ENV = "STUDIO_DROPOUT"


def check_rate(name: str, value) -> None:
    """Refuse a drop rate outside [0, 1), naming the argument and its value."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value} must be in [0, 1)")


@keras.saving.register_keras_serializable(package="studio")
class ByteDropout(keras.layers.Layer):
    """Inverted dropout, its random numbers a quarter of `keras.layers.Dropout`'s.

    On a CPU the random draws of dropout on a ViT's (B, heads, T, T) attention weights cost
    more than the attention's matrix products (issue 11's note: 130 ms against 45 ms for
    one 256 x 4 x 144 x 144 tensor). Each element here is kept when one random byte is at
    least `round(rate * 256)`, four bytes to a 32-bit draw, so the rate is rounded to a
    multiple of 1/256 (0.1 drops 26/256 = 10.2 %); kept values are scaled by the inverse of
    the rounded keep rate, so the expected value is unchanged. The identity at inference.

    Args:
        rate: share of elements to drop, in [0, 1).
        seed: seed for the random draws.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate("rate", rate)
        self.rate = rate
        self.seed = seed
        self.threshold = round(rate * 256)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    @property
    def effective_rate(self) -> float:
        """The share actually dropped: the rate rounded to a multiple of 1/256."""
        return self.threshold / 256

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if os.environ.get(DROPOUT_ENV) == "keras":
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)
        if self.threshold == 0:
            return inputs
        # Four bytes per draw along the last axis, whose size is known when the layer runs
        # inside a traced function even when the batch size is not.
        width = inputs.shape[-1]
        draws = -(-width // _BYTES_PER_DRAW)
        shape = (*ops.shape(inputs)[:-1], draws)
        bits = keras.random.randint(
            shape, -(2**31), 2**31 - 1, dtype="int32", seed=self.seed_generator
        )
        bytes_ = ops.view(bits, "uint8")
        if draws * _BYTES_PER_DRAW != width:
            bytes_ = bytes_[..., :width]
        keep = bytes_ >= self.threshold
        scale = 1.0 / (1.0 - self.effective_rate)
        return inputs * ops.cast(keep, inputs.dtype) * ops.cast(scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
