"""The warm spare worker: a detached process that has already imported the framework and
waits, cheaply, to be handed the next run, so Start does not wait for TensorFlow's import.

Everything happens in one spool folder, `STUDIO_HOME/spool/` (`paths.spool_dir`):

    spare.lock            flock'ed by the live spare: at most one per STUDIO_HOME, and the
                          kernel drops the lock when the spare dies, however it dies
    spare-PID.idle        its note (JSON: pid, creation time, fingerprint): ready to take a run
    spare-PID.run-RUN_ID  the hand-off: a launcher *renamed* the idle note to this name. A
                          rename is atomic: of two launchers only one takes the spare, and a
                          spare retiring (it unlinks its note) and a launcher never both win
    spare-PID.retire      the note renamed by `stop_spares` or by a launcher whose
                          environment or code differs: the spare exits
    spare.log             the spares' own output, until one is handed a run

A spare is `python -m studio.training --spare [--after RUN_ID]`. It takes the lock (or exits:
another spare is alive), publishes its note at once, waits (with `--after`) until that run
wrote its first metric row so that its own import does not slow the run it follows, imports
the framework, then polls its note every `POLL_S`. Handed a run, it releases the lock, starts
its successor, points its output at the run's worker.log and becomes that run's worker
(`studio.runs.worker.run_worker`): it registers its PID and creation time like any worker, so
reconciliation, kill -9 and resume treat it as one. The spare itself is in no run's row, so
reconciliation never sees it. It exits after `STUDIO_WARM_WORKER_IDLE_S` (900 s) idle, or when
its STUDIO_HOME is gone. STUDIO_WARM_WORKER=0 turns the whole thing off (every run starts
cold); so does a platform without flock (Windows).

A launcher hands a run to the spare only if the run may train at once (a queued worker holds
no framework) and the spare was started with the launcher's interpreter, environment
(`KERAS_BACKEND`, `CUDA_*`, `STUDIO_*`, ...) and source files (`fingerprint`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; every run starts cold
    fcntl = None  # type: ignore[assignment]

from studio.runs import artifacts, phases, procs
from studio.runs.paths import spool_dir
from studio.runs.store import ACTIVE, RunNotFound, RunStore

# The spare and the run worker are the same program: python -m studio.training [--spare].
SPARE_MODULE = "studio.training"
LOCK = "spare.lock"
LOG = "spare.log"
POLL_S = 0.1
DEFAULT_IDLE_S = 900.0
# How long a successor waits for the run it follows to write its first row before importing.
AFTER_TIMEOUT_S = 120.0
LOCK_TRIES = 10  # a launcher probing the lock holds it for microseconds: try for a second
LOG_KEEP_BYTES = 1_000_000

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ENV_PREFIXES = (
    "KERAS_",
    "TF_",
    "XLA_",
    "JAX_",
    "CUDA_",
    "NVIDIA_",
    "ROCM_",
    "HIP_",
    "OMP_",
    "MKL_",
    "PYTHON",
    "HF_",
    "STUDIO_",
)
_ENV_NAMES = ("HOME", "LD_LIBRARY_PATH", "LD_PRELOAD", "TMPDIR")
# STUDIO_HOME is the spool's own home; the switch and the idle time do not change a run.
_ENV_IGNORED = ("STUDIO_HOME", "STUDIO_WARM_WORKER", "STUDIO_WARM_WORKER_IDLE_S")
_STUDIO_DIR = Path(__file__).resolve().parents[1]
# The packages a worker imports (never ui, demo, space, cli): editing those restarts no spare.
_WORKER_PACKAGES = ("config", "datasets", "runs", "layers", "models", "training", "inference")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True unless STUDIO_WARM_WORKER is 0 (or false, no, off), or flock is missing."""
    value = (os.environ if environ is None else environ).get("STUDIO_WARM_WORKER", "1")
    return fcntl is not None and value.strip().lower() not in ("0", "false", "no", "off")


def idle_timeout_s(environ: Mapping[str, str] | None = None) -> float:
    """Seconds an idle spare waits for a run before it exits (STUDIO_WARM_WORKER_IDLE_S)."""
    value = (os.environ if environ is None else environ).get("STUDIO_WARM_WORKER_IDLE_S", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return DEFAULT_IDLE_S


def fingerprint(environ: Mapping[str, str] | None = None) -> str:
    """What a run's worker must share with the spare it is handed to: the interpreter, the
    environment variables that steer the framework or the studio, and the source files of
    the packages a worker imports (their sizes and modification times)."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256(f"{sys.executable}\0{_STUDIO_DIR}\0".encode())
    for name in sorted(environ):
        if name in _ENV_IGNORED:
            continue
        if name in _ENV_NAMES or name.startswith(_ENV_PREFIXES):
            digest.update(f"{name}={environ[name]}\0".encode())
    sources = [_STUDIO_DIR / "__init__.py"]
    for package in _WORKER_PACKAGES:
        sources += sorted((_STUDIO_DIR / package).rglob("*.py"))
    for path in sources:
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(_STUDIO_DIR)}:{stat.st_mtime_ns}:{stat.st_size}\0".encode()
            )
    return digest.hexdigest()[:20]


# -- the notes in the spool -----------------------------------------------------------------


def _note_path(spool: Path, pid: int, state: str) -> Path:
    return spool / f"spare-{pid}.{state}"


def _read_note(path: Path) -> dict | None:
    try:
        note = json.loads(path.read_text())
        int(note["pid"])
        return note
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _note_alive(note: dict | None) -> bool:
    return note is not None and procs.is_alive(int(note["pid"]), note.get("started"))


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _sweep(spool: Path) -> None:
    """Forget the notes of spares that died (kill -9, a crash, a reboot)."""
    for path in spool.glob("spare-*.*"):
        if path.name in (LOCK, LOG):
            continue
        if not _note_alive(_read_note(path)):
            _unlink(path)


def _lock_held(spool: Path) -> bool:
    """Whether a live spare holds the lock (probed without waiting)."""
    fd = os.open(spool / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's lock
    return False


def spare_status(home: Path) -> dict:
    """For people and tests: {'alive': bool, 'idle': [pids]} of the spare in `home`."""
    spool = spool_dir(home)
    if not spool.is_dir() or fcntl is None:
        return {"alive": False, "idle": []}
    idle = [
        int(n["pid"]) for n in map(_read_note, sorted(spool.glob("spare-*.idle"))) if _note_alive(n)
    ]
    return {"alive": _lock_held(spool), "idle": idle}


# -- the launcher's side ----------------------------------------------------------------------


def hand_off(home: Path, run_id: str, env: Mapping[str, str] | None = None) -> int | None:
    """Give `run_id` to the idle spare of `home`; its PID, or None when none can take it.

    `env`: what the launcher adds to its own environment for a worker; the spare must have
    been started with the same.
    """
    spool = spool_dir(home)
    if not enabled() or not _RUN_ID.match(run_id) or not spool.is_dir():
        return None
    mine = fingerprint({**os.environ, **(env or {})})
    for idle in sorted(spool.glob("spare-*.idle")):
        note = _read_note(idle)
        if not _note_alive(note):
            _unlink(idle)  # its spare died; nobody else will use the note
            continue
        pid = int(note["pid"])
        if note.get("fingerprint") != mine:
            # Another interpreter, environment or source: it must not train this run, and
            # it holds the lock a matching spare needs, so it retires.
            with contextlib.suppress(OSError):
                os.rename(idle, _note_path(spool, pid, "retire"))
            continue
        claim = _note_path(spool, pid, f"run-{run_id}")
        try:
            os.rename(idle, claim)
        except FileNotFoundError:
            continue  # another launcher took it, or it just retired
        if _note_alive(note):
            return pid
        _unlink(claim)  # it died between the two looks: the run starts cold
    return None


def ensure(
    home: Path, after: str | None = None, env: Mapping[str, str] | None = None
) -> int | None:
    """Start a spare for `home` unless one is alive or starting; the new PID, or None.

    With `after`, the new spare imports nothing until that run wrote its first metric row.
    `env` is added to this process's environment, as for a worker.
    """
    if not enabled():
        return None
    spool = spool_dir(home)
    spool.mkdir(parents=True, exist_ok=True)
    if _lock_held(spool):
        return None
    _sweep(spool)
    log = spool / LOG
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_KEEP_BYTES:
            log.unlink()
    args = ["-m", SPARE_MODULE, "--spare", *(["--after", after] if after else [])]
    return procs.spawn_detached(args, log, env={**(env or {}), "STUDIO_HOME": str(home)})


def stop_spares(home: Path, timeout_s: float = 30.0) -> list[int]:
    """Retire and terminate the idle spare of `home` (a spare already handed a run is a run's
    worker and is left alone), until none holds the lock; returns the PIDs signalled. For
    tests and shutdowns."""
    spool = spool_dir(home)
    if not spool.is_dir() or fcntl is None:
        return []
    signalled: list[int] = []
    deadline = time.monotonic() + timeout_s
    while True:
        # Again each round: a spare that took the lock a moment ago publishes its note now.
        for idle in sorted(spool.glob("spare-*.idle")):
            note = _read_note(idle)
            if note is None:
                continue
            pid = int(note["pid"])
            try:
                os.rename(idle, _note_path(spool, pid, "retire"))
            except FileNotFoundError:
                continue  # handed a run meanwhile
            if _note_alive(note):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
                signalled.append(pid)
        if not _lock_held(spool) or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    _sweep(spool)
    return signalled


# -- the spare's side -------------------------------------------------------------------------


def _take_lock(spool: Path) -> int | None:
    fd = os.open(spool / LOCK, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited (PEP 446)
    for _ in range(LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            time.sleep(POLL_S)
    os.close(fd)
    return None


def _publish(spool: Path, note: dict) -> Path:
    idle = _note_path(spool, note["pid"], "idle")
    tmp = spool / f".spare-{note['pid']}.tmp"  # outside the spare-* names swept or read
    tmp.write_text(json.dumps(note))
    os.replace(tmp, idle)
    return idle


def _claimed(spool: Path, pid: int) -> str | None:
    """The run a launcher handed over, or None (retired, or the spool is gone)."""
    for path in spool.glob(f"spare-{pid}.run-*"):
        _unlink(path)
        run_id = path.name.split(".run-", 1)[1]
        if _RUN_ID.match(run_id):
            return run_id
    _unlink(_note_path(spool, pid, "retire"))
    return None


def _wait_for_first_row(store: RunStore, run_id: str, idle: Path) -> None:
    """Until `run_id` wrote a step row or ended, or this spare's note moved (handed, retired)."""
    deadline = time.monotonic() + AFTER_TIMEOUT_S
    while idle.exists() and time.monotonic() < deadline:
        try:
            if store.get(run_id).status not in ACTIVE or store.metrics(run_id, kind="step"):
                return
        except RunNotFound:
            return
        except Exception:  # a busy or vanished store: stop waiting, the spare is not vital
            return
        time.sleep(5 * POLL_S)


def _wait_for_claim(spool: Path, pid: int, idle: Path, idle_s: float) -> str | None:
    deadline = time.monotonic() + idle_s
    while idle.exists():
        if time.monotonic() > deadline or not spool.is_dir():
            try:
                idle.unlink()  # withdrawn: from now on no launcher can rename it
                return None
            except FileNotFoundError:
                break  # a launcher renamed it a moment ago: take that run
        time.sleep(POLL_S)
    return _claimed(spool, pid)


def _point_output_at(log: Path) -> None:
    """Send this process's stdout and stderr (Python's and the framework's) to `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    # Its folder is not made here: a run deleted since the hand-off stays deleted.
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def serve(
    home: Path,
    warm_up: Callable[[], None],
    take: Callable[[str], int],
    after: str | None = None,
) -> int:
    """The spare's life: wait, warm up, wait for a run, then `take(run_id)` and return its
    exit code; 0 when it retires unused."""
    launched_env = dict(os.environ)  # before the framework sets any: the successor's env
    pid = os.getpid()
    spool = spool_dir(home)
    spool.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(spool)
    if lock is None:
        print(f"[spare {pid}] another spare is alive; exiting", flush=True)
        return 0
    # The store is opened before the spare shows itself idle: from then on its home may be
    # deleted under it (a test, a person), and a store opened after that would fail.
    store = RunStore(home)
    idle = _publish(
        spool,
        {"pid": pid, "started": procs.process_start_time(pid), "fingerprint": fingerprint()},
    )
    if after:
        _wait_for_first_row(store, after, idle)
    warm_s = None
    if idle.exists():  # not handed a run yet: import now, while nobody waits
        began = time.monotonic()
        warm_up()
        warm_s = time.monotonic() - began
        print(f"[spare {pid}] ready: framework imported in {warm_s:.1f} s", flush=True)
    run_id = _wait_for_claim(spool, pid, idle, idle_timeout_s())
    if run_id is None:
        print(f"[spare {pid}] retires unused", flush=True)
        return 0
    os.close(lock)  # from here on this is a run's worker, and a successor may start
    if enabled(launched_env):
        with contextlib.suppress(OSError):
            procs.spawn_detached(
                ["-m", SPARE_MODULE, "--spare", "--after", run_id],
                spool / LOG,
                env={"STUDIO_HOME": str(home)},
                base_env=launched_env,
            )
    print(f"[spare {pid}] handed {run_id}", flush=True)
    try:
        _point_output_at(store.run_dir(run_id) / artifacts.WORKER_LOG)
    except FileNotFoundError:
        print(f"[spare {pid}] {run_id}'s folder is gone (deleted); nothing to train", flush=True)
        return 0
    imported = f"framework imported in {warm_s:.1f} s" if warm_s is not None else "not warm yet"
    print(f"[worker {pid}] warm spare ({imported}) takes {run_id}", flush=True)
    phases.mark("handed-over")
    return take(run_id)
