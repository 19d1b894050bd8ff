"""Real detached workers told to end: SIGTERM while queued and mid-epoch, kill -9 while queued,
two resumes at once and a second worker on a run's folder, a half-written checkpoint left
behind. A run marked running by this test's own process holds the only queue slot, so the
queued workers import no framework."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from studio.runs import launcher, procs
from studio.runs.checkpoints import PARTIAL
from studio.runs.store import RunStore
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow


def status(store: RunStore, run_id: str) -> str:
    store.reconcile()
    return store.get(run_id).status


@pytest.fixture
def slot_taken(studio_home, tiny):
    """A run 'running' in this very process: every other run waits in the queue."""
    store = RunStore()
    blocker = store.create_run(tiny().to_dict())
    store.register_worker(blocker.id, os.getpid(), procs.process_start_time(os.getpid()))
    assert store.try_claim(blocker.id, 1)
    return store


def registered(store: RunStore, run_id: str) -> int:
    return wait_for(lambda: store.get(run_id).pid, timeout=60)


def test_queued_workers_sigterm_stops_kill_interrupts_and_one_resume_wins(slot_taken, tiny):
    store = slot_taken
    run = launcher.submit(store, tiny().to_dict())
    pid = registered(store, run.id)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: status(store, run.id) == "stopped", timeout=60)
    assert store.get(run.id).reason == "stopped by SIGTERM before training began"

    # Two resumes at once (two tabs, a double click): one requeues, the other is told why.
    outcomes: list[str] = []

    def resume() -> None:
        try:
            launcher.resume(store, run.id)
            outcomes.append("resumed")
        except launcher.LaunchError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("resumed") == 1, outcomes
    assert any("is queued already" in o for o in outcomes), outcomes
    pid = registered(store, run.id)

    # A second worker on the same run (a launcher that raced the first) leaves it alone.
    second = subprocess.run(
        [sys.executable, "-m", "studio.training", run.id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0 and "another worker holds" in second.stdout
    assert store.get(run.id).pid == pid and status(store, run.id) == "queued"

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: status(store, run.id) == "interrupted", timeout=60)
    assert "is gone (killed or crashed)" in store.get(run.id).reason


def test_sigterm_mid_epoch_stops_with_a_checkpoint_and_resume_cleans_up(studio_home, tiny):
    store = RunStore()
    cfg = tiny(**{"data.limit": 384, "train.epochs": 4, "train.batch_size": 16})
    run = launcher.submit(store, cfg.to_dict())
    wait_for(lambda: any(r["epoch"] == 2 for r in store.metrics(run.id, kind="step")))
    os.kill(store.get(run.id).pid, signal.SIGTERM)
    wait_for(lambda: status(store, run.id) != "running", timeout=120)
    stopped = store.get(run.id)
    assert stopped.status == "stopped", stopped.reason
    assert stopped.reason.startswith("stopped by SIGTERM at epoch")
    run_dir = store.run_dir(run.id)
    assert (run_dir / "checkpoint.keras").is_file() and stopped.epochs_done >= 1

    (run_dir / PARTIAL).write_bytes(b"half a checkpoint, as a kill leaves it")
    launcher.resume(store, run.id)
    wait_for(lambda: status(store, run.id) not in ("queued", "running"))
    done = store.get(run.id)
    assert done.status == "completed", done.reason
    assert [r["epoch"] for r in store.metrics(run.id, kind="epoch")] == [1, 2, 3, 4]
    assert not (run_dir / PARTIAL).exists()
    assert f"removed partial files: {PARTIAL}" in (run_dir / "worker.log").read_text()
