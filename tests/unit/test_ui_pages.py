"""Every page renders without a traceback, and the Train page turns clicks into queued runs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from studio.config import make_config
from studio.runs.store import RunStore
from tests.conftest import REPO

APP = str(REPO / "app.py")


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page != "pages/train.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    "page",
    ["pages/train.py", "pages/runs.py", "pages/evaluate.py", "pages/patches.py", "pages/demo.py"],
)
def test_each_page_opens_on_an_empty_store(studio_home, page):
    at = open_page(page)
    assert at.title


def test_train_page_defaults_to_digits_and_a_startable_config(studio_home):
    at = open_page("pages/train.py")
    assert at.selectbox(key="ds_builtin").value == "digits"
    assert at.selectbox(key="preset").value == "cpu-quick"
    assert not next(b for b in at.button if b.label == "Start training").disabled
    assert "No runs yet" in at.info[0].value


def test_picking_vit_b16_moves_to_the_finetune_preset_and_back(studio_home):
    at = open_page("pages/train.py")
    at.button_group(key="variant").set_value("vit-b16").run()
    assert at.selectbox(key="preset").value == "finetune"
    assert "224 px" in " ".join(c.value for c in at.caption)
    at.button_group(key="variant").set_value("vit").run()
    assert at.selectbox(key="preset").value == "cpu-quick"


def open_hyperparameters() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["hp_open"] = True
    return at.run()


def test_hyperparameter_widgets_are_drawn_only_while_open(studio_home):
    assert not open_page("pages/train.py").number_input
    assert open_hyperparameters().number_input(key="hp:cpu-quick:train.epochs").value == 10


def test_edits_survive_closing_the_hyperparameters(studio_home):
    at = open_hyperparameters()
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(3).run()
    at.session_state["hp_open"] = False
    at.run()
    assert not at.number_input
    assert "3 epochs" in " ".join(c.value for c in at.caption)


def test_a_bad_field_shows_its_message_and_blocks_start(studio_home):
    at = open_hyperparameters()
    at.number_input(key="hp:cpu-quick:model.patch_size").set_value(5).run()
    messages = [e.value for e in at.error]
    assert any("patch sizes that divide 32: 1, 2, 4, 8, 16, 32" in m for m in messages)
    start = next(b for b in at.button if b.label == "Start training")
    assert start.disabled


def no_workers(monkeypatch) -> None:
    """Runs are queued in the store but no worker starts: these tests are about the page."""
    monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None)


def test_start_queues_a_run_with_the_edited_values(studio_home, monkeypatch):
    no_workers(monkeypatch)
    at = open_hyperparameters()
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(3).run()
    at.number_input(key="hp:cpu-quick:data.limit").set_value(300).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = RunStore().list_runs()
    assert len(runs) == 1
    assert runs[0].config["train"]["epochs"] == 3 and runs[0].config["data"]["limit"] == 300
    assert at.selectbox(key=f"watching:{runs[0].id}").value == runs[0].id
    assert not at.number_input  # the form folds away so the live view comes into sight


def test_a_stale_browser_message_does_not_hide_the_run_just_started(studio_home, monkeypatch):
    # The browser can send its old widget values after Start (a live panel's timer fires
    # before the page redraws); the Train page must keep showing the new run.
    store = RunStore()
    first = store.create_run(make_config("cpu-quick", "digits", "vit").to_dict())
    no_workers(monkeypatch)
    at = open_page("pages/train.py")
    assert at.selectbox(key=f"watching:{first.id}").value == first.id
    stale = at.selectbox(key=f"watching:{first.id}")  # its tree: the browser before Start
    at.run()
    next(b for b in at.button if b.label == "Start training").click().run()
    second = max(store.list_runs(), key=lambda r: r.seq)
    assert at.session_state["watched_run"] == second.id
    stale.set_value(first.id).run()
    assert not at.exception
    assert at.session_state["watched_run"] == second.id


def test_picking_another_run_watches_it(studio_home):
    store = RunStore()
    old, new = (
        store.create_run(make_config("cpu-quick", "digits", v).to_dict()) for v in ("vit", "lsa")
    )
    at = open_page("pages/train.py")
    assert at.session_state["watched_run"] == new.id  # queued runs: the newest first
    at.selectbox(key=f"watching:{new.id}").set_value(old.id).run()
    assert at.session_state["watched_run"] == old.id
    assert at.subheader[-1].value.startswith(f"#{old.seq} ")
    at.run()
    assert at.selectbox(key=f"watching:{old.id}").value == old.id


def test_runs_page_lists_existing_runs(studio_home):
    store = RunStore()
    for variant in ("vit", "spt-lsa"):
        run = store.create_run(make_config("cpu-quick", "digits", variant).to_dict())
        store.add_metric(run.id, "epoch", 1, 5, loss=1.0, val_accuracy=0.5)
        store.finish(run.id, "completed")
    at = open_page("pages/runs.py")
    frame = at.dataframe[0].value
    assert list(frame["Model"]) == ["Vanilla ViT", "ViT + SPT + LSA"]
    assert list(frame["Best val acc"]) == [50.0, 50.0]


def test_opening_the_train_page_warms_a_spare_once_per_session(studio_home, monkeypatch):
    from studio.runs import launcher

    calls = []
    monkeypatch.setattr(launcher, "warm_up", lambda store: calls.append(store.home))
    at = open_page("pages/train.py")
    at.run()
    assert calls == [studio_home]
