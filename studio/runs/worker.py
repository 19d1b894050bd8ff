"""The life of a detached training worker, whatever it trains.

One OS process per run (`python -m studio.training RUN_ID`, started by the launcher), in its
own session, so it outlives whatever launched it. It registers itself, beats a heartbeat from
a thread, waits for a free slot in the queue, calls the training function it is given, and
records how the run ended. It never imports streamlit, and keras only through that function.

It holds a lock on its run folder (two resumes at once never give two workers one folder),
removes what a killed predecessor half-wrote, answers SIGTERM and SIGINT as a stop (at once
while queued or loading, at the next batch once `fit` runs), keeps a reserve of memory
(`studio.runs.memory`) and of disk to spend on recording how it ended, and says that in
worker.log before it writes it to the store (`studio.runs.last_words`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from studio.datasets.errors import DatasetError
from studio.runs import checkpoints, last_words, memory, oom, procs
from studio.runs.errors import OutOfMemory, RunFailed, StopRequested
from studio.runs.preflight import TeacherError
from studio.runs.store import RunStore

try:
    import fcntl
except ImportError:  # Windows: no flock; the store's conditional requeue still holds
    fcntl = None  # type: ignore[assignment]

# `train(store, run_id)` trains the run; it may return a note for the run's reason.
Train = Callable[[RunStore, str], "str | None"]

HEARTBEAT_EVERY_S = 2.0
QUEUE_POLL_S = 1.0
RUN_LOCK = ".worker.lock"  # flock'ed by the run's worker for its whole life
DISK_RESERVE = ".disk-reserve"  # deleted to make room for the last status write
DISK_RESERVE_BYTES = 1 << 20
DISK_LOW_BYTES = 2 << 20  # less free than this (the reserve still held) is a full disk
STORE_TRIES = 5
LOCK_WAIT_S = 60.0  # for a predecessor that recorded its end and is exiting


def max_concurrent_runs() -> int:
    """One run per device by default; STUDIO_MAX_CONCURRENT_RUNS raises it."""
    try:
        return max(1, int(os.environ.get("STUDIO_MAX_CONCURRENT_RUNS", "1")))
    except ValueError:
        return 1


class _State:
    """This process's worker: what signal asked it to end, and its memory guard."""

    signal: str | None = None
    raise_on_signal = False
    guard: memory.Guard | None = None


def termination_signal() -> str | None:
    """The name of the signal that asked this worker to stop (SIGTERM, SIGINT), if any."""
    return _State.signal


def defer_termination() -> None:
    """From now on a termination signal is only noted; the training loop polls it (`fit`
    must end at a batch boundary, and a save must not be cut in half)."""
    _State.raise_on_signal = False


def memory_low() -> str | None:
    """What the memory guard saw, once memory ran low; None until then."""
    return _State.guard.low if _State.guard else None


def _on_signal(signum: int, _frame) -> None:
    _State.signal = signal.Signals(signum).name
    if _State.raise_on_signal:
        _State.raise_on_signal = False
        raise StopRequested(f"stopped by {_State.signal} before training began")


def _beat(store: RunStore, run_id: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_EVERY_S):
        # A busy database must not kill the heartbeat thread.
        with contextlib.suppress(Exception):
            store.heartbeat(run_id)


def wait_for_slot(store: RunStore, run_id: str) -> bool:
    """Block until this run may train; False if it was stopped or taken over meanwhile.

    Taken over: stopped and resumed again between two looks (the resume cleared this
    worker's registration and started another). The run is that worker's now, even though
    it is queued again, so this one claims only while it is the registered worker."""
    pid = os.getpid()
    while True:
        if store.try_claim(run_id, max_concurrent_runs(), pid=pid):
            return True
        run = store.get(run_id)
        if run.status != "queued" or run.stop_requested or run.pid != pid:
            return False
        time.sleep(QUEUE_POLL_S)


def _lock_run(store: RunStore, run_id: str) -> int | None:
    """An flock on the run folder, held until this worker ends; None if another worker has
    the run. A holder that is not registered for the run is a predecessor still ending (a
    resume right after a stop): that one is waited for, up to LOCK_WAIT_S."""
    try:
        # Never made here: a run deleted before its worker started stays deleted.
        fd = os.open(store.run_dir(run_id) / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return None
    if fcntl is None:
        return fd
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            pass
        try:
            run = store.get(run_id)
            taken = run.pid is not None and procs.is_alive(run.pid, run.pid_start)
        except Exception:  # deleted, or a store that cannot be read: leave it alone
            taken = True
        if taken or time.monotonic() > deadline:
            os.close(fd)
            return None
        time.sleep(0.2)


def _reserve_disk(run_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (run_dir / DISK_RESERVE).write_bytes(b"\0" * DISK_RESERVE_BYTES)


def run_worker(run_id: str, train: Train) -> int:
    """Take one run to an end state with `train(store, run_id)`; returns the exit code."""
    # Noted from the start; raised once the run's ending can be recorded (`_run`).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    store = RunStore()
    run_dir = store.run_dir(run_id)
    pid = os.getpid()
    lock = _lock_run(store, run_id)
    if lock is None and not run_dir.is_dir():
        print(f"[worker {pid}] {run_id}'s folder is gone (deleted); nothing to train", flush=True)
        return 0
    if lock is None:
        print(f"[worker {pid}] another worker holds {run_id}; leaving it alone", flush=True)
        return 0
    removed = checkpoints.remove_partial(run_dir)
    if removed:
        print(f"[worker {pid}] removed partial files: {', '.join(removed)}", flush=True)
    store.register_worker(run_id, pid, procs.process_start_time(pid))
    oom.note_start(run_dir, pid, store.oom_counter)
    _State.guard = memory.Guard()
    _reserve_disk(run_dir)
    done = threading.Event()
    threading.Thread(target=_beat, args=(store, run_id, done), daemon=True).start()
    try:
        return _run(store, run_id, train)
    finally:
        done.set()
        _State.guard.close()
        with contextlib.suppress(OSError):
            (run_dir / DISK_RESERVE).unlink()
        os.close(lock)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def is_out_of_memory(exc: BaseException) -> bool:
    """Backends disagree on the exception type; they agree on the words."""
    for cause in _causes(exc):
        if isinstance(cause, MemoryError):
            return True
        text = f"{type(cause).__name__} {cause}".lower()
        words = ("resourceexhausted", "resource_exhausted", "out of memory", "bad_alloc")
        if any(w in text for w in words):
            return True
    return False


def is_disk_full(exc: BaseException, home: Path | None = None) -> bool:
    """ENOSPC (or a quota) from the OS, h5py or SQLite, anywhere in the exception's chain; or
    an I/O error while the file system of `home` has no room left (SQLite says "disk I/O
    error" when its shared-memory file cannot grow)."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(cause).lower()
        if "no space left" in text or "disk is full" in text or "disk quota" in text:
            return True
    if home is not None and any(isinstance(c, (OSError, sqlite3.Error)) for c in _causes(exc)):
        try:
            stat = os.statvfs(home)
        except OSError:
            return False
        return stat.f_bavail * stat.f_frsize < DISK_LOW_BYTES
    return False


def _batch_size(store: RunStore, run_id: str) -> int:
    try:
        return int(store.get(run_id).config["train"]["batch_size"])
    except Exception:  # the store is what failed: the reason still names the fault
        return 0


def _reason(store: RunStore, run_id: str, exc: BaseException) -> str:
    if isinstance(exc, OutOfMemory) or is_out_of_memory(exc):
        how = str(exc) if isinstance(exc, OutOfMemory) else ""
        return last_words.out_of_memory_reason(_batch_size(store, run_id), how)
    if is_disk_full(exc, store.home):
        return (
            f"disk full: no space left under {store.home}; partial files were removed and the "
            "last checkpoint is kept: free space, then resume"
        )
    if isinstance(exc, (RunFailed, DatasetError, TeacherError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()[:500] + " (details in worker.log)"


def _run(store: RunStore, run_id: str, train: Train) -> int:
    try:
        _State.raise_on_signal = True
        if _State.signal:  # it came while the worker was setting up
            raise StopRequested(f"stopped by {_State.signal} before training began")
        if not wait_for_slot(store, run_id):
            print(
                f"[worker {os.getpid()}] {run_id} was stopped or taken over while queued",
                flush=True,
            )
            return 0
        print(f"[worker {os.getpid()}] training {run_id}", flush=True)
        note = train(store, run_id)
    except StopRequested as exc:
        return _end(store, run_id, "stopped", str(exc))
    except KeyboardInterrupt:
        return _end(store, run_id, "interrupted", "the worker received an interrupt")
    except Exception as exc:
        # The frames hold the model and its data: let them go before anything else.
        _State.guard.release()
        traceback.clear_frames(exc.__traceback__)
        expected = isinstance(exc, (RunFailed, DatasetError, TeacherError))
        if not expected or is_disk_full(exc, store.home):
            with contextlib.suppress(Exception):
                traceback.print_exception(exc)
        return _end(store, run_id, "failed", _reason(store, run_id, exc))
    return _end(store, run_id, "completed", note)


def _end(store: RunStore, run_id: str, status: str, reason: str | None) -> int:
    """Record how the run ended; room is made first (memory reserve, partial files, disk
    reserve), the words go to worker.log first, and a busy or failing store is retried."""
    _State.raise_on_signal = False
    _State.guard.release()
    run_dir = store.run_dir(run_id)
    checkpoints.remove_partial(run_dir)
    with contextlib.suppress(OSError):
        (run_dir / DISK_RESERVE).unlink()
    with contextlib.suppress(OSError):
        last_words.say_ending(status, reason or "")
    for attempt in range(STORE_TRIES):
        try:
            store.finish(run_id, status, reason)
            break
        except (sqlite3.Error, OSError, MemoryError):
            time.sleep(0.2 * (attempt + 1))
    else:
        with contextlib.suppress(OSError):
            print(f"[worker {os.getpid()}] could not record the ending in the store", flush=True)
    return 0 if status in ("completed", "stopped") else 1
