"""From a finished run's view, each "where next" link lands on the right page with the run
chosen (issue 14). Runs written straight into the store: no training, no keras here."""

from __future__ import annotations

import re

import pytest

from tests.browser.page_helpers import wait_ready
from tests.helpers.finished_run import finished_run

expect = pytest.importorskip("playwright.sync_api").expect


def main(page):
    """The page's body, not the navigation bar (whose links share the pages' names)."""
    return page.get_by_test_id("stMainBlockContainer")


def open_run(page, studio, run_id: str) -> None:
    page.goto(f"{studio.url}/runs?run={run_id}")
    wait_ready(page)
    main(page).get_by_role("link", name="Evaluate").wait_for()


def follow(page, name: str, heading: str) -> None:
    main(page).get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    wait_ready(page)


def test_each_where_next_link_lands_with_the_run_chosen(studio, page):
    store = studio.store()
    run, _ = finished_run(store)
    other, _ = finished_run(store, seed=1)

    def picked(label: str, text: str) -> None:
        combo = page.get_by_role("combobox", name=label)
        expect(combo).to_have_value(re.compile(re.escape(text)))

    open_run(page, studio, run.id)
    # The linked run is ticked in the table above its view (the grid's accessible rows).
    ticked = page.locator(".st-key-runs_table [role='row'][aria-selected='true']")
    expect(ticked).to_have_count(1, timeout=20_000)  # the tick lands on a rerun: slow under load
    expect(ticked).to_contain_text(run.id)
    page.screenshot(path=studio.shots / "run-view.png", full_page=True)
    follow(page, "Evaluate", "Evaluate")
    picked("Run", f"#{run.seq} ViT + SPT + LSA · digits")

    open_run(page, studio, run.id)
    follow(page, "Demo", "Demo")
    picked("Run", f"#{run.seq} ViT + SPT + LSA · digits")

    open_run(page, studio, run.id)
    # The Train page's form prefills itself from ?from= (its own tests say how).
    again = main(page).get_by_role("link", name="Train again with these settings")
    # Train is the default page: its address is the studio's root.
    expect(again).to_have_attribute("href", re.compile(rf"^(train)?\?from={run.id}$"))
    again.click()
    page.get_by_role("heading", name="Train a Vision Transformer").wait_for()
    # The Train page's live view offers Export, which opens that run on the Runs page.
    wait_ready(page)
    follow(page, "Export", "Runs")
    expect(page.get_by_text("Export the model")).to_be_visible()

    open_run(page, studio, run.id)
    page.get_by_role("button", name="Compare with…").click()
    # A popover draws outside the page's body.
    page.get_by_role("link", name=f"#{other.seq} ViT + SPT + LSA · digits").click()
    page.get_by_role("heading", name="Compare").wait_for()

    # Last: with a run picked, the Patches page starts computing its attention maps.
    open_run(page, studio, run.id)
    follow(page, "Patches", "Patches")
    picked("Finished run", f"#{run.seq} ViT + SPT + LSA")
