"""The warm spare's spool protocol, with stand-in spares that import no framework.

A stand-in runs the real `spare.serve` in its own process with a no-op warm-up and a `take`
that writes the run id it was handed; STUDIO_WARM_WORKER=0 in its environment keeps it from
starting a real successor. The tests wait for states, never for durations.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from studio.runs import launcher, phases, procs, spare
from studio.runs.paths import spool_dir
from studio.runs.store import RunStore
from tests.helpers import waiting

pytestmark = pytest.mark.skipif(spare.fcntl is None, reason="the warm spare needs flock")
# Spares answer within a second here; a minute is plenty.
wait_for = functools.partial(waiting.wait_for, timeout=60.0, every=0.05)

STAND_IN = """
import sys
from pathlib import Path
from studio.runs import spare

def take(run_id):
    print("took", run_id, flush=True)
    return 0

sys.exit(spare.serve(Path(sys.argv[1]), lambda: print("warmed", flush=True), take))
"""


@pytest.fixture
def stand_ins(studio_home, monkeypatch):
    """`start(**env)`: a stand-in spare for STUDIO_HOME; all are ended after the test."""
    monkeypatch.setenv("STUDIO_WARM_WORKER", "1")
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        studio_home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-c", STAND_IN, str(studio_home)],
            env={**os.environ, "STUDIO_WARM_WORKER": "0", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def idle_pids(home: Path) -> list[int]:
    return spare.spare_status(home)["idle"]


def spool_names(home: Path) -> set[str]:
    return {p.name for p in spool_dir(home).iterdir()} - {spare.LOCK, spare.LOG}


def test_an_idle_spare_takes_a_handed_run_and_becomes_its_worker(studio_home, stand_ins):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    assert spare.spare_status(studio_home)["alive"]
    # The store makes a run's folder with its row; the spare never makes it.
    log = RunStore(studio_home).run_dir("0007-digits-vit-ab12") / "worker.log"
    log.parent.mkdir(parents=True)

    assert spare.hand_off(studio_home, "0007-digits-vit-ab12") == proc.pid
    assert proc.wait(timeout=60) == 0
    out = proc.stdout.read()
    assert "handed 0007-digits-vit-ab12" in out  # warmed up first or not: it may be early
    # From the hand-off on, its output is the run's worker.log.
    text = log.read_text()
    assert "took 0007-digits-vit-ab12" in text and "warm spare" in text
    assert [name for name, _ in phases.read(log)] == ["handed-over"]
    assert spool_names(studio_home) == set()  # no note left behind
    assert not spare.spare_status(studio_home)["alive"]  # the lock went with it


def test_of_many_launchers_at_once_exactly_one_hands_its_run_over(studio_home, stand_ins):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    results: dict[str, int | None] = {}
    barrier = threading.Barrier(8)

    def launch(run_id: str) -> None:
        barrier.wait()
        results[run_id] = spare.hand_off(studio_home, run_id)

    threads = [threading.Thread(target=launch, args=(f"000{i}-x",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [run_id for run_id, pid in results.items() if pid is not None]
    assert len(taken) == 1 and results[taken[0]] == proc.pid, results
    assert proc.wait(timeout=60) == 0
    assert f"handed {taken[0]}" in proc.stdout.read()


def test_only_one_spare_lives_per_home(studio_home, stand_ins):
    first = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [first.pid])
    second = stand_ins()
    assert second.wait(timeout=60) == 0
    assert "another spare is alive" in second.stdout.read()
    assert idle_pids(studio_home) == [first.pid]
    assert spare.ensure(studio_home) is None  # nor does a launcher start another


def test_a_dead_spare_is_never_handed_a_run(studio_home, stand_ins):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (spool_dir(studio_home) / f"spare-{proc.pid}.idle").exists()  # it left its note
    assert spare.hand_off(studio_home, "0001-x") is None
    assert spool_names(studio_home) == set()  # the stale note is gone
    assert not spare.spare_status(studio_home)["alive"]  # and the kernel dropped its lock


def test_a_note_whose_pid_was_reused_is_stale(studio_home, stand_ins, monkeypatch):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    # Same PID, another creation time: not the process that wrote the note.
    monkeypatch.setattr(procs, "process_start_time", lambda pid: "12.5")
    assert spare.hand_off(studio_home, "0001-x") is None
    # Its note was taken for stale: it got no run, finds no note and retires.
    assert proc.wait(timeout=60) == 0
    assert "retires unused" in proc.stdout.read()


def test_a_spare_of_another_environment_retires_instead_of_training(studio_home, stand_ins):
    proc = stand_ins(STUDIO_SOMETHING_ELSE="1")
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    assert spare.hand_off(studio_home, "0001-x") is None
    assert proc.wait(timeout=60) == 0
    assert "retires unused" in proc.stdout.read()
    assert spool_names(studio_home) == set()


def test_an_idle_spare_exits_after_its_idle_time(studio_home, stand_ins):
    proc = stand_ins(STUDIO_WARM_WORKER_IDLE_S="1")
    assert proc.wait(timeout=60) == 0
    assert "retires unused" in proc.stdout.read()
    assert spool_names(studio_home) == set()
    assert spare.hand_off(studio_home, "0001-x") is None


def test_stop_spares_ends_an_idle_spare(studio_home, stand_ins):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    assert spare.stop_spares(studio_home) == [proc.pid]
    proc.wait(timeout=60)
    assert not spare.spare_status(studio_home)["alive"]
    assert spool_names(studio_home) == set()


def test_a_spare_whose_home_is_deleted_exits(studio_home, stand_ins):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    subprocess.run(["rm", "-rf", str(studio_home)], check=True)
    assert proc.wait(timeout=60) == 0


@pytest.mark.parametrize("value", ["0", "false", "off", "no"])
def test_the_switch_turns_it_off(studio_home, monkeypatch, value):
    monkeypatch.setenv("STUDIO_WARM_WORKER", value)
    assert not spare.enabled()
    assert spare.ensure(studio_home) is None and not spool_dir(studio_home).exists()


def test_the_fingerprint_follows_the_environment_but_not_the_switch(monkeypatch):
    base = {"HOME": "/h", "KERAS_BACKEND": "tensorflow", "PATH": "/bin"}
    same = spare.fingerprint(base)
    assert spare.fingerprint({**base, "PATH": "/usr/bin", "STUDIO_WARM_WORKER": "1"}) == same
    assert spare.fingerprint({**base, "STUDIO_HOME": "/elsewhere"}) == same
    assert spare.fingerprint({**base, "KERAS_BACKEND": "jax"}) != same
    assert spare.fingerprint({**base, "STUDIO_MAX_CONCURRENT_RUNS": "2"}) != same


# -- the launcher ---------------------------------------------------------------------------


@pytest.fixture
def spawned(monkeypatch):
    """What the launcher would have spawned, instead of spawning it."""
    calls: list[list[str]] = []
    monkeypatch.setattr(
        procs, "spawn_detached", lambda args, log, env=None, **kw: calls.append(args) or 1
    )
    return calls


def _config() -> dict:
    from studio.config import make_config

    return make_config("cpu-quick", "digits").to_dict()


def test_with_the_switch_off_every_run_starts_cold(studio_home, monkeypatch, spawned):
    monkeypatch.setenv("STUDIO_WARM_WORKER", "0")
    monkeypatch.setattr(spare, "hand_off", lambda *a: pytest.fail("handed to a spare"))
    run = launcher.submit(RunStore(), _config())
    assert spawned == [["-m", launcher.WORKER_MODULE, run.id]]


def test_a_cold_start_also_starts_a_spare_that_waits_for_this_run(
    studio_home, monkeypatch, spawned
):
    monkeypatch.setenv("STUDIO_WARM_WORKER", "1")
    run = launcher.submit(RunStore(), _config())
    assert spawned == [
        ["-m", launcher.WORKER_MODULE, run.id],
        ["-m", spare.SPARE_MODULE, "--spare", "--after", run.id],
    ]


def test_a_run_that_must_queue_is_not_handed_to_the_spare(studio_home, monkeypatch, spawned):
    monkeypatch.setenv("STUDIO_WARM_WORKER", "1")
    store = RunStore()
    first = store.create_run(_config())
    assert store.try_claim(first.id, 1)
    store.register_worker(first.id, os.getpid(), procs.process_start_time(os.getpid()))
    monkeypatch.setattr(spare, "hand_off", lambda *a: pytest.fail("a queued run went warm"))
    second = launcher.submit(store, _config())
    assert not launcher.may_start_now(store, second.id)
    assert spawned[0] == ["-m", launcher.WORKER_MODULE, second.id]


def test_a_run_goes_to_an_idle_spare_when_it_may_start(studio_home, stand_ins, spawned):
    proc = stand_ins()
    wait_for(lambda: idle_pids(studio_home) == [proc.pid])
    run = launcher.submit(RunStore(), _config())
    assert spawned == []  # no cold worker, no new spare from the launcher
    assert proc.wait(timeout=60) == 0
    assert f"took {run.id}" in (RunStore().run_dir(run.id) / "worker.log").read_text()


def test_phase_lines_read_back(tmp_path, capsys):
    phases.mark("python-up", at=100.25)
    phases.mark("first-row")
    log = tmp_path / "worker.log"
    log.write_text("noise\n" + capsys.readouterr().out + "[worker 1] phase bad at x\n")
    read = phases.read(log)
    assert [name for name, _ in read] == ["python-up", "first-row"]
    assert read[0][1] == 100.25 and read[1][1] > 100.25
    assert phases.read(tmp_path / "missing.log") == []
