"""The Patches page in a real browser: patch sizes redraw the five views, a click selects a
patch, huge and 1-pixel-wide uploads work, and a finished run's attention maps and mean
attention distance appear, the views taking the run's sizes.

Uses the studio server and chromium fixtures of tests/browser/conftest.py (skipped with a
reason when /usr/bin/chromium or playwright is missing). Screenshots and timings go to
STUDIO_SCREENSHOTS (or a temporary folder that the test output names).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from tests.browser.page_helpers import alert, nav_link, record, set_number, wait_ready

expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
).expect

# A busy two-core machine takes its time; these are ceilings, not expectations.
DRAW_TIMEOUT_MS = 90_000
ATTENTION_TIMEOUT_MS = 240_000

_HOVER_POINTS_JS = """(key) => {
    const plot = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    if (!plot || !plot.data) return null;
    const targets = plot.data.filter(t => t.mode === 'markers');
    if (!targets.length) return 0;
    const x = targets[0].x;
    if (Array.isArray(x) || ArrayBuffer.isView(x)) return x.length;
    // Plotly.py sends numpy arrays base64-encoded: {dtype: "f8", bdata: "..."}.
    const width = {f8: 8, f4: 4, i4: 4, u4: 4, i2: 2, u2: 2, i1: 1, u1: 1}[x.dtype];
    return atob(x.bdata).length / width;
}"""


def open_patches(studio, page) -> float:
    """Open the studio, go to Patches through the top navigation; seconds until drawn."""
    started = time.monotonic()
    page.goto(studio.url)
    wait_ready(page)
    nav_link(page, "Patches").click()
    page.get_by_role("heading", name="Patches").wait_for()
    wait_for_hover_points(page, 144)
    return time.monotonic() - started


def hover_points(page, key: str = "patches_views_chart") -> int | None:
    return page.evaluate(_HOVER_POINTS_JS, key)


def wait_for_hover_points(page, count: int, key: str = "patches_views_chart") -> None:
    """Wait until the chart's first hover-target trace has one point per patch of the grid."""
    page.wait_for_function(
        f"(key) => ({_HOVER_POINTS_JS})(key) === {count}", arg=key, timeout=DRAW_TIMEOUT_MS
    )


def test_changing_the_patch_size_redraws_the_five_views(studio, page):
    record(studio, "patches_page_open_s", round(open_patches(studio, page), 2))
    views = page.locator(".st-key-patches_views_chart")
    assert views.get_by_text("RIGHT-DOWN").count() == 1
    page.screenshot(path=studio.shots / "patches-01-cat-patch6.png")

    started = time.monotonic()
    set_number(page, "Patch size (px)", 8)
    wait_for_hover_points(page, 81)
    wait_for_hover_points(page, 81, key="patches_resized_chart")
    record(studio, "patch_size_redraw_s", round(time.monotonic() - started, 2))
    page.get_by_text("9 × 9 = 81 patches of 8 px").wait_for()
    page.screenshot(path=studio.shots / "patches-02-cat-patch8.png")

    set_number(page, "Patch size (px)", 5)
    alert(page, "72 px is not divisible by 5 px").wait_for(timeout=DRAW_TIMEOUT_MS)
    page.screenshot(path=studio.shots / "patches-03-invalid-pair.png")

    set_number(page, "Patch size (px)", 4)
    wait_for_hover_points(page, 324)
    assert not alert(page, "not divisible").is_visible()
    # The inputs show the patch the figures frame, also after a run that drew no inputs.
    expect(page.get_by_role("spinbutton", name="Patch row", exact=True)).to_have_value("6")
    page.get_by_text("(row 6, column 6) in each view").wait_for()

    # Hover a patch, then click it: the selection moves to it in every view.
    box = views.locator(".js-plotly-plot").bounding_box()
    x, y = box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.3
    page.mouse.move(x, y)
    page.locator(".hoverlayer .hovertext").first.wait_for()
    page.screenshot(path=studio.shots / "patches-04-hover.png")
    row = page.get_by_role("spinbutton", name="Patch row", exact=True)
    before = row.input_value()
    page.mouse.click(x, y)
    try:
        expect(row).not_to_have_value(before, timeout=20_000)
    except AssertionError:
        # A figure redrawn between mouse-down and mouse-up loses the click (seen once under
        # CI load); a person clicks again, and so does the test, on the redrawn figure.
        box = views.locator(".js-plotly-plot").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.3)
        expect(row).not_to_have_value(before, timeout=DRAW_TIMEOUT_MS)
    page.screenshot(path=studio.shots / "patches-05-clicked.png")


def _photo(path, size, fmt):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (max(size[1] // 100, 1), max(size[0] // 100, 1), 3), np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BILINEAR).save(path, format=fmt)
    return path


def test_a_4000x3000_photo_and_a_1_pixel_wide_image_upload(studio, page, tmp_path):
    open_patches(studio, page)
    page.locator(".st-key-patches_source").get_by_text("Upload", exact=True).click()
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    uploader.wait_for(state="attached")

    started = time.monotonic()
    uploader.set_input_files(str(_photo(tmp_path / "big.jpg", (4000, 3000), "JPEG")))
    page.get_by_text("JPEG 4000×3000 px, resized to 72×72").wait_for(timeout=DRAW_TIMEOUT_MS)
    wait_for_hover_points(page, 144)
    record(studio, "upload_4000x3000_to_drawn_s", round(time.monotonic() - started, 2))
    page.screenshot(path=studio.shots / "patches-06-upload-4000x3000.png")

    started = time.monotonic()
    thin = tmp_path / "thin.png"
    Image.fromarray(np.linspace(0, 255, 500).astype(np.uint8).reshape(500, 1)).save(thin)
    uploader.set_input_files(str(thin))
    page.get_by_text("PNG 1×500 px, resized to 72×72").wait_for(timeout=DRAW_TIMEOUT_MS)
    wait_for_hover_points(page, 144)
    record(studio, "upload_1x500_to_drawn_s", round(time.monotonic() - started, 2))
    page.screenshot(path=studio.shots / "patches-07-upload-1x500.png")


def test_attention_maps_of_a_finished_lsa_run(studio, page):
    from tests.helpers.sample_run import make_sample_run

    run = make_sample_run(studio.store(), variant="spt-lsa", **{"model.depth": "2"})
    open_patches(studio, page)
    started = time.monotonic()
    page.get_by_label("Finished run").click()
    page.get_by_role("option").filter(has_text=f"#{run.seq} ViT + SPT + LSA").first.click()
    page.get_by_text("Queries down, keys across").wait_for(timeout=ATTENTION_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const p = document.querySelector('.st-key-patches_heads_chart .js-plotly-plot');"
        " return !!p && !!p.data && p.data.length > 0; }",
        timeout=DRAW_TIMEOUT_MS,
    )
    record(studio, "attention_first_look_s", round(time.monotonic() - started, 1))
    assert page.get_by_text("Learned temperature per layer").is_visible()
    page.locator(".st-key-patches_rollout_chart").scroll_into_view_if_needed()
    page.screenshot(path=studio.shots / "patches-08-attention-lsa.png")
    # The shifted views follow the run: the tiny preset's 16 px image and 4-px patches.
    expect(page.get_by_role("spinbutton", name="Image size (px)", exact=True)).to_have_value("16")
    expect(page.get_by_role("spinbutton", name="Patch size (px)", exact=True)).to_have_value("4")
    wait_for_hover_points(page, 16)
    # Mean attention distance over the run's test images, one dot per layer and head.
    page.wait_for_function(
        "() => { const p = document.querySelector("
        "'.st-key-patches_distance_chart .js-plotly-plot');"
        " return !!p && !!p.data && p.data.length === 2; }",
        timeout=ATTENTION_TIMEOUT_MS,
    )
    page.locator(".st-key-patches_distance_chart").scroll_into_view_if_needed()
    page.screenshot(path=studio.shots / "patches-09-attention-distance.png")
