"""Queue runs and start their detached workers; used by the CLI and the UI alike."""

from __future__ import annotations

import time
from typing import Any

from studio.runs import artifacts, procs
from studio.runs.store import RESUMABLE, Run, RunStore

# The process that trains a run: `python -m studio.training RUN_ID` (see studio.runs.worker).
WORKER_MODULE = "studio.training"


class LaunchError(ValueError):
    """A run cannot be started or resumed in its current state."""


def _spawn(store: RunStore, run_id: str) -> None:
    store.update(run_id, spawned_at=time.time())
    procs.spawn_detached(
        ["-m", WORKER_MODULE, run_id],
        store.run_dir(run_id) / artifacts.WORKER_LOG,
        env={"STUDIO_HOME": str(store.home)},
    )


def submit(store: RunStore, config: dict[str, Any]) -> Run:
    """Queue a new run and start its worker; returns at once."""
    run = store.create_run(config)
    artifacts.write_config(store.run_dir(run.id), config)
    _spawn(store, run.id)
    return store.get(run.id)


def resume(store: RunStore, ref: str) -> Run:
    """Requeue a stopped, interrupted or failed run; it continues from its last checkpoint."""
    store.reconcile()
    run = store.get(ref)
    if run.status not in RESUMABLE:
        raise LaunchError(
            f"run {run.id} is {run.status}; only {', '.join(RESUMABLE)} runs can be resumed"
        )
    store.requeue(run.id)
    _spawn(store, run.id)
    return store.get(run.id)
