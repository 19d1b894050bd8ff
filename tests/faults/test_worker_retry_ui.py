"""The run panel's answers to a failed run: Retry at half the batch after running out of
memory, Start fresh when no checkpoint can be loaded. No worker starts (the launcher's spawn
is replaced)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from studio.runs import launcher
from studio.runs.checkpoints import CANNOT_RESUME
from studio.runs.last_words import out_of_memory_reason
from studio.runs.store import RunStore
from tests.conftest import REPO


def panel_after_failure(tiny, monkeypatch, reason: str):
    monkeypatch.setattr(launcher, "_spawn", lambda store, run_id: None)
    store = RunStore()
    run = store.create_run(tiny(**{"train.batch_size": 64, "train.epochs": 3}).to_dict())
    store.finish(run.id, "failed", reason)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return store, run.id, at


def test_retry_at_half_the_batch_after_running_out_of_memory(studio_home, tiny, monkeypatch):
    store, run_id, at = panel_after_failure(tiny, monkeypatch, out_of_memory_reason(64))
    assert "out of memory at batch size 64; try 32" in store.get(run_id).reason
    assert not [b for b in at.button if b.label == "Start fresh"]
    next(b for b in at.button if b.label == "Retry at batch 32").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = store.get(run_id)
    assert run.status == "queued" and run.config["train"]["batch_size"] == 32


def test_start_fresh_when_no_checkpoint_loads(studio_home, tiny, monkeypatch):
    reason = f"run x {CANNOT_RESUME} (the checkpoint of epoch 2 is damaged)"
    store, run_id, at = panel_after_failure(tiny, monkeypatch, reason)
    assert not [b for b in at.button if b.label.startswith("Retry at batch")]
    store.add_metric(run_id, "epoch", 1, 1, loss=1.0)
    next(b for b in at.button if b.label == "Start fresh").click().run()
    assert store.get(run_id).status == "queued" and not store.metrics(run_id)
