"""The life of a detached training worker, whatever it trains.

One OS process per run (`python -m studio.training RUN_ID`, started by the launcher), in its
own session, so it outlives whatever launched it. It registers itself, beats a heartbeat from
a thread, waits for a free slot in the queue, calls the training function it is given, and
records how the run ended. It never imports streamlit, and keras only through that function.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable

from studio.datasets.errors import DatasetError
from studio.runs import procs
from studio.runs.errors import RunFailed, StopRequested
from studio.runs.preflight import TeacherError
from studio.runs.store import RunStore

Train = Callable[[RunStore, str], None]

HEARTBEAT_EVERY_S = 2.0
QUEUE_POLL_S = 1.0


def max_concurrent_runs() -> int:
    """One run per device by default; STUDIO_MAX_CONCURRENT_RUNS raises it."""
    try:
        return max(1, int(os.environ.get("STUDIO_MAX_CONCURRENT_RUNS", "1")))
    except ValueError:
        return 1


def _beat(store: RunStore, run_id: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_EVERY_S):
        # A busy database must not kill the heartbeat thread.
        with contextlib.suppress(Exception):
            store.heartbeat(run_id)


def wait_for_slot(store: RunStore, run_id: str) -> bool:
    """Block until this run may train; False if it was stopped or taken over meanwhile."""
    while True:
        if store.try_claim(run_id, max_concurrent_runs()):
            return True
        run = store.get(run_id)
        if run.status != "queued" or run.stop_requested:
            return False
        time.sleep(QUEUE_POLL_S)


def run_worker(run_id: str, train: Train) -> int:
    """Take one run to an end state with `train(store, run_id)`; returns the exit code."""
    store = RunStore()
    pid = os.getpid()
    store.register_worker(run_id, pid, procs.process_start_time(pid))
    done = threading.Event()
    threading.Thread(target=_beat, args=(store, run_id, done), daemon=True).start()
    try:
        if not wait_for_slot(store, run_id):
            return 0
        print(f"[worker {pid}] training {run_id}", flush=True)
        return _train(store, run_id, train)
    finally:
        done.set()


def is_out_of_memory(exc: BaseException) -> bool:
    """Backends disagree on the exception type; they agree on the words."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("resourceexhausted", "resource_exhausted", "out of memory"))


def _train(store: RunStore, run_id: str, train: Train) -> int:
    try:
        train(store, run_id)
    except StopRequested as exc:
        store.finish(run_id, "stopped", str(exc))
        return 0
    except (RunFailed, DatasetError, TeacherError) as exc:
        store.finish(run_id, "failed", str(exc))
        return 1
    except KeyboardInterrupt:
        store.finish(run_id, "interrupted", "the worker received an interrupt")
        return 1
    except Exception as exc:
        traceback.print_exc()
        if is_out_of_memory(exc):
            batch = store.get(run_id).config["train"]["batch_size"]
            reason = f"out of memory at batch size {batch}; try --batch-size {max(1, batch // 2)}"
        else:
            reason = f"{type(exc).__name__}: {exc}".strip()[:500] + " (details in worker.log)"
        store.finish(run_id, "failed", reason)
        return 1
    store.finish(run_id, "completed")
    print(f"[worker {os.getpid()}] completed {run_id}", flush=True)
    return 0
