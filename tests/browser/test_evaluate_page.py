"""The Evaluate view as a person uses it: a finished digits run with no report yet, one click
to evaluate it, then the confusion heatmap, the mistakes gallery and the per-class table."""

from __future__ import annotations

import pytest

from tests.browser.page_helpers import wait_ready
from tests.helpers.sample_run import make_sample_run

expect = pytest.importorskip("playwright.sync_api").expect

HEATMAP_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(p => p.data && p.data.some(t => t.type === 'heatmap' && (t.y || []).length === 10))"""


def test_evaluate_view_of_a_digits_run_shows_heatmap_and_gallery(studio, page):
    store = studio.store()
    # An untrained digits model: it makes plenty of mistakes for the gallery.
    run = make_sample_run(store)

    page.goto(f"{studio.url}/evaluate?run={run.id}")
    wait_ready(page)
    page.get_by_role("heading", name="Evaluate").wait_for()
    # Evaluating runs `python -m studio evaluate` in a child process (TensorFlow import).
    page.get_by_role("button", name="Evaluate now").click()
    page.get_by_text("Test images").first.wait_for(timeout=240_000)
    report = store.run_dir(run.id) / "evaluation.json"
    assert report.exists()

    page.get_by_role("tab", name="Confusion matrix").click()
    page.wait_for_function(HEATMAP_JS)
    expect(page.get_by_text("Most confused pairs")).to_be_visible()

    page.get_by_role("tab", name="Mistakes").click()
    expect(page.get_by_text("most confident first")).to_be_visible()
    gallery = page.locator("[data-testid='stImage']")
    expect(gallery.first).to_be_visible()
    assert gallery.count() >= 6
    expect(gallery.first).to_contain_text("true ")
    page.screenshot(path=studio.shots / "evaluate-mistakes.png")

    page.get_by_role("tab", name="Per class").click()
    expect(page.get_by_role("button", name="Download the per-class table (CSV)")).to_be_visible()

    # The model card, written from the store and this report, with its download.
    page.get_by_role("tab", name="Model card").click()
    expect(page.get_by_role("heading", name="Model details")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Download the model card (zip)")).to_be_visible()
