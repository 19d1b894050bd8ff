"""A run's own view on the Runs page: its facts, and links that carry the run to the next page
(`?run=` picks it on Evaluate, Patches and Demo; Train again is `?from=`)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from studio.inference.client import WorkerError
from studio.runs.store import RunStore
from studio.ui.patch_widgets import RUN_KEY
from studio.ui.run_view import device_parts
from tests.conftest import REPO
from tests.helpers.finished_run import PARAMS, finished_run

APP = str(REPO / "app.py")


def open_with(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def links(at: AppTest) -> dict[str, tuple[str, str]]:
    return {e.proto.label: (e.proto.page, e.proto.query_string) for e in at.get("page_link")}


@pytest.fixture
def two_runs(studio_home):
    store = RunStore()
    first, _ = finished_run(store)
    second, _ = finished_run(store, seed=1)
    return first, second


def test_a_linked_run_opens_with_its_facts_and_where_next(two_runs):
    run, other = two_runs
    at = open_with("pages/runs.py", run=run.id)
    found = links(at)
    assert found["Evaluate"] == ("evaluate", f"run={run.id}")
    assert found["Patches"] == ("patches", f"run={run.id}")
    assert found["Demo"] == ("demo", f"run={run.id}")
    assert found["Train again with these settings"] == ("train", f"from={run.id}")
    assert found[f"#{other.seq} ViT + SPT + LSA · digits"] == (
        "runs",
        f"compare={run.id}%2C{other.id}",
    )
    assert "Export" not in found  # its panel is right below on this page
    assert "Export the model" in [e.label for e in at.expander]
    facts = next(m.value for m in at.markdown if m.value.startswith("**Parameters:**"))
    assert f"{PARAMS:,}" in facts and "train 1,445 · val 180 · test 180" in facts
    assert "mixed_bfloat16" in facts and "None" not in facts


def test_a_compare_link_selects_both_runs(two_runs):
    run, other = two_runs
    at = open_with("pages/runs.py", compare=f"{run.id},{other.id}")
    assert at.session_state["picked_ids"] == [run.id, other.id]
    assert "Compare" in [h.value for h in at.subheader]


def test_patches_and_demo_pick_the_linked_run(two_runs, monkeypatch):
    _run, other = two_runs

    class NoWorker:
        def attention(self, *_):
            raise WorkerError("no inference worker in this test")

    # The picked run's maps would start the keras worker: not what this test is about.
    monkeypatch.setattr("studio.ui.attention_panel.shared_client", lambda _home: NoWorker())
    at = open_with("pages/patches.py", run=other.id)
    assert at.session_state[RUN_KEY] == other.id
    at = open_with("pages/demo.py", run=other.id)
    assert at.selectbox(key="demo_run").value == other.id
    assert at.query_params.get("run") is None  # picked once: the picker takes over


def test_the_device_line_reads_as_its_parts():
    assert device_parts("tensorflow on CPU, mixed_bfloat16, no XLA") == {
        "backend": "tensorflow",
        "device": "CPU",
        "precision": "mixed_bfloat16",
        "steps": "no XLA",
    }
    assert device_parts("jax on gpu (NVIDIA H100)") == {
        "backend": "jax",
        "device": "gpu (NVIDIA H100)",
    }
    assert device_parts("a GPU") == {"device": "a GPU"} and device_parts(None) == {}


def test_a_linked_run_is_ticked_in_the_runs_table(two_runs):
    run, other = two_runs
    at = open_with("pages/runs.py", run=other.id)
    table = next(d for d in at.dataframe if d.proto.id.endswith("runs_table"))
    ticked = json.loads(table.proto.selection_state)["selection"]["rows"]
    ids = [r.id for r in RunStore().list_runs(with_latest=True)]
    assert [ids[i] for i in ticked] == [other.id]
    assert at.session_state["picked_ids"] == [other.id]
    # Both runs of a compare link, the first linked staying first (the one compared to).
    at = open_with("pages/runs.py", compare=f"{other.id},{run.id}")
    table = next(d for d in at.dataframe if d.proto.id.endswith("runs_table"))
    assert sorted(json.loads(table.proto.selection_state)["selection"]["rows"]) == [0, 1]
    assert at.session_state["picked_ids"] == [other.id, run.id]
