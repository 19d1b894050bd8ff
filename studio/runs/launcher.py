"""Queue runs and start their detached workers; used by the CLI and the UI alike.

A run that may train at once goes to the warm spare worker if one is idle (`studio.runs.spare`:
the framework is imported already); otherwise a cold worker is spawned, and a spare is started
for the next run (it waits until this run's first metric row before importing anything).
"""

from __future__ import annotations

import time
from typing import Any

from studio.runs import artifacts, checkpoints, procs, spare
from studio.runs.store import ACTIVE, RESUMABLE, Run, RunNotFound, RunStore
from studio.runs.worker import max_concurrent_runs

# The process that trains a run: `python -m studio.training RUN_ID` (see studio.runs.worker).
WORKER_MODULE = "studio.training"


class LaunchError(ValueError):
    """A run cannot be started or resumed in its current state."""


def may_start_now(store: RunStore, run_id: str) -> bool:
    """Whether the queued `run_id` would get a slot at once (see RunStore.try_claim)."""
    store.reconcile()
    runs = store.list_runs()
    me = next((r for r in runs if r.id == run_id), None)
    if me is None:
        return False
    running = sum(r.status == "running" for r in runs)
    ahead = sum(r.status == "queued" and r.queue_seq < me.queue_seq for r in runs)
    return running + ahead < max_concurrent_runs()


def worker_env(store: RunStore) -> dict[str, str]:
    """What a worker's environment adds to the launcher's (a spare gets the same)."""
    return {"STUDIO_HOME": str(store.home)}


def warm_up(store: RunStore) -> int | None:
    """Start the warm spare now if none is alive (the Train page calls this when it opens, so
    that the first Start is warm too); the new spare's PID, or None."""
    return spare.ensure(store.home, env=worker_env(store))


def _deleted(run_id: str) -> LaunchError:
    return LaunchError(f"run {run_id} was deleted a moment ago")


def _current(store: RunStore, run_id: str) -> Run:
    """The run as stored now. A queued run can be stopped and deleted by another caller at
    any moment; that is said in words, not raised as a missing key."""
    try:
        return store.get(run_id)
    except RunNotFound:
        raise _deleted(run_id) from None


def _write_config(store: RunStore, run_id: str, config: dict[str, Any]) -> None:
    try:
        artifacts.write_config(store.run_dir(run_id), config)
    except FileNotFoundError:
        raise _deleted(run_id) from None


def _spawn(store: RunStore, run_id: str) -> None:
    store.update(run_id, spawned_at=time.time())
    env = worker_env(store)
    # Only a run that trains at once goes warm: a queued worker holds no framework runtime.
    warm = spare.enabled() and may_start_now(store, run_id)
    if warm and spare.hand_off(store.home, run_id, env) is not None:
        return  # the spare starts its own successor
    try:
        # The log's folder is the run's, made with its row: never made again here, so a run
        # deleted since it was queued leaves no folder behind.
        procs.spawn_detached(
            ["-m", WORKER_MODULE, run_id], store.run_dir(run_id) / artifacts.WORKER_LOG, env=env
        )
    except FileNotFoundError:
        raise _deleted(run_id) from None
    spare.ensure(store.home, after=run_id, env=env)


def submit(store: RunStore, config: dict[str, Any]) -> Run:
    """Queue a new run and start its worker; returns at once."""
    run = store.create_run(config)
    _write_config(store, run.id, config)
    _spawn(store, run.id)
    return _current(store, run.id)


def submit_once(store: RunStore, config: dict[str, Any]) -> tuple[Run, bool]:
    """Queue a run unless the same config was just queued (a double click, a second tab):
    (the run, True) when this call queued it, (the earlier run, False) when it did not."""
    run, created = store.create_run_once(config)
    if not created:
        return run, False
    _write_config(store, run.id, config)
    _spawn(store, run.id)
    return _current(store, run.id), True


def resume(store: RunStore, ref: str, batch_size: int | None = None, fresh: bool = False) -> Run:
    """Requeue a stopped, interrupted or failed run; it continues from its last checkpoint.

    `batch_size`: train on at another batch size (a run that ran out of memory retries at
    half); the learning-rate schedule keeps its place by epoch (`studio.training.trainer`).
    `fresh`: forget its checkpoints and metrics and start again from epoch 0 (a run whose
    checkpoints are all damaged). Of two resumes at once only one requeues and spawns.
    """
    store.reconcile()
    try:
        run = store.get(ref)
    except RunNotFound as exc:  # a page drawn before another tab deleted it
        raise LaunchError(str(exc)) from None
    if run.damage:
        raise LaunchError(f"run {run.id} is damaged ({run.damage}); it cannot be resumed")
    if run.files_missing:
        raise LaunchError(
            f"run {run.id}: its folder {store.run_dir(run.id)} is missing (deleted or moved by "
            "hand); put it back to resume it"
        )
    if run.status in ACTIVE:
        # The same words whether the other resume won before this one read the run or
        # while it requeued (below): two tabs, a double click.
        raise LaunchError(f"run {run.id} is {run.status} already; it needs no resume")
    if run.status not in RESUMABLE:
        raise LaunchError(
            f"run {run.id} is {run.status}; only {', '.join(RESUMABLE)} runs can be resumed"
        )
    if batch_size is not None and batch_size < 1:
        raise LaunchError(f"batch size must be a positive integer, not {batch_size}")
    if not store.requeue(run.id):
        now = _current(store, run.id).status
        raise LaunchError(f"run {run.id} is {now} already (resumed elsewhere a moment ago)")
    run_dir = store.run_dir(run.id)
    if batch_size is not None and batch_size != run.config["train"]["batch_size"]:
        config = {**run.config, "train": {**run.config["train"], "batch_size": batch_size}}
        store.update(run.id, config=config)
        _write_config(store, run.id, config)
    if fresh:
        checkpoints.discard(run_dir)
        store.truncate_after_epoch(run.id, 0)
        store.update(run.id, train_seconds=0.0, started_at=None)
    _spawn(store, run.id)
    return _current(store, run.id)
