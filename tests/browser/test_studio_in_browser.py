"""The studio as a person uses it: train digits in the browser, stop, resume, compare, upload.

The tests in this module share one server and run in order: the Runs page test compares the
runs the Train page test made. Real training happens (digits, cpu-quick, 3 epochs on 300
images), so expect a couple of minutes on two CPU cores.
"""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from PIL import Image

from tests.browser.page_helpers import (
    CURVES_JS,
    alert,
    record,
    set_number,
    traces,
    wait_for_points,
    wait_ready,
)

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

RUN_TIMEOUT_MS = 420_000
# Enough for the worker to import TensorFlow, load digits and build the model.
FIRST_POINT_TIMEOUT_MS = 240_000


def run_button(page, action: str):
    """The live panel's Stop or Resume (the header has a Stop button of its own)."""
    return page.locator(f"[class*='st-key-{action.lower()}-'] button")


def expand(page, label: str, inside) -> None:
    """Open an expander (a second click would shut it again) and wait for its content."""
    expander = page.locator("[data-testid='stExpander']").filter(has_text=label)
    if expander.locator("details[open]").count() == 0:
        expander.locator("summary").click()
    inside.wait_for()


def configure_quick_run(page) -> None:
    """3 epochs on 300 digits in batches of 64: a real run that ends in about a minute."""
    expand(page, "Hyperparameters", page.get_by_role("spinbutton", name="Epochs", exact=True))
    set_number(page, "Epochs", 3)
    set_number(page, "Image limit", 300)
    set_number(page, "Batch size", 64)
    page.get_by_text("3 epochs · batch 64").wait_for()


def test_train_digits_watch_live_stop_resume_and_complete(studio, page, browser):
    start_open = time.monotonic()
    page.goto(studio.url)
    wait_ready(page)
    record(studio, "train_page_first_open_s", round(time.monotonic() - start_open, 2))
    page.screenshot(path=studio.shots / "01-train-empty.png")
    configure_quick_run(page)
    page.screenshot(path=studio.shots / "02-train-hyperparameters.png")

    clicked = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    wait_for_points(page, "train", 1, FIRST_POINT_TIMEOUT_MS)
    record(studio, "start_to_first_point_s", round(time.monotonic() - clicked, 1))
    page.locator("[data-testid='stProgress']").scroll_into_view_if_needed()
    page.screenshot(path=studio.shots / "03-train-live.png")

    run_button(page, "Stop").click()
    alert(page, "Stopped").wait_for()
    page.screenshot(path=studio.shots / "04-train-stopped.png")
    # Resume continues from the last finished epoch's checkpoint (or from scratch).
    run_button(page, "Resume").click()
    alert(page, "Queued").or_(alert(page, "Running")).wait_for()
    page.screenshot(path=studio.shots / "05-train-resumed.png")

    # A second tab is a fresh session, like a reopened tab or a restarted studio: it shows
    # the run where it is. From there, launch a vanilla ViT to compare with later.
    other = browser.new_page(viewport={"width": 1400, "height": 2000})
    other.set_default_timeout(120_000)
    other.goto(studio.url)
    wait_ready(other)
    other.get_by_text("#1 ViT + SPT + LSA · digits").first.wait_for()
    alert(other, "Running").or_(alert(other, "Queued")).wait_for()
    configure_quick_run(other)
    other.locator("[data-testid='stButtonGroup']").get_by_text("Vanilla ViT").click()
    other.get_by_role("button", name="Start training").click()
    other.get_by_text("#2 Vanilla ViT · digits").first.wait_for()
    other.close()

    alert(page, "Completed").wait_for(timeout=RUN_TIMEOUT_MS)
    page.locator("[data-testid='stProgress']").scroll_into_view_if_needed()
    wait_for_points(page, "validation", 3, 30_000)
    run = next(r for r in studio.store().list_runs() if r.variant == "spt-lsa")
    assert run.status == "completed" and run.epochs_done == 3
    page.screenshot(path=studio.shots / "06-train-completed.png")


def test_runs_page_overlays_two_runs(studio, page):
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while any(r.status != "completed" for r in studio.store().list_runs()):
        assert time.monotonic() < deadline, "the runs did not complete"
        time.sleep(1)
    assert len(studio.store().list_runs()) == 2

    start_open = time.monotonic()
    page.goto(f"{studio.url}/runs")
    grid = page.locator("[data-testid='stDataFrame']")
    grid.wait_for()
    record(studio, "runs_page_open_s", round(time.monotonic() - start_open, 2))
    wait_ready(page)
    page.screenshot(path=studio.shots / "07-runs-table.png")
    box = grid.bounding_box()
    # Rows are drawn on a canvas: click each row's selection checkbox by position.
    header, row = 35, 35
    for index in range(2):
        page.mouse.click(box["x"] + 18, box["y"] + header + row * index + row / 2)
        page.wait_for_timeout(600)
    page.get_by_text("Compare", exact=True).wait_for()
    page.wait_for_function(
        f"() => {{ const p = ({CURVES_JS})('#2'); return !!p && p.data.length >= 6; }}"
    )
    names = {name for name, count in traces(page, "#1") if count}
    assert any(n.startswith("#1 ViT + SPT + LSA") for n in names), names
    assert any(n.startswith("#2 Vanilla ViT") for n in names), names
    expect(page.get_by_role("button", name="Download metrics of 2 run(s) (CSV)")).to_be_visible()
    page.screenshot(path=studio.shots / "08-runs-compare.png")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, format="PNG")
    return out.getvalue()


def test_upload_refuses_a_traversal_zip_and_accepts_class_folders(studio, page):
    start_open = time.monotonic()
    page.goto(studio.url)
    page.get_by_role("button", name="Start training").wait_for()
    record(studio, "train_page_warm_open_s", round(time.monotonic() - start_open, 2))
    wait_ready(page)
    page.get_by_text("Upload a zip").click()
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    evil = _zip({"cats/a.png": _png("red"), "dogs/b.png": _png("blue"), "../../evil.png": b"x"})
    uploader.set_input_files(
        files=[{"name": "evil.zip", "mimeType": "application/zip", "buffer": evil}]
    )
    refusal = alert(page, "Refused")
    refusal.wait_for()
    assert "path traversal" in refusal.inner_text()
    assert page.get_by_text("../../evil.png").first.is_visible()
    assert not list(studio.home.rglob("evil.png"))
    assert not (studio.home.parent / "evil.png").exists()
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    page.screenshot(path=studio.shots / "09-upload-refused.png")

    # Five a class: the fewest that reach validation and test at 10 % each (else a warning).
    good = _zip({f"pets/{c}/{i}.png": _png(c) for c in ("red", "blue") for i in range(5)})
    # A received file is spooled to disk and the uploader replaced by a fresh one (the bytes
    # leave the server's memory): until the rerun ends, the old input is still on the page.
    expect(uploader).to_have_count(1)
    uploader.set_input_files(
        files=[{"name": "pets.zip", "mimeType": "application/zip", "buffer": good}]
    )
    alert(page, "Extracted 10 images").wait_for()
    page.get_by_text("2 classes").wait_for()
    # Ten images are fewer than the preset's batch: the page warns and offers "Start anyway".
    expect(page.get_by_role("button", name=re.compile("^Start (training|anyway)$"))).to_be_enabled()
    page.screenshot(path=studio.shots / "10-upload-accepted.png")
