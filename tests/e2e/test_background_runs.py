"""Real detached workers: the queue, kill -9 and resume, stop and resume, live readers."""

from __future__ import annotations

import itertools
import json
import os
import signal

from studio.runs.store import RunStore
from tests.helpers.cli import QUICK
from tests.helpers.cli import cli_process as run_cli
from tests.helpers.waiting import wait_for


def launch(home, *args: str) -> str:
    proc = run_cli("train", *QUICK, *args, "--json", env_home=home)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["id"]


def status(store: RunStore, run_id: str) -> str:
    store.reconcile()
    return store.get(run_id).status


def epochs(store: RunStore, run_id: str) -> list[int]:
    return [r["epoch"] for r in store.metrics(run_id, kind="epoch")]


def test_second_run_waits_for_the_first_then_trains(studio_home):
    store = RunStore()
    first = launch(studio_home, "--epochs", "1")
    second = launch(studio_home, "--epochs", "1")
    wait_for(lambda: status(store, first) == "running")
    # The CLI that launched both has exited; the workers live on in their own sessions.
    wait_for(lambda: store.get(second).pid, timeout=60)  # its worker registered and waits
    assert status(store, second) == "queued"
    wait_for(lambda: status(store, first) == "completed")
    wait_for(lambda: status(store, second) == "completed")
    a, b = store.get(first), store.get(second)
    assert b.started_at >= a.finished_at - 1.0
    assert os.getsid(0) != a.pid  # never in our session


def test_kill_9_then_resume_completes_every_epoch_once(studio_home):
    store = RunStore()
    run_id = launch(studio_home, "--epochs", "4")
    wait_for(lambda: len(epochs(store, run_id)) >= 2)
    # Mid-epoch: wait for a step row of the next epoch, then kill without warning.
    done = len(epochs(store, run_id))
    wait_for(lambda: any(r["epoch"] == done + 1 for r in store.metrics(run_id, kind="step")))
    os.kill(store.get(run_id).pid, signal.SIGKILL)
    wait_for(lambda: status(store, run_id) == "interrupted", timeout=30)
    assert "is gone" in store.get(run_id).reason

    resumed = run_cli("resume", run_id, "--wait", env_home=studio_home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = store.get(run_id)
    assert run.status == "completed"
    assert epochs(store, run_id) == [1, 2, 3, 4]
    lrs = [r["lr"] for r in store.metrics(run_id, kind="epoch")]
    assert all(a > b for a, b in itertools.pairwise(lrs)), lrs  # schedule continued

    # The same seed without interruption lands in the same place.
    straight = launch(studio_home, "--epochs", "4")
    wait_for(lambda: status(store, straight) in ("completed", "failed"))
    ref = store.get(straight)
    assert ref.status == "completed", ref.reason
    assert abs(run.test["accuracy"] - ref.test["accuracy"]) < 0.15, (run.test, ref.test)


def test_stop_then_resume(studio_home):
    store = RunStore()
    run_id = launch(studio_home, "--epochs", "3")
    wait_for(lambda: epochs(store, run_id) == [1])
    stopped = run_cli("stop", run_id, "--wait", env_home=studio_home)
    assert stopped.returncode == 0, stopped.stderr
    run = store.get(run_id)
    assert run.status == "stopped" and "stopped by the user" in run.reason
    assert (store.run_dir(run_id) / "checkpoint.keras").exists()
    assert not list(store.run_dir(run_id).glob("*.tmp.keras"))

    bad = run_cli("stop", run_id, env_home=studio_home)
    assert bad.returncode == 2 and "not queued or running" in bad.stderr

    resumed = run_cli("resume", run_id, "--wait", env_home=studio_home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert store.get(run_id).status == "completed"
    assert epochs(store, run_id) == [1, 2, 3]


def test_list_json_has_what_scripts_need(studio_home):
    run_id = launch(studio_home, "--epochs", "1")
    store = RunStore()
    wait_for(lambda: store.metrics(run_id, kind="step"))
    listed = json.loads(run_cli("list", "--json", env_home=studio_home).stdout)[0]
    for key in ("status", "reason", "epochs_done", "pid", "last_heartbeat", "latest_step"):
        assert key in listed
    assert listed["status"] == "running" and listed["pid"] > 0
    assert listed["latest_step"]["loss"] > 0
    wait_for(lambda: status(store, run_id) == "completed")
