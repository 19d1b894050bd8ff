"""The Train form in chromium: Reset restores what the fields show, and a double click on
Start queues exactly one run (the two things AppTest cannot show: the browser's own widget
state and two clicks racing a rerun)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import studio_server
from tests.browser.page_helpers import set_number, wait_ready

# No script run in progress: Streamlit shows its status widget only while one runs.
SETTLED = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A studio of its own without the warm spare: this module never trains."""
    yield from studio_server(tmp_path_factory, {"STUDIO_WARM_WORKER": "0"})


def test_reset_restores_the_shown_values_and_a_double_click_queues_one_run(studio, page):
    page.goto(studio.url)
    wait_ready(page)
    page.locator("[data-testid='stExpander']").filter(has_text="Hyperparameters").locator(
        "summary"
    ).click()
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    set_number(page, "Epochs", 3)
    page.get_by_text("3 epochs · batch").wait_for()
    # The field keeps focus after Enter; clicking Reset would blur it and send its value
    # again in a rerun of its own, racing the button's. Leave it first, and let that settle.
    epochs.blur()
    page.wait_for_function(SETTLED)
    page.get_by_role("button", name="Reset to the preset's values").click()
    expect(epochs).to_have_value("10", timeout=15_000)
    # Before, the browser kept 3 and sent it back with the next edit.
    set_number(page, "Batch size", 64)
    page.get_by_text("10 epochs · batch 64").wait_for()
    expect(epochs).to_have_value("10")
    page.screenshot(path=studio.shots / "train-form-after-reset.png")

    page.get_by_role("button", name="Start training").dblclick()
    # The first click's answer, or the second's when the browser delivered both.
    notice = page.locator(".st-key-queued_notice")
    expect(notice).to_contain_text(re.compile(r"Queued run #1|Already queued as #1"))
    # A second click, if the browser delivered one, is answered within a rerun; the queued
    # run's live panel reruns every 1.5 s, so "no rerun running" never lasts: wait a while.
    page.wait_for_timeout(3000)
    # Still there (a toast would be gone), with the way to the run.
    expect(notice).to_contain_text(re.compile(r"Queued run #1|Already queued as #1"))
    expect(notice.get_by_role("link", name="Open run #1")).to_be_visible()
    page.screenshot(path=studio.shots / "train-queued-notice.png")
    store = studio.store()
    runs = store.list_runs()
    for run in runs:
        store.request_stop(run.id)  # no training: this test is about the queue
    assert len(runs) == 1, [r.id for r in runs]
    assert runs[0].config["train"]["epochs"] == 10 and runs[0].config["train"]["batch_size"] == 64


def test_the_vit_b16_form_shows_its_fields_only(studio, page):
    """ViT-B/16 reads a pretrained preset and freezes its backbone; its architecture comes
    from the preset, so no patch size or depth. A screenshot of the form as people see it."""
    page.goto(studio.url)
    wait_ready(page)
    page.locator(".st-key-variant").get_by_text("ViT-B/16", exact=True).click()
    page.wait_for_function(SETTLED)
    page.locator("[data-testid='stExpander']").filter(has_text="Hyperparameters").locator(
        "summary"
    ).click()
    page.get_by_text("Pretrained preset").first.wait_for()
    expect(page.get_by_text("Freeze backbone").first).to_be_visible()
    expect(page.get_by_role("spinbutton", name="Patch size", exact=True)).to_have_count(0)
    expect(page.get_by_role("spinbutton", name="Depth", exact=True)).to_have_count(0)
    page.wait_for_function(SETTLED)
    page.screenshot(path=studio.shots / "train-form-vit-b16.png", full_page=True)
