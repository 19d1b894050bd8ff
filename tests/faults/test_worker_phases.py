"""kill -9 of a real worker inside each phase of its life after the queue: loading the data,
compiling the first step, and saving a checkpoint or the final model. The run ends
interrupted, saying the worker is gone, and a resume trains every epoch exactly once.
Mid-epoch is tests/e2e/test_background_runs.py's kill -9 (and test_worker_signals' SIGTERM):
each case here costs two TensorFlow start-ups, so it is not repeated.

The worker is frozen (SIGSTOP) where the phase shows from outside (its phase lines in
worker.log, its partial save file, its metric rows) and checked again while frozen, so the
kill lands inside the phase however fast the machine is. Queued workers are killed in
test_worker_signals.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from studio.runs import checkpoints, launcher, phases
from studio.runs.artifacts import WORKER_LOG
from studio.runs.store import RunStore
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

EPOCHS = 2
# A few batches per epoch: each epoch ends in a checkpoint save to be caught in.
CONFIG = {"data.limit": 160, "train.batch_size": 16, "train.epochs": EPOCHS}
FINAL_PARTIAL = "model.tmp.keras"  # save_atomically's name for model.keras in progress

Inside = Callable[[RunStore, str], bool]


def between(opened: str, closed: str) -> Inside:
    def inside(store: RunStore, run_id: str) -> bool:
        seen = [name for name, _ in phases.read(store.run_dir(run_id) / WORKER_LOG)]
        return opened in seen and closed not in seen

    return inside


def saving(store: RunStore, run_id: str) -> bool:
    run_dir = store.run_dir(run_id)
    return any((run_dir / name).exists() for name in (checkpoints.PARTIAL, FINAL_PARTIAL))


PHASES: dict[str, Inside] = {
    "loading": between("framework-imported", "fit-begins"),
    "compiling": between("fit-begins", "first-step"),
    "saving": saving,
}


def stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def freeze_inside(store: RunStore, run_id: str, inside: Inside, timeout: float = 120) -> int:
    """SIGSTOP the run's worker once `inside` holds and still holds while it is stopped; its
    PID. A phase that ended between the look and the stop is waited for again (saves and
    epochs come round again; loading and compiling do not, and the test fails)."""
    pid = wait_for(lambda: store.get(run_id).pid, timeout=60)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inside(store, run_id):
            os.kill(pid, signal.SIGSTOP)
            wait_for(lambda: stopped(pid), timeout=10, every=0.001)
            if inside(store, run_id):
                return pid
            os.kill(pid, signal.SIGCONT)
        assert store.get(run_id).status in ("queued", "running"), store.get(run_id).reason
        time.sleep(0.005)
    raise AssertionError(f"never caught the worker of {run_id} inside the phase")


def status(store: RunStore, run_id: str) -> str:
    store.reconcile()
    return store.get(run_id).status


@pytest.mark.parametrize("phase", list(PHASES))
def test_kill_9_inside_a_phase_then_resume_trains_each_epoch_once(studio_home, tiny, phase):
    store = RunStore()
    run = launcher.submit(store, tiny(**CONFIG).to_dict())
    pid = freeze_inside(store, run.id, PHASES[phase])
    run_dir: Path = store.run_dir(run.id)
    left_partial = saving(store, run.id)
    os.kill(pid, signal.SIGKILL)

    wait_for(lambda: status(store, run.id) != "running", timeout=30)
    killed = store.get(run.id)
    assert killed.status == "interrupted", (killed.status, killed.reason)
    assert killed.reason == f"worker process {pid} is gone (killed or crashed)"

    launcher.resume(store, run.id)
    wait_for(lambda: status(store, run.id) not in ("queued", "running"), timeout=180)
    done = store.get(run.id)
    assert done.status == "completed", done.reason
    assert [r["epoch"] for r in store.metrics(run.id, kind="epoch")] == list(range(1, EPOCHS + 1))
    assert done.epochs_done == EPOCHS and (run_dir / "model.keras").is_file()
    assert not checkpoints.remove_partial(run_dir)
    if left_partial:
        assert "removed partial files" in (run_dir / WORKER_LOG).read_text()
