"""Geometry of Shifted Patch Tokenization's four diagonal shifts.

Backend-free on purpose: the Streamlit UI never imports keras, yet it must draw exactly the
views the model sees. It calls `shift_views` with numpy; the layer calls it with `keras.ops`.
A test pins that both agree.
"""

from __future__ import annotations

VIEW_NAMES = ("ORIGINAL", "LEFT-UP", "LEFT-DOWN", "RIGHT-UP", "RIGHT-DOWN")

# name -> (crop offset (rows, cols), pad offset (rows, cols)), in units of half a patch,
# as in the keras.io vit_small_ds example (tf.image.crop_to_bounding_box of size
# (H - half, W - half) then tf.image.pad_to_bounding_box back to (H, W)).
_SHIFTS = {
    "LEFT-UP": ((1, 1), (0, 0)),
    "LEFT-DOWN": ((0, 1), (1, 0)),
    "RIGHT-UP": ((1, 0), (0, 1)),
    "RIGHT-DOWN": ((0, 0), (1, 1)),
}


def _crop(offset: int, half: int) -> slice:
    # Open-ended slices keep the geometry valid for images whose height/width is unknown
    # until run time (symbolic tensors).
    return slice(half, None) if offset else slice(None, -half)


def shift_view(images, patch_size: int, name: str, ops):
    """One view of `images` (B, H, W, C): `name` is one of `VIEW_NAMES`.

    `ops` is the numpy module or `keras.ops`; padding is with zeros.
    """
    if name not in VIEW_NAMES:
        raise ValueError(f"name={name!r} is not one of {VIEW_NAMES}")
    half = patch_size // 2
    if name == "ORIGINAL" or half == 0:
        return images
    (crop_rows, crop_cols), (pad_rows, pad_cols) = _SHIFTS[name]
    cropped = images[:, _crop(crop_rows, half), _crop(crop_cols, half), :]
    pad_width = [
        [0, 0],
        [pad_rows * half, (1 - pad_rows) * half],
        [pad_cols * half, (1 - pad_cols) * half],
        [0, 0],
    ]
    return ops.pad(cropped, pad_width)


def shift_views(images, patch_size: int, ops) -> list:
    """The five views [ORIGINAL, LEFT-UP, LEFT-DOWN, RIGHT-UP, RIGHT-DOWN] of (B, H, W, C) images.

    Each view has the input's shape; `ops` is the numpy module or `keras.ops`.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be shaped (B, H, W, C); got shape {tuple(images.shape)}")
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size={patch_size!r} must be an integer >= 1")
    return [shift_view(images, patch_size, name, ops) for name in VIEW_NAMES]
