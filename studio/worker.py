"""A detached training worker: `python -m studio.worker RUN_ID`.

One OS process per run, in its own session, so it outlives whatever launched it. It
registers itself, beats a heartbeat from a thread, waits for a free slot in the queue,
trains, and records how the run ended. It never imports streamlit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback

from studio import procs
from studio.store import RunStore

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


def run_worker(run_id: str) -> int:
    """Train one run to an end state; returns the process exit code."""
    store = RunStore()
    pid = os.getpid()
    store.register_worker(run_id, pid, procs.process_start_time(pid))
    done = threading.Event()
    threading.Thread(target=_beat, args=(store, run_id, done), daemon=True).start()
    try:
        if not wait_for_slot(store, run_id):
            return 0
        print(f"[worker {pid}] training {run_id}", flush=True)
        return _train(store, run_id)
    finally:
        done.set()


def _train(store: RunStore, run_id: str) -> int:
    # Imported here: a queued worker should not hold a TensorFlow runtime while it waits.
    from studio.datasets.errors import DatasetError
    from studio.teacher import TeacherError
    from studio.training.device import is_out_of_memory
    from studio.training.errors import NonFiniteLoss, PretrainedUnavailable, StopRequested
    from studio.training.trainer import train_run

    try:
        train_run(store, run_id)
    except StopRequested as exc:
        store.finish(run_id, "stopped", str(exc))
        return 0
    except (NonFiniteLoss, DatasetError, TeacherError, PretrainedUnavailable) as exc:
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m studio.worker RUN_ID", file=sys.stderr)
        return 2
    return run_worker(args[0])


if __name__ == "__main__":
    sys.exit(main())
