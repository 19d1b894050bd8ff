"""Stop, resume and delete of one run at once (two tabs, a script and a tab, a stale page):
threads released together by a barrier call the launcher's and the store's real methods; only
the worker's process start is replaced by a note. Whatever the order, no call fails with
anything but a refusal in words, a run is requeued (and a worker started) at most once per
successful resume, a run that is listed has its folder, and a deleted run leaves nothing.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from studio.runs import launcher, procs
from studio.runs.store import RunNotFound, RunStore

ROUNDS = 12


@pytest.fixture
def spawned(studio_home, monkeypatch) -> list[str]:
    """The run folder of each worker the launcher started."""
    calls: list[str] = []

    def spawn(args, log_path, env=None, **kw) -> int:
        with open(log_path, "ab"):  # as the real one: the worker's output goes there
            pass
        calls.append(log_path.parent.name)
        return 1

    monkeypatch.setattr(procs, "spawn_detached", spawn)
    return calls


def act(store: RunStore, action: str, run_id: str) -> str:
    """What one caller saw: 'ok', 'refused: ...' or (a stop of a deleted run) 'gone: ...'."""
    try:
        if action == "resume":
            launcher.resume(store, run_id)
        elif action == "stop":
            store.request_stop(run_id)
        elif action == "delete":
            return "ok" if store.delete(run_id) else "refused: active"
    except launcher.LaunchError as exc:
        return f"refused: {exc}"
    except RunNotFound as exc:
        if action != "stop":  # a resume refuses in words, a delete of nothing is a no-op
            raise
        return f"gone: {exc}"
    return "ok"


def race(actions: tuple[str, ...], run_id: str) -> dict[str, list[str]]:
    barrier = threading.Barrier(len(actions))
    seen: dict[str, list[str]] = {a: [] for a in actions}
    crashed: list[BaseException] = []

    def one(action: str) -> None:
        store = RunStore()  # each tab and each CLI has its own
        barrier.wait()
        try:
            seen[action].append(act(store, action, run_id))
        except BaseException as exc:  # anything else is the fault under test
            crashed.append((action, exc))

    threads = [threading.Thread(target=one, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not crashed, crashed
    return seen


@pytest.mark.parametrize(
    "actions",
    [
        ("resume", "resume"),
        ("resume", "delete"),
        ("resume", "stop"),
        ("stop", "delete"),
        ("resume", "resume", "stop", "delete"),
    ],
    ids="+".join,
)
def test_stop_resume_and_delete_of_one_run_at_once(spawned, tiny, actions):
    store = RunStore()
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        run = store.create_run(tiny().to_dict())
        store.finish(run.id, "stopped", "stopped by the user at epoch 1 step 3")
        spawned.clear()
        seen = race(actions, run.id)
        resumed = seen.get("resume", []).count("ok")
        listed = {r.id: r for r in store.list_runs()}
        folder = store.run_dir(run.id).is_dir()

        # A resume whose run was stopped and deleted after its requeue may have started a
        # worker (it finds no folder and leaves) and still says the run is gone.
        late = sum("deleted a moment ago" in said for said in seen.get("resume", []))
        assert resumed <= len(spawned) <= resumed + late, (seen, spawned)
        if "resume" in actions and "stop" not in actions:
            assert resumed <= 1, seen  # two resumes never both requeue
        for said in seen.get("resume", []):
            if said.startswith("refused"):
                assert any(
                    w in said for w in ("already", "deleted", "no run matches", "can be resumed")
                ), said
        if run.id in listed:
            after = listed[run.id]
            assert folder and not after.files_missing, seen
            assert after.status in ("queued", "stopped"), (after.status, seen)
            if after.status == "queued":
                assert not after.stop_requested and resumed, seen
            assert "ok" not in seen.get("delete", []), seen
        else:
            assert not folder, f"{run.id}'s folder outlived its row: {seen}"
            assert seen["delete"] == ["ok"], seen
        outcomes.update(f"{a}:{s.split(':')[0]}" for a, said in seen.items() for s in said)
    # Every caller's outcome was one of the above; which orders occurred is the scheduler's.
    assert sum(outcomes.values()) == ROUNDS * len(actions), outcomes
    folders = sorted(p.name for p in store.run_dir("x").parent.iterdir())
    assert folders == sorted(r.id for r in store.list_runs()), outcomes


def test_a_stop_of_a_run_deleted_a_moment_ago_says_it_is_gone(studio_home, tiny):
    store = RunStore()
    run = store.create_run(tiny().to_dict())
    store.finish(run.id, "stopped", "stopped by the user")
    stale = RunStore()  # a tab drawn before the delete, its Stop button still shown
    assert store.delete(run.id)
    with pytest.raises(RunNotFound, match="no run matches"):
        stale.request_stop(run.id)


def test_a_resume_that_loses_to_a_delete_is_refused_in_words(spawned, tiny, monkeypatch):
    store = RunStore()
    run = store.create_run(tiny().to_dict())
    store.finish(run.id, "interrupted", "worker process 1 is gone (killed or crashed)")
    requeue = RunStore.requeue

    def deleted_first(self, run_id):
        # The other tab's delete lands between this resume's checks and its requeue.
        assert RunStore().delete(run_id)
        return requeue(self, run_id)

    monkeypatch.setattr(RunStore, "requeue", deleted_first)
    with pytest.raises(launcher.LaunchError, match="was deleted a moment ago"):
        launcher.resume(store, run.id)
    assert not spawned and not store.run_dir(run.id).exists()
