"""Compare on the Runs page: two finished runs that differ in one field, selected in the table,
show that field with each run's value above their curves. The runs are written straight into
the store (no training), so this takes seconds."""

from __future__ import annotations

from tests.browser.page_helpers import wait_ready
from tests.helpers.finished_run import finished_run

ROW_PX = 35  # st.dataframe's row height, the header's too


def select_rows(page, key: str, rows: list[int]) -> None:
    """Tick the row markers (the grid is a canvas, so by position)."""
    grid = page.locator(f".st-key-{key} [data-testid='stDataFrame']")
    grid.wait_for()
    box = grid.bounding_box()
    for row in rows:
        page.mouse.click(box["x"] + 12, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2)


def test_compare_shows_the_one_setting_that_differs(studio, page):
    store = studio.store()
    finished_run(store, seed=0)
    finished_run(store, seed=1, overrides={"train.learning_rate": "0.001"})
    page.goto(f"{studio.url}/runs")
    wait_ready(page)
    select_rows(page, "runs_table", [0, 1])
    diff = page.locator(".st-key-compare_config_diff")
    diff.wait_for()
    # The grid's cells are drawn on a canvas; its accessible table carries the same text.
    diff.get_by_text("train.learning_rate").first.wait_for(state="attached")
    cells = diff.locator("[role='gridcell']").all_inner_texts()
    assert cells[:3] in (
        ["train.learning_rate", "0.001", "0.002"],
        ["train.learning_rate", "0.002", "0.001"],
    ), cells
    assert len(cells) == 3  # only the field that differs
    page.locator(".js-plotly-plot").first.wait_for()
    page.screenshot(path=studio.shots / "runs-compare.png", full_page=True)
