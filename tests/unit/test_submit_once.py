"""Start is idempotent: the same config queued twice at once (two clicks, two tabs) is one run."""

from __future__ import annotations

import threading

from studio.config import make_config
from studio.runs import launcher
from studio.runs.store import RunStore


def _config(**train) -> dict:
    cfg = make_config("cpu-quick", "digits", "vit").to_dict()
    cfg["train"].update(train)
    return cfg


def test_two_concurrent_submits_of_one_config_queue_one_run(studio_home, monkeypatch):
    spawned = []
    monkeypatch.setattr(launcher, "_spawn", lambda store, run_id: spawned.append(run_id))
    RunStore()  # the schema exists before the race, as on any page that shows the form
    barrier = threading.Barrier(4)
    results = []

    def start() -> None:
        barrier.wait()
        results.append(launcher.submit_once(RunStore(), _config()))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = RunStore().list_runs()
    assert len(runs) == 1 and spawned == [runs[0].id]
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert {run.id for run, _ in results} == {runs[0].id}


def test_another_config_or_a_finished_twin_queues_a_new_run(studio_home, monkeypatch):
    monkeypatch.setattr(launcher, "_spawn", lambda store, run_id: None)
    store = RunStore()
    first, created = launcher.submit_once(store, _config())
    assert created
    assert launcher.submit_once(store, _config(seed=7))[1]  # one field differs: a new run
    store.finish(first.id, "failed", "boom")
    again, created = launcher.submit_once(store, _config())  # retrying a failed run is meant
    assert created and again.id != first.id


def test_the_cli_path_still_queues_twins(studio_home):
    store = RunStore()
    a, b = store.create_run(_config()), store.create_run(_config())
    assert a.id != b.id
