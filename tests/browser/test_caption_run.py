"""A captioning run from the Train page in chromium (issue 15): switch the task, train a small
run on the shapes set, and see its example captions appear as image + caption cards in its
view; screenshots of the form in caption mode and of the run's view."""

from __future__ import annotations

import pytest

from tests.browser.page_helpers import set_number, wait_ready

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

# No script run in progress: Streamlit shows its status widget only while one runs.
SETTLED = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# Loading the shapes set, two epochs of 300 images and scoring 256 validation captions per
# epoch with beam search take about two minutes on two cores; CI machines can be slower.
TRAINED_MS = 420_000


def test_a_caption_run_started_from_the_form_shows_example_captions(studio, page):
    page.goto(studio.url)
    wait_ready(page)
    page.locator(".st-key-task").get_by_text("Caption images", exact=True).click()
    page.wait_for_function(SETTLED)
    # The shapes set is described with a few of its scenes under their captions.
    expect(page.locator(".st-key-caption_samples img")).to_have_count(5)
    expect(page.get_by_text("Captioning: 64 px, patch 8")).to_be_visible()
    page.locator("[data-testid='stExpander']").filter(has_text="Hyperparameters").locator(
        "summary"
    ).click()
    page.get_by_text("Decoder depth").first.wait_for()
    expect(page.get_by_text("Mixup alpha")).to_have_count(0)
    expect(page.get_by_text("Head MLP units")).to_have_count(0)
    set_number(page, "Epochs", 2)
    page.get_by_text("2 epochs · batch").wait_for()
    set_number(page, "Image limit", 300)
    page.get_by_text("limit 300").wait_for()
    page.get_by_role("spinbutton", name="Image limit", exact=True).blur()
    page.wait_for_function(SETTLED)
    page.screenshot(path=studio.shots / "train-caption-form.png", full_page=True)

    page.get_by_role("button", name="Start training").click()
    expect(page.locator(".st-key-queued_notice")).to_contain_text("Queued run #")
    store = studio.store()
    (run,) = [r for r in store.list_runs() if r.config.get("task") == "caption"]
    assert run.config["data"] == {**run.config["data"], "dataset": "shapes", "limit": 300}
    assert run.config["train"]["epochs"] == 2

    # The Train page's live view watches the new run: its cards appear after an epoch.
    cards = page.locator(f".st-key-caption-cards-{run.id} [class*='st-key-caption-card-']")
    expect(cards.first).to_be_visible(timeout=TRAINED_MS)
    expect(cards.first.locator("img")).to_have_count(1)

    # Its view on the Runs page, once it has finished: curves of its own, cards, scores.
    page.wait_for_function(
        "() => document.body.innerText.includes('test BLEU-4')", timeout=TRAINED_MS
    )
    page.goto(f"{studio.url}/runs?run={run.id}")
    wait_ready(page)
    cards = page.locator(f".st-key-caption-cards-{run.id} [class*='st-key-caption-card-']")
    expect(cards).to_have_count(run.config["caption"]["examples"])
    expect(page.get_by_text("Example captions", exact=True)).to_be_visible()
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_role("link", name="Train again with these settings")).to_be_visible()
    expect(main.get_by_role("link", name="Demo", exact=True)).to_be_visible()
    for missing in ("Evaluate", "Patches"):
        expect(main.get_by_role("link", name=missing, exact=True)).to_have_count(0)
    expect(page.get_by_text("Export the model")).to_have_count(0)
    cards.first.locator("summary").click()
    expect(cards.first.get_by_text("References")).to_be_visible()
    expect(cards.first.get_by_text("epoch 1:")).to_be_visible()
    page.wait_for_function(SETTLED)
    page.wait_for_timeout(500)  # the expander's opening animation
    page.screenshot(path=studio.shots / "caption-run-view.png", full_page=True)
    finished = store.get(run.id)
    assert finished.status == "completed", finished.reason
    assert set(finished.test) == {"bleu4", "cider"}
