"""The Evaluate page without a browser: a finished run's report drawn, a run without one
offered "Evaluate now", and another run to compare with."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from studio.runs import artifacts
from studio.runs.store import RunStore
from tests.conftest import REPO
from tests.helpers.finished_run import finished_run

APP = str(REPO / "app.py")


@pytest.fixture
def store(studio_home) -> RunStore:
    return RunStore(studio_home)


def open_evaluate(run_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if run_id:
        at.query_params["run"] = run_id
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_no_finished_run_says_how_to_get_one(store):
    at = open_evaluate()
    assert "No finished run yet" in at.info[0].value


def test_a_report_is_drawn_with_its_numbers(store):
    run, report = finished_run(store)
    at = open_evaluate(run.id)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Top-1"] == f"{100 * report['accuracy']:.1f} %"
    assert metrics["Test images"] == f"{report['images']:,}"
    assert [t.label for t in at.tabs] == [
        "Per class", "Confusion matrix", "Mistakes", "Calibration", "Compare", "Model card",
    ]  # fmt: skip
    table = at.dataframe[0].value  # the per-class table comes first
    assert list(table["Class"][:10]) == report["class_names"]
    assert table["Support"][0] == report["per_class"][0]["support"]
    assert "mistakes match, most confident first" in " ".join(c.value for c in at.caption)
    assert "No other evaluated run" in " ".join(i.value for i in at.info)


def test_filters_narrow_the_gallery(store):
    run, report = finished_run(store)
    at = open_evaluate(run.id)
    at.selectbox(key="eval_true").set_value("3").run()
    caption = next(c.value for c in at.caption if "mistakes match" in c.value)
    wrong = report["per_class"][3]["support"] - report["confusion"][3][3]
    assert caption.startswith(f"{wrong} mistakes match")


def test_a_run_without_a_report_offers_to_evaluate(store):
    run, _ = finished_run(store, evaluation=False)
    at = open_evaluate(run.id)
    assert any(b.label == "Evaluate now" for b in at.button)
    assert "no evaluation of its current model" in at.info[0].value


def test_a_stale_report_is_not_shown_as_current(store):
    run, _ = finished_run(store)
    # Retrained since: the stored report belongs to another model file.
    (store.run_dir(run.id) / artifacts.FINAL_MODEL).write_bytes(b"another model")
    store.update(run.id, model_sha256=artifacts.sha256_file(store.run_dir(run.id) / "model.keras"))
    at = open_evaluate(run.id)
    assert any(b.label == "Evaluate now" for b in at.button)


def test_two_runs_compare_class_by_class(store):
    first, _ = finished_run(store, seed=0)
    finished_run(store, seed=1)
    at = open_evaluate(first.id)
    text = " ".join(m.value for m in at.markdown)
    assert "**A** = this run" in text and "chance alone gives" in text
