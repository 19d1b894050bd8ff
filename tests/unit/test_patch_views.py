"""The Patches page: its five views are the SPT layer's, its sizes are explained, big and thin
images work, and the page reacts to patch sizes without a traceback."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from studio.datasets.images import decode_image
from studio.layers.shift_geometry import VIEW_NAMES
from studio.ui import patch_figures as pf
from studio.ui.image_sources import digit_png, folder_images, sample_paths
from tests.conftest import REPO

# A 4x4 one-channel image, patch 2 (half a patch = 1 pixel); 0 is padding.
IMAGE = np.arange(1, 17, dtype=np.uint8).reshape(4, 4, 1)
EXPECTED = {
    "ORIGINAL": IMAGE[..., 0],
    "LEFT-UP": [[6, 7, 8, 0], [10, 11, 12, 0], [14, 15, 16, 0], [0, 0, 0, 0]],
    "LEFT-DOWN": [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]],
    "RIGHT-UP": [[0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0]],
    "RIGHT-DOWN": [[0, 0, 0, 0], [0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]],
}
# A 6x6 image, patch 4 (half a patch = 2 pixels): values are 10 * row + col.
SIX = (np.arange(6)[:, None] * 10 + np.arange(6)[None, :]).astype(np.uint8)[..., None]
EXPECTED_HALF_2 = {
    "LEFT-UP": [
        [22, 23, 24, 25, 0, 0],
        [32, 33, 34, 35, 0, 0],
        [42, 43, 44, 45, 0, 0],
        [52, 53, 54, 55, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ],
    "RIGHT-DOWN": [
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 1, 2, 3],
        [0, 0, 10, 11, 12, 13],
        [0, 0, 20, 21, 22, 23],
        [0, 0, 30, 31, 32, 33],
    ],
}


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_each_page_view_matches_a_hand_made_array(name):
    views = pf.page_views(IMAGE, 2)
    assert list(views) == list(VIEW_NAMES)
    np.testing.assert_array_equal(views[name][..., 0], np.asarray(EXPECTED[name]))


@pytest.mark.parametrize("name", sorted(EXPECTED_HALF_2))
def test_a_half_patch_of_two_pixels_shifts_by_two(name):
    np.testing.assert_array_equal(
        pf.page_views(SIX, 4)[name][..., 0], np.asarray(EXPECTED_HALF_2[name])
    )


@pytest.mark.parametrize("patch_size", [1, 2, 3, 4, 5, 8])
def test_every_view_pixel_comes_from_the_original_shifted_by_half_a_patch(patch_size):
    image = np.random.default_rng(patch_size).integers(1, 256, (8, 8, 3), dtype=np.uint8)
    half = patch_size // 2
    for name, view in pf.page_views(image, patch_size).items():
        assert view.shape == image.shape and view.dtype == image.dtype
        dy, dx = pf.source_offset(name, half)
        for y in range(8):
            for x in range(8):
                sy, sx = y + dy, x + dx
                inside = 0 <= sy < 8 and 0 <= sx < 8
                expected = image[sy, sx] if inside else np.zeros(3, np.uint8)
                np.testing.assert_array_equal(view[y, x], expected, err_msg=f"{name} ({y},{x})")


def test_flat_patches_concatenate_the_five_views_patch_by_patch():
    image = np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    views = pf.page_views(image, 4)
    flat = pf.flat_patches(views, 4)
    assert flat.shape == (9, 4 * 4 * 3 * 5)
    grid = pf.Grid(12, 4)
    for row in range(3):
        for col in range(3):
            stacked = np.concatenate(
                [pf.patch_pixels(views[n], 4, row, col) for n in VIEW_NAMES], axis=-1
            )
            np.testing.assert_array_equal(flat[grid.index(row, col)], stacked.reshape(-1))


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image_size", "patch_size"), [(72, 6), (32, 4), (8, 8), (4, 1)])
def test_pairs_that_tile_are_accepted(image_size, patch_size):
    assert pf.size_problem(image_size, patch_size) is None


def test_a_patch_that_does_not_divide_explains_and_suggests():
    message = pf.size_problem(72, 5)
    assert "72 px is not divisible by 5 px" in message
    assert "2-px strip" in message
    assert "2, 3, 4, 6, 8, 9, 12, 18, 24, 36" in message
    assert "70 or 75 px" in message


@pytest.mark.parametrize(
    ("image_size", "patch_size", "words"),
    [
        (72, 100, "larger than the 72-px image"),
        (2, 1, "outside 4–512 px"),
        (4000, 8, "outside 4–512 px"),
        (72, 0, "at least 1 px"),
        (7, 2, "Patch sizes that fit 7 px: only 1 and the image size itself"),
    ],
)
def test_invalid_pairs_are_explained(image_size, patch_size, words):
    assert words in pf.size_problem(image_size, patch_size)


def test_grid_geometry_and_clamping():
    grid = pf.Grid(72, 6)
    assert (grid.side, grid.num_patches, grid.half) == (12, 144, 3)
    assert grid.index(2, 5) == 29 and grid.cell(29) == (2, 5)
    assert grid.clamp(40, -3) == (11, 0)
    assert grid.centre() == (6, 6)
    assert "12 × 12 = 144 patches of 6 px" in pf.grid_summary(grid)
    assert "all five views are identical" in pf.grid_summary(pf.Grid(8, 1))


# -- selection and figures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"points": [{"customdata": [17, 1, 5]}]}, 17),
        ({"points": [{"customdata": {"0": 17, "1": 1, "2": 5}}]}, 17),
        ({"points": [{"customdata": [3, 0, 3]}, {"customdata": [9, 1, 1]}]}, 9),
        ({"points": [], "point_indices": []}, None),
        ({"points": [{"x": 1.0, "y": 2.0}]}, None),
        (None, None),
    ],
)
def test_a_clicked_patch_is_read_from_the_chart_selection(selection, expected):
    assert pf.patch_from_selection(selection) == expected


def _traces(fig, kind):
    return [t for t in fig.data if t.type == kind]


def test_views_figure_draws_five_views_with_grid_hover_and_the_selected_patch():
    image = np.random.default_rng(0).integers(0, 256, (72, 72, 3), dtype=np.uint8)
    fig = pf.views_figure(pf.page_views(image, 6), 6, selected=(2, 5))
    images = _traces(fig, "image")
    assert [t.name for t in images] == list(VIEW_NAMES)
    assert all(t.source.startswith("data:image/png;base64,") for t in images)
    targets = [t for t in _traces(fig, "scatter") if t.mode == "markers"]
    assert len(targets) == 5 and all(len(t.x) == 144 for t in targets)
    assert tuple(targets[0].customdata[29]) == (29, 2, 5)
    lines = [t for t in _traces(fig, "scatter") if t.mode == "lines"]
    assert len(lines) == 10  # a halo and a line per view
    frames = fig.layout.shapes
    assert len(frames) == 5
    assert {(s.x0, s.y0, s.x1, s.y1) for s in frames} == {(29.5, 11.5, 35.5, 17.5)}
    assert [a.text for a in fig.layout.annotations] == list(VIEW_NAMES)


def test_dense_grids_drop_lines_and_hover_targets_but_still_draw():
    image = np.zeros((512, 512, 3), dtype=np.uint8)
    grid = pf.Grid(512, 1)
    started = time.perf_counter()
    fig = pf.views_figure(pf.page_views(image, 1), 1, selected=(0, 0))
    assert time.perf_counter() - started < 10
    assert len(_traces(fig, "image")) == 5
    assert not [t for t in _traces(fig, "scatter")]
    assert "patch grid is not drawn" in pf.too_dense_note(grid)
    assert "row and column inputs" in pf.too_dense_note(grid)
    assert pf.too_dense_note(pf.Grid(72, 6)) is None


def test_patch_strip_shows_the_patch_with_context_in_each_view():
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    fig = pf.patch_strip_figure(pf.page_views(image, 8), 8, selected=(0, 3))
    assert len(_traces(fig, "image")) == 5
    # Patch (0, 3) of 8 px with 4 px of context, clipped at the image's top and right edges.
    assert tuple(fig.layout.xaxis.range) == pytest.approx((19.3, 31.7))
    assert tuple(fig.layout.yaxis.range) == pytest.approx((11.7, -0.7))


def test_resized_figure_marks_the_vanilla_grid_and_selection():
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    fig = pf.resized_figure(image, 4, selected=(7, 7))
    assert len(_traces(fig, "image")) == 1
    markers = [t for t in _traces(fig, "scatter") if t.mode == "markers"]
    assert len(markers[0].x) == 64
    assert fig.layout.shapes[0].x0 == 27.5


# -- images of any shape ------------------------------------------------------------------------


def _encoded(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_4000x3000_photo_is_resized_once_quickly_and_drawn():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    photo = np.asarray(Image.fromarray(small).resize((4000, 3000), Image.Resampling.BILINEAR))
    data = _encoded(photo, "JPEG")
    started = time.perf_counter()
    pixels = decode_image(data, size=72)
    views = pf.page_views(pixels, 6)
    pf.views_figure(views, 6, (6, 6))
    elapsed = time.perf_counter() - started
    assert pixels.shape == (72, 72, 3)
    assert elapsed < 15, f"{elapsed:.1f} s"


@pytest.mark.parametrize("shape", [(500, 1), (1, 500), (1, 1)])
def test_one_pixel_wide_images_work(shape):
    column = np.linspace(0, 255, shape[0] * shape[1]).astype(np.uint8).reshape(shape)
    pixels = decode_image(_encoded(column, "PNG"), size=32)
    assert pixels.shape == (32, 32, 3)
    views = pf.page_views(pixels, 4)
    assert len(pf.views_figure(views, 4, (0, 0)).data) > 5
    pf.patch_strip_figure(views, 4, (7, 7))


# -- image sources ------------------------------------------------------------------------------


def test_samples_ship_with_their_licenses():
    samples = sample_paths()
    assert len(samples) >= 2
    licenses = (samples[0].parent / "LICENSES.md").read_text()
    for path in samples:
        assert path.name in licenses
        with Image.open(path) as im:
            assert max(im.size) <= 512


def test_a_digit_is_an_8x8_png_that_decodes_like_training():
    from studio.datasets.digits import sklearn_digits

    images, _ = sklearn_digits()
    data = digit_png(0)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.size, im.mode) == ((8, 8), "L")
    gray = np.round(images[0] * (255.0 / 16.0)).astype(np.uint8)
    np.testing.assert_array_equal(
        decode_image(data, size=32), decode_image(Image.fromarray(gray), size=32)
    )


def test_folders_list_class_images_or_loose_images(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "classes" / name).mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(tmp_path / "classes" / name / "a.png")
    (tmp_path / "loose").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "loose" / "b.jpg")
    assert {k: len(v) for k, v in folder_images(tmp_path / "classes").items()} == {
        "cat": 1,
        "dog": 1,
    }
    assert list(folder_images(tmp_path / "loose")) == ["images"]


# -- the page -----------------------------------------------------------------------------------


def _open_patches_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page("pages/patches.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_follows_sizes_explains_invalid_pairs_and_keeps_the_patch_in_the_grid(studio_home):
    # One app session for all of it: each fresh AppTest costs seconds on a busy machine.
    at = _open_patches_page()
    assert not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "12 × 12 = 144 patches of 6 px" in captions
    assert "chelsea-cat.jpg" in captions

    at.number_input(key="patches_patch_size").set_value(8).run()
    assert not at.exception
    assert "9 × 9 = 81 patches of 8 px" in " ".join(c.value for c in at.caption)

    at.number_input(key="patches_patch_size").set_value(5).run()
    assert not at.exception
    assert any("not divisible by 5 px" in e.value for e in at.error)

    at.number_input(key="patches_patch_size").set_value(6).run()
    at.number_input(key="patches_row").set_value(11).run()
    at.number_input(key="patches_patch_size").set_value(36).run()
    assert not at.exception and not at.error
    assert at.number_input(key="patches_row").value <= 1

    at.number_input(key="patches_image_size").set_value(2000).run()
    assert not at.exception
    assert any("outside 4–512 px" in e.value for e in at.error)


def test_the_page_modules_import_neither_keras_nor_tensorflow():
    code = (
        "import sys\n"
        "import studio.inference.attention_maps, studio.inference.client\n"
        "import studio.ui.attention_figures, studio.ui.attention_panel, studio.ui.image_picker\n"
        "import studio.ui.patch_figures, studio.ui.patch_widgets\n"
        "from studio.ui.image_sources import digit_png, digits_by_class, folder_images\n"
        "digit_png(digits_by_class()['3'][0])\n"
        "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "print(*bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
