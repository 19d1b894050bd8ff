"""The five SPT views: exact geometry, numpy == keras.ops, and the layer draws what the UI shows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from studio.layers.patches import ShiftedPatchTokenization
from studio.layers.shift_geometry import VIEW_NAMES, shift_views
from studio.ui import patch_figures as pf

# A 4x4 image, patch 2 (half a patch = 1 pixel); 0 is padding.
IMAGE = np.arange(1, 17, dtype="float32").reshape(4, 4)
EXPECTED = {
    "ORIGINAL": IMAGE,
    "LEFT-UP": [[6, 7, 8, 0], [10, 11, 12, 0], [14, 15, 16, 0], [0, 0, 0, 0]],
    "LEFT-DOWN": [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]],
    "RIGHT-UP": [[0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0]],
    "RIGHT-DOWN": [[0, 0, 0, 0], [0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]],
}


def _reference(images, patch_size, name):
    """tf.image.crop_to_bounding_box + pad_to_bounding_box of the Keras example, in numpy."""
    half = patch_size // 2
    crop, pad = {
        "LEFT-UP": ((half, half), (0, 0)),
        "LEFT-DOWN": ((0, half), (half, 0)),
        "RIGHT-UP": ((half, 0), (0, half)),
        "RIGHT-DOWN": ((0, 0), (half, half)),
    }[name]
    _, height, width, _ = images.shape
    cropped = images[:, crop[0] : crop[0] + height - half, crop[1] : crop[1] + width - half]
    out = np.zeros_like(images)
    out[:, pad[0] : pad[0] + height - half, pad[1] : pad[1] + width - half] = cropped
    return out


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_each_view_matches_hand_made_4x4(name):
    views = dict(zip(VIEW_NAMES, shift_views(IMAGE[None, :, :, None], 2, np), strict=True))
    np.testing.assert_array_equal(views[name][0, :, :, 0], np.asarray(EXPECTED[name]))


@pytest.mark.parametrize("patch_size", [2, 3, 5])
def test_views_match_the_keras_example_crop_and_pad(patch_size):
    images = np.random.default_rng(0).random((2, 6, 8, 3)).astype("float32")
    views = shift_views(images, patch_size, np)
    assert len(views) == 5
    np.testing.assert_array_equal(views[0], images)
    for name, view in zip(VIEW_NAMES[1:], views[1:], strict=True):
        assert view.shape == images.shape
        np.testing.assert_array_equal(view, _reference(images, patch_size, name))


def test_patch_size_one_shifts_nothing():
    images = np.random.default_rng(1).random((1, 5, 5, 1))
    for view in shift_views(images, 1, np):
        np.testing.assert_array_equal(view, images)


def test_numpy_and_keras_ops_agree():
    from keras import ops

    images = np.random.default_rng(2).random((2, 12, 12, 3)).astype("float32")
    for np_view, keras_view in zip(
        shift_views(images, 6, np), shift_views(ops.convert_to_tensor(images), 6, ops), strict=True
    ):
        np.testing.assert_array_equal(np_view, ops.convert_to_numpy(keras_view))


def test_layer_shows_the_views_the_page_draws():
    from keras import ops

    from studio.layers import ShiftedPatchTokenization

    images = np.random.default_rng(3).random((1, 12, 12, 3)).astype("float32") * 255
    layer = ShiftedPatchTokenization(12, 4, 8)
    for page_view, layer_view in zip(
        shift_views(images, 4, np), layer.shifted_views(ops.convert_to_tensor(images)), strict=True
    ):
        np.testing.assert_array_equal(page_view, ops.convert_to_numpy(layer_view))


def test_module_imports_neither_keras_nor_tensorflow():
    code = (
        "import sys, studio.layers.shift_geometry; "
        "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]; "
        "print(*bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("patch_size", [3, 4, 6])
def test_page_views_equal_what_the_spt_layer_tokenises(patch_size):
    """The layer's own code path (keras.ops): its patches are the page's views, cut the same."""
    image = np.random.default_rng(patch_size).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    layer = ShiftedPatchTokenization(12, patch_size, 8, shifted=True)
    tensor = ops.convert_to_tensor(image[None].astype("float32"))
    layer_patches = ops.convert_to_numpy(layer.patches(tensor))[0]
    page = pf.page_views(image, patch_size)
    np.testing.assert_array_equal(layer_patches, pf.flat_patches(page, patch_size))
    for name, layer_view in zip(VIEW_NAMES, layer.shifted_views(tensor), strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(layer_view)[0], page[name])
