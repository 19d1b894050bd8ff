"""The run store: ids, queue order, liveness, concurrent readers and writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from studio.config import make_config
from studio.runs import procs
from studio.runs.store import RunNotFound, RunStore


def _config(**overrides):
    return make_config(dataset="digits", overrides=overrides).to_dict()


def test_create_resolve_and_folder(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    assert run.status == "queued"
    assert run.id.startswith("0001-digits-")
    assert store.run_dir(run.id).is_dir()
    assert store.resolve("1") == run.id
    assert store.resolve(run.id[:6]) == run.id
    with pytest.raises(RunNotFound, match="no run matches 'zzz'"):
        store.resolve("zzz")


def test_database_is_in_wal_mode(studio_home):
    store = RunStore()
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_queue_claims_in_order_with_one_slot(studio_home):
    store = RunStore()
    me = os.getpid(), procs.process_start_time(os.getpid())
    first, second = store.create_run(_config()), store.create_run(_config())
    for run in (first, second):
        store.register_worker(run.id, *me)
    assert not store.try_claim(second.id, max_running=1)  # the older run goes first
    assert store.try_claim(first.id, max_running=1)
    assert not store.try_claim(second.id, max_running=1)  # the only slot is taken
    assert store.try_claim(second.id, max_running=2)
    assert [r.status for r in store.list_runs()] == ["running", "running"]


def test_dead_worker_becomes_interrupted(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    store.register_worker(run.id, proc.pid, "12345")
    store.update(run.id, status="running")
    assert store.reconcile() == [run.id]
    run = store.get(run.id)
    assert run.status == "interrupted"
    assert f"worker process {proc.pid} is gone" in run.reason


def test_recycled_pid_is_not_alive(studio_home):
    # Same PID, another start time: a recycled PID must not pass for the worker.
    assert procs.is_alive(os.getpid(), procs.process_start_time(os.getpid()))
    assert not procs.is_alive(os.getpid(), "1.0")


def test_stale_heartbeat_becomes_interrupted(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    store.register_worker(run.id, os.getpid(), procs.process_start_time(os.getpid()))
    store.update(run.id, status="running", heartbeat_at=time.time() - 3600)
    store.reconcile()
    assert "no heartbeat" in store.get(run.id).reason


def test_stop_of_a_queued_run_is_immediate(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    assert store.request_stop(run.id).status == "stopped"


def test_truncate_after_epoch_keeps_each_epoch_once(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    for epoch in (1, 2, 3):
        store.add_metric(run.id, "step", epoch, 1, loss=1.0)
        store.add_metric(run.id, "epoch", epoch, 5, loss=1.0 / epoch, lr=1e-3)
    store.truncate_after_epoch(run.id, 2)
    assert [r["epoch"] for r in store.metrics(run.id, kind="epoch")] == [1, 2]
    assert {r["epoch"] for r in store.metrics(run.id, kind="step")} == {1, 2}
    assert store.get(run.id).epochs_done == 2


def test_reader_sees_rows_while_another_process_writes(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                from studio.runs.store import RunStore
                store = RunStore()
                for i in range(300):
                    store.add_metric({run.id!r}, "step", 1, i + 1, loss=float(i))
                """
            ),
        ],
        env=os.environ,
    )
    seen, last_id = [], 0
    while writer.poll() is None or not seen or seen[-1] < 300:
        rows = store.metrics(run.id, after_id=last_id)
        if rows:
            last_id = rows[-1]["id"]
            seen += [r["step"] for r in rows]
        if writer.poll() is not None and not rows:
            break
    assert writer.returncode == 0
    assert seen == list(range(1, 301))


def test_non_finite_metrics_are_stored_as_null(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    store.add_metric(run.id, "epoch", 1, 1, loss=float("nan"), accuracy=0.5)
    row = store.metrics(run.id)[0]
    assert row["loss"] is None and row["accuracy"] == 0.5


def test_any_metric_a_model_reports_is_kept_and_the_core_ones_are_always_there(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    store.add_metric(run.id, "epoch", 1, 5, loss=1.0, top3=0.75, distillation_loss=0.5)
    row = store.metrics(run.id)[0]
    assert (row["top3"], row["distillation_loss"], row["loss"]) == (0.75, 0.5, 1.0)
    assert row["val_accuracy"] is None  # a core metric the row did not record
    with pytest.raises(ValueError, match="identifiers"):
        store.add_metric(run.id, "epoch", 1, 5, **{"bad name": 1.0})


def test_a_run_whose_stored_config_is_not_json_is_listed_damaged_beside_the_others(
    studio_home, run_cli
):
    store = RunStore()
    bad, good = store.create_run(_config()), store.create_run(_config())
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET config_json='{\"train\": ' WHERE id=?", (bad.id,))
    first, second = store.list_runs()
    assert "not valid JSON" in first.damage and second.damage is None
    code, out, err = run_cli("list")
    assert code == 0 and not err and good.id in out and "damaged" in out
    assert run_cli("show", bad.id)[0] == 0
    code, _, err = run_cli("evaluate", bad.id)
    assert code == 2 and "is damaged" in err


def test_a_garbled_metric_row_is_left_out_and_said(studio_home):
    store = RunStore()
    run = store.create_run(_config())
    store.add_metric(run.id, "epoch", 1, 5, loss=1.0, val_accuracy=0.5)
    with sqlite3.connect(store.db_path) as conn:
        conn.execute(
            "INSERT INTO metrics (run_id, kind, epoch, step, time, values_json)"
            " VALUES (?, 'epoch', 2, 5, 0, 'garbage')",
            (run.id,),
        )
    rows = store.metrics(run.id)
    assert len(rows) == 1 and "not valid JSON" in rows.skipped[0]
    assert store.get(run.id, with_latest=True).latest["best_val_accuracy"] == 0.5
