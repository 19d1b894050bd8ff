"""A fresh studio's empty state: one click queues a quick digits run, shown until it is done."""

from __future__ import annotations

import os
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from studio.runs import launcher
from studio.runs.artifacts import WORKER_LOG
from studio.runs.procs import process_start_time
from studio.runs.store import RunStore
from studio.ui.quick_start import BUTTON
from tests.conftest import REPO

APP = str(REPO / "app.py")


@pytest.fixture
def no_workers(monkeypatch):
    """Queue runs without starting a worker: the store is what this test reads."""
    spawned: list[str] = []
    monkeypatch.setattr(launcher, "_spawn", lambda store, run_id: spawned.append(run_id))
    return spawned


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", ["pages/demo.py", "pages/evaluate.py"])
def test_empty_pages_offer_a_quick_run_and_show_it_once_queued(studio_home, no_workers, page):
    at = open_page(page)
    button = at.button(key="quick_start")
    assert button.label == BUTTON
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = RunStore(studio_home).list_runs()
    assert [(r.dataset, r.preset, r.status) for r in runs] == [("digits", "cpu-quick", "queued")]
    assert no_workers == [runs[0].id]
    # Its progress replaces the button; a second tab shows the same run, never queues another.
    assert not [b for b in at.button if b.key == "quick_start"]
    assert runs[0].id in at.get("progress")[0].proto.text
    again = open_page(page)
    assert not [b for b in again.button if b.key == "quick_start"]
    assert len(RunStore(studio_home).list_runs()) == 1


def test_the_quick_runs_progress_names_its_start_up_phase(studio_home, no_workers):
    """Before the first epoch, the same words as the Train page's live panel: the phase the
    worker's log names, with its seconds, rather than a bare 0 of 3 epochs."""
    at = open_page("pages/demo.py")
    at.button(key="quick_start").click().run()
    store = RunStore(studio_home)
    (run,) = store.list_runs()
    store.register_worker(run.id, os.getpid(), process_start_time(os.getpid()))
    assert store.try_claim(run.id, 1)
    now = time.time()
    (store.run_dir(run.id) / WORKER_LOG).write_text(
        f"[worker 1] phase python-up at {now - 9:.3f}\n"
        f"[worker 1] phase framework-imported at {now - 4:.3f}\n"
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = at.get("progress")[0].proto.text
    assert re.search(r"Loading data and building the model… \d+s", text), text
    assert "since the worker started" in text, text
