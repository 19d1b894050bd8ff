"""A worker the kernel's OOM killer ends (SIGKILL, no word in its log, no warning from its
memory guard when the limit is a container's) fails its run as out of memory, with the batch
to retry at, rather than "interrupted: worker is gone".

No real OOM here: a real process stands in for the worker and is killed with SIGKILL, and the
cgroup's kill count comes from an injected source (`RunStore(oom_counter=...)`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.config import make_config
from studio.runs import oom, procs
from studio.runs.last_words import retry_batch_size
from studio.runs.store import RunStore
from tests.helpers.waiting import wait_for

FAKE_CGROUP = Path("/sys/fs/cgroup/studio-test-worker")


class Counts:
    """The injected source: the cgroup's OOM kill count, as a test sets it."""

    def __init__(self, value: int | None) -> None:
        self.value = value
        self.asked: list[str] = []

    def __call__(self, cgroup: str) -> int | None:
        self.asked.append(cgroup)
        return self.value


def _running_worker(store: RunStore, counts: Counts, reaped_by_launcher: bool = True):
    """A queued run whose 'worker' is a sleeping process registered as the real one would be:
    its pid, its creation time, its cgroup's kill count at start."""
    run = store.create_run(make_config("cpu-quick", "digits").to_dict())
    run_dir = store.run_dir(run.id)
    log = run_dir / "worker.log"
    code = "import time; time.sleep(120)"
    if reaped_by_launcher:
        pid, proc = procs.spawn_detached(["-c", code], log), None
    else:  # the launcher (a CLI) is gone: nobody learns how the worker exited
        proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        pid = proc.pid
    wait_for(lambda: procs.process_start_time(pid) is not None, timeout=30)
    store.register_worker(run.id, pid, procs.process_start_time(pid))
    store.update(run.id, status="running", started_at=time.time())
    oom.note_start(run_dir, pid, counts, cgroup=FAKE_CGROUP)
    return run, pid, proc


def _die(pid: int, proc, sig=signal.SIGKILL) -> None:
    os.kill(pid, sig)
    if proc is not None:
        proc.wait(timeout=30)
    wait_for(lambda: procs.process_start_time(pid) is None, timeout=30)


@pytest.mark.parametrize("reaped_by_launcher", [True, False], ids=["launcher-alive", "no-parent"])
def test_a_sigkill_while_the_cgroup_counts_an_oom_kill_fails_as_out_of_memory(
    studio_home, reaped_by_launcher
):
    counts = Counts(3)
    store = RunStore(oom_counter=counts)
    run, pid, proc = _running_worker(store, counts, reaped_by_launcher)
    batch = run.config["train"]["batch_size"]
    counts.value = 4  # the kernel killed a process of the worker's cgroup meanwhile
    _die(pid, proc)
    if reaped_by_launcher:  # the launcher's words on how its child ended
        log = store.run_dir(run.id) / "worker.log"
        wait_for(lambda: "exited: killed by SIGKILL" in log.read_text(), timeout=30)

    assert store.reconcile() == [run.id]
    ended = store.get(run.id)
    assert ended.status == "failed", (ended.status, ended.reason)
    assert ended.reason.startswith(f"out of memory at batch size {batch} (killed by the kernel")
    assert f"try {batch // 2}" in ended.reason
    assert retry_batch_size(ended.reason) == batch // 2  # the panel's one-click retry
    assert counts.asked[-1] == str(FAKE_CGROUP)


@pytest.mark.parametrize(
    "after, how",
    [(3, signal.SIGKILL), (None, signal.SIGKILL), (4, signal.SIGUSR1)],
    ids=["count-unchanged", "count-unreadable", "not-sigkill"],
)
def test_a_worker_gone_without_an_oom_kill_is_interrupted_as_before(studio_home, after, how):
    counts = Counts(3)
    store = RunStore(oom_counter=counts)
    run, pid, proc = _running_worker(store, counts)
    counts.value = after
    _die(pid, proc, how)
    log = store.run_dir(run.id) / "worker.log"
    wait_for(lambda: "exited: killed by" in log.read_text(), timeout=30)

    assert store.reconcile() == [run.id]
    ended = store.get(run.id)
    assert ended.status == "interrupted", (ended.status, ended.reason)
    assert "is gone (killed or crashed)" in ended.reason


def test_an_unreadable_record_or_cgroup_is_not_known_rather_than_an_error(studio_home, tmp_path):
    counts = Counts(3)
    store = RunStore(oom_counter=counts)
    run, pid, proc = _running_worker(store, counts)
    (store.run_dir(run.id) / oom.RECORD).write_text("{not json")
    counts.value = 9
    _die(pid, proc)
    assert store.reconcile() == [run.id]
    assert store.get(run.id).status == "interrupted"

    # The kernel's own files: v2's memory.events, v1's memory.oom_control, neither.
    v2, v1, none = (tmp_path / name for name in ("v2", "v1", "none"))
    for folder in (v2, v1, none):
        folder.mkdir()
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\n")
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    assert [oom.oom_kills(str(f)) for f in (v2, v1, none)] == [2, 5, None]
    # This machine's own cgroup, whatever it is, reads as a count or as not known.
    mine = oom.cgroup_of()
    assert mine is None or oom.oom_kills(str(mine)) is None or oom.oom_kills(str(mine)) >= 0
