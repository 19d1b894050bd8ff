"""A real warm spare (TensorFlow imported ahead): handed a run, it trains it as that run's
worker, a successor takes its place, and kill -9 then resume behave as with a cold worker."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest

from studio.runs import phases, spare
from studio.runs.paths import spool_dir
from studio.runs.store import RunStore
from tests.helpers.cli import QUICK
from tests.helpers.cli import cli_process as run_cli
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.skipif(spare.fcntl is None, reason="the warm spare needs flock")


def ready_spare(home) -> int | None:
    """an idle spare whose framework is imported"""
    log = spool_dir(home) / spare.LOG
    text = log.read_text(errors="replace") if log.exists() else ""
    for pid in spare.spare_status(home)["idle"]:
        if re.search(rf"^\[spare {pid}\] ready", text, re.M):
            return pid
    return None


def test_a_run_handed_to_the_spare_trains_survives_kill_9_and_resumes(studio_home, monkeypatch):
    monkeypatch.setenv("STUDIO_WARM_WORKER", "1")
    store = RunStore()
    spare.ensure(studio_home)
    first_spare = wait_for(lambda: ready_spare(studio_home))

    proc = run_cli("train", *QUICK, "--epochs", "3", "--json", env_home=studio_home)
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout)["id"]

    def registered():
        """the run's worker registered"""
        return store.get(run_id).pid

    assert wait_for(registered, timeout=60) == first_spare  # the spare became its worker
    log = store.run_dir(run_id) / "worker.log"
    wait_for(lambda: store.metrics(run_id, kind="step"))
    assert store.metrics(run_id, kind="step")[0]["step"] == 1  # a row right after step 1
    names = [name for name, _ in phases.read(log)]
    assert names[:2] == ["handed-over", "framework-imported"], names
    assert names[-2:] == ["first-step", "first-row"], names

    def successor():
        """a new spare in place of the one handed the run"""
        idle = spare.spare_status(studio_home)["idle"]
        return idle if idle and idle != [first_spare] else None

    assert first_spare not in wait_for(successor, timeout=60)

    # kill -9 mid-run: the store calls the run interrupted, as with a cold worker.
    wait_for(lambda: store.metrics(run_id, kind="epoch"))
    os.kill(first_spare, signal.SIGKILL)

    def interrupted():
        """the run marked interrupted"""
        store.reconcile()
        return store.get(run_id).status == "interrupted"

    wait_for(interrupted, timeout=60)
    assert "is gone" in store.get(run_id).reason

    resumed = run_cli("resume", run_id, "--wait", env_home=studio_home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = store.get(run_id)
    assert run.status == "completed", run.reason
    assert [r["epoch"] for r in store.metrics(run_id, kind="epoch")] == [1, 2, 3]


def test_with_the_switch_off_no_spare_is_started(studio_home, monkeypatch):
    monkeypatch.setenv("STUDIO_WARM_WORKER", "0")
    proc = run_cli("train", *QUICK, "--epochs", "1", "--json", env_home=studio_home)
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout)["id"]
    store = RunStore()

    def ended():
        """the run ended"""
        store.reconcile()
        return store.get(run_id).status not in ("queued", "running")

    wait_for(ended)
    assert store.get(run_id).status == "completed", store.get(run_id).reason
    names = [name for name, _ in phases.read(store.run_dir(run_id) / "worker.log")]
    assert names[0] == "python-up" and "handed-over" not in names
    assert not spool_dir(studio_home).exists()
