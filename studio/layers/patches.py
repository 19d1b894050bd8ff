"""Turning images into tokens: shifted patch tokenization, position embedding, class token."""

from __future__ import annotations

import keras
from keras import ops

from studio.layers.shift_geometry import shift_views


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")


@keras.saving.register_keras_serializable(package="studio")
class ShiftedPatchTokenization(keras.layers.Layer):
    """Cut images into flattened patches and project them to tokens.

    With `shifted=True` this is Shifted Patch Tokenization (Lee, Lee & Song 2021): the image is
    concatenated on channels with four copies shifted diagonally by half a patch, so each token
    also sees its neighbours' pixels, and the flattened patches are layer-normalised before the
    projection. With `shifted=False` it is the plain ViT patch embedding. Patches are cut by
    reshape and transpose, so the layer runs on every Keras backend.

    Input `(B, image_size, image_size, C)`; output `(B, num_patches, projection_dim)`.

    Args:
        image_size: height and width of the input images.
        patch_size: side of a square patch; must divide `image_size`.
        projection_dim: width of the output tokens.
        shifted: concatenate the four half-patch shifts and layer-normalise (SPT).
        epsilon: layer normalisation epsilon (used only when `shifted`).
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self, image_size, patch_size, projection_dim, shifted=True, epsilon=1e-6, **kwargs
    ):
        super().__init__(**kwargs)
        _check_positive_int("image_size", image_size)
        _check_positive_int("patch_size", patch_size)
        _check_positive_int("projection_dim", projection_dim)
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} is not divisible by patch_size={patch_size}")
        if epsilon <= 0:
            raise ValueError(f"epsilon={epsilon} must be > 0")
        self.image_size = image_size
        self.patch_size = patch_size
        self.projection_dim = projection_dim
        self.shifted = bool(shifted)
        self.epsilon = epsilon
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2
        self.norm = None
        self.projection = None

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"expected images shaped (B, H, W, C) with known C; got {tuple(input_shape)}"
            )
        for axis, size in (("height", input_shape[1]), ("width", input_shape[2])):
            if size is not None and size != self.image_size:
                raise ValueError(
                    f"image {axis}={size} does not match image_size={self.image_size}; "
                    "resize the images first"
                )
        views = 5 if self.shifted else 1
        patch_dim = self.patch_size * self.patch_size * input_shape[-1] * views
        flat_shape = (input_shape[0], self.num_patches, patch_dim)
        if self.shifted:
            self.norm = keras.layers.LayerNormalization(
                epsilon=self.epsilon, dtype=self.dtype_policy, name="norm"
            )
            self.norm.build(flat_shape)
        self.projection = keras.layers.Dense(
            self.projection_dim, dtype=self.dtype_policy, name="projection"
        )
        self.projection.build(flat_shape)

    def shifted_views(self, images):
        """[ORIGINAL, LEFT-UP, LEFT-DOWN, RIGHT-UP, RIGHT-DOWN] views of (B, H, W, C) images."""
        return shift_views(images, self.patch_size, ops)

    def patches(self, images):
        """Flattened patches (B, num_patches, patch_size**2 * channels) the tokens come from."""
        if self.shifted:
            images = ops.concatenate(self.shifted_views(images), axis=-1)
        p, grid, channels = self.patch_size, self.grid_size, images.shape[-1]
        x = ops.reshape(images, (-1, grid, p, grid, p, channels))
        # Row-major patch order with (row, col, channel) inside a patch, the layout of
        # tf.image.extract_patches in the Keras example.
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, self.num_patches, p * p * channels))

    def call(self, images):
        x = self.patches(images)
        if self.shifted:
            x = self.norm(x)
        return self.projection(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_patches, self.projection_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "patch_size": self.patch_size,
                "projection_dim": self.projection_dim,
                "shifted": self.shifted,
                "epsilon": self.epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="studio")
class PatchEncoder(keras.layers.Layer):
    """Add a learned position embedding to each token.

    Args:
        num_patches: number of tokens the layer expects (patches, plus one with a class token).
        projection_dim: token width.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, num_patches, projection_dim, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("num_patches", num_patches)
        _check_positive_int("projection_dim", projection_dim)
        self.num_patches = num_patches
        self.projection_dim = projection_dim

    def build(self, input_shape):
        if tuple(input_shape[1:]) != (self.num_patches, self.projection_dim):
            raise ValueError(
                f"expected tokens shaped (B, {self.num_patches}, {self.projection_dim}) "
                f"(num_patches, projection_dim); got {tuple(input_shape)}"
            )
        # The Keras example's Embedding layer draws from U(-0.05, 0.05); keep its start.
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(self.num_patches, self.projection_dim),
            initializer=keras.initializers.RandomUniform(-0.05, 0.05),
        )

    def call(self, tokens):
        return tokens + self.position_embedding

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_patches": self.num_patches, "projection_dim": self.projection_dim})
        return config


@keras.saving.register_keras_serializable(package="studio")
class ClassToken(keras.layers.Layer):
    """Prepend one learned token whose final state summarises the image.

    Args:
        projection_dim: token width.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, projection_dim, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("projection_dim", projection_dim)
        self.projection_dim = projection_dim

    def build(self, input_shape):
        if input_shape[-1] != self.projection_dim:
            raise ValueError(
                f"tokens have width {input_shape[-1]}, expected projection_dim="
                f"{self.projection_dim}"
            )
        self.token = self.add_weight(
            name="token", shape=(1, 1, self.projection_dim), initializer="zeros"
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.broadcast_to(
            ops.cast(self.token, tokens.dtype), (batch, 1, self.projection_dim)
        )
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"projection_dim": self.projection_dim})
        return config
