"""Real workers caught in a stop, resume or delete of their run: a queued worker whose run was
stopped and resumed before it looked again, and a worker that starts after its run was
deleted. A run marked running by this test's own process holds the only queue slot, so the
workers import no framework."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from studio.runs import launcher, procs
from studio.runs.store import RunStore
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def slot_taken(studio_home, tiny):
    """A run 'running' in this very process: every other run waits in the queue."""
    store = RunStore()
    blocker = store.create_run(tiny().to_dict())
    store.register_worker(blocker.id, os.getpid(), procs.process_start_time(os.getpid()))
    assert store.try_claim(blocker.id, 1)
    return store


def workers_of(run_id: str) -> list[int]:
    """Live processes running `python -m studio.training RUN_ID`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline[-2:] == ["studio.training", run_id] and proc.info["status"] != "zombie":
            found.append(proc.info["pid"])
    return found


def test_a_queued_worker_gives_way_to_the_one_a_stop_and_resume_started(slot_taken, tiny):
    store = slot_taken
    run = launcher.submit(store, tiny().to_dict())
    first = wait_for(lambda: store.get(run.id).pid, timeout=60)
    # Frozen, it cannot see the stop before the resume: the order two quick clicks give.
    os.kill(first, signal.SIGSTOP)
    assert store.request_stop(run.id).status == "stopped"
    launcher.resume(store, run.id)
    os.kill(first, signal.SIGCONT)

    def successor() -> int | None:
        """the resumed run's own worker registered"""
        pid = store.get(run.id).pid
        return pid if pid not in (None, first) else None

    second = wait_for(successor, timeout=30)
    wait_for(lambda: workers_of(run.id) == [second], timeout=30)
    assert procs.is_alive(second, store.get(run.id).pid_start)
    assert store.get(run.id).status == "queued"
    log = (store.run_dir(run.id) / "worker.log").read_text()
    assert f"[worker {first}] {run.id} was stopped or taken over while queued" in log

    # The slot frees: the new worker, and only it, claims the run.
    store.finish(slot_taken.list_runs()[0].id, "completed")
    wait_for(lambda: store.get(run.id).status == "running", timeout=30)
    assert store.get(run.id).pid == second and workers_of(run.id) == [second]
    os.kill(second, signal.SIGTERM)
    wait_for(lambda: store.get(run.id).status == "stopped", timeout=120)


def test_a_worker_started_after_its_run_was_deleted_does_not_bring_it_back(slot_taken, tiny):
    store = slot_taken
    run = store.create_run(tiny().to_dict())
    # `train`, then `stop` and `delete` before the worker is up (a script, a quick user).
    assert store.request_stop(run.id).status == "stopped"
    assert store.delete(run.id)
    worker = subprocess.run(
        [sys.executable, "-m", "studio.training", run.id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "folder is gone (deleted); nothing to train" in worker.stdout
    assert not store.run_dir(run.id).exists()
    assert [r.id for r in store.list_runs()] == [slot_taken.list_runs()[0].id]
