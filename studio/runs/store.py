"""The run store: SQLite (WAL) for runs, statuses and metric rows, plus a folder per run.

Workers write, everyone reads, concurrently. Disk is the source of truth: the UI and the CLI
derive everything they show from here. No keras import. The database carries its schema
version (`PRAGMA user_version`) and is migrated forward when an older one is opened
(`studio.runs.migrations`).

Rows are read defensively: a run whose stored config, status or numbers cannot be read is
still listed, with `Run.damage` saying why, and a run whose folder is gone with
`Run.files_missing`; a metric row that cannot be read is left out of `metrics()` and counted
in its `skipped`. A database that cannot be used at all (not a database, damaged, another
program's, locked too long, read-only) raises StoreError naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.errors import ConfigError
from studio.config.schema import RunConfig
from studio.config.variants import VARIANTS
from studio.runs import last_words, oom, procs
from studio.runs.migrations import SCHEMA_VERSION, StoreError, check_tables, upgrade
from studio.runs.paths import studio_home

STATUSES = ("queued", "running", "completed", "failed", "stopped", "interrupted")
ACTIVE = ("queued", "running")
RESUMABLE = ("stopped", "interrupted", "failed")
TERMINAL = ("completed", "failed", "stopped", "interrupted")
# A worker beats every couple of seconds from its own thread; a minute of silence means
# it is hung or gone, whatever its PID says.
HEARTBEAT_STALE_S = 60.0
# A just-launched worker needs a moment to import and register itself.
SPAWN_GRACE_S = 30.0
# How long a connection waits for another process's lock before saying the store is busy.
LOCK_TIMEOUT_S = 30.0
# A second Start of the same config this soon is the same click (double click, two tabs):
# `create_run_once` hands back the first run. Deliberate twins wait this long or change a
# field (the seed); a seeded twin would train the same model anyway.
SUBMIT_WINDOW_S = 10.0

# Metrics are open-keyed (any name a model compiles is kept); these are the ones every
# classification run records, present in every row read back (None when not recorded).
CORE_METRICS = (
    "loss",
    "accuracy",
    "top5",
    "val_loss",
    "val_accuracy",
    "val_top5",
    "lr",
    "images_per_s",
    "epoch_seconds",
)
ROW_FIELDS = ("id", "run_id", "kind", "epoch", "step", "time")
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class RunNotFound(KeyError):
    """No run matches the id or prefix given."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Run:
    """One row of the runs table, with derived conveniences."""

    id: str
    seq: int
    queue_seq: int
    created_at: float
    dataset: str
    variant: str
    preset: str
    config: dict[str, Any]
    status: str
    reason: str | None
    pid: int | None
    pid_start: str | None
    spawned_at: float | None
    heartbeat_at: float | None
    started_at: float | None
    finished_at: float | None
    train_seconds: float
    epochs_done: int
    epochs_total: int
    steps_per_epoch: int | None
    stop_requested: bool
    device: str | None
    num_classes: int | None
    model_sha256: str | None
    test: dict[str, float] | None
    latest: dict[str, Any] = field(default_factory=dict)
    # Why part of this run's row cannot be read (its config, status or numbers), or None.
    # A damaged run is listed but never trained, resumed, evaluated or loaded.
    damage: str | None = None
    # Its folder (model, checkpoints, labels) is gone: deleted or moved by hand.
    files_missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


_INT_COLUMNS = ("seq", "queue_seq", "epochs_done", "epochs_total")
_OPTIONAL_INT_COLUMNS = ("pid", "steps_per_epoch", "num_classes")
_FLOAT_COLUMNS = ("created_at", "train_seconds")
_OPTIONAL_FLOAT_COLUMNS = ("spawned_at", "heartbeat_at", "started_at", "finished_at")
_TEXT_COLUMNS = ("id", "dataset", "variant", "preset", "status")


def _number(value: Any, kind: type) -> Any:
    """value as int or float when it is a finite number, else None (SQLite keeps any type)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    return kind(value)


def _stored_config(text: Any) -> tuple[dict[str, Any], str | None]:
    """The stored config as a dict, or {} and why it cannot be read as a run config."""
    try:
        raw = json.loads(text)
    except (TypeError, ValueError) as err:
        return {}, f"its stored config is not valid JSON ({err})"
    try:
        RunConfig.from_dict(raw)
    except ConfigError as err:
        return {}, f"its stored config cannot be read: {err}"
    except TypeError as err:
        return {}, f"its stored config cannot be read: {err}"
    return raw, None


def _row_to_run(row: sqlite3.Row) -> Run:
    data = dict(row)
    problems = []
    data["config"], problem = _stored_config(data.pop("config_json"))
    problems += [problem] if problem else []
    test_json = data.pop("test_json")
    try:
        test = json.loads(test_json) if test_json else None
    except (TypeError, ValueError):
        test = None
    if test_json and not isinstance(test, dict):
        test = None
        problems.append("its stored test result is not readable")
    if test:
        numbers = {k: v for k, v in test.items() if _number(v, float) is not None}
        if len(numbers) < len(test):
            problems.append("its stored test result holds values that are not numbers")
        test = numbers
    data["test"] = test
    for name in _TEXT_COLUMNS:
        if not isinstance(data[name], str):
            problems.append(f"its {name} is {data[name]!r}, not text")
            data[name] = str(data[name])
    for names, kind, fallback in (
        (_INT_COLUMNS, int, 0),
        (_OPTIONAL_INT_COLUMNS, int, None),
        (_FLOAT_COLUMNS, float, 0.0),
        (_OPTIONAL_FLOAT_COLUMNS, float, None),
    ):
        for name in names:
            value = _number(data[name], kind)
            if value is None and data[name] is not None:
                problems.append(f"its {name} is {data[name]!r}, not a number")
            data[name] = fallback if value is None else value
    if data["status"] not in STATUSES:
        problems.append(f"its status {data['status']!r} is not one the studio knows")
    if data["variant"] not in VARIANTS:
        # A newer release's model, or a hand edit: nothing here can build or load it.
        problems.append(f"its model variant {data['variant']!r} is not one this studio knows")
    data["stop_requested"] = bool(data["stop_requested"])
    return Run(**data, damage="; ".join(problems) or None)


class MetricRows(list):
    """Metric rows, and why the rows left out of them could not be read."""

    def __init__(self, rows: list[dict[str, Any]] = (), skipped: list[str] = ()) -> None:
        super().__init__(rows)
        self.skipped = list(skipped)


class RunStore:
    """SQLite run database plus per-run folders under `home`."""

    def __init__(self, home: Path | None = None, oom_counter: oom.Counter | None = None) -> None:
        self.home = Path(home) if home else studio_home()
        # Where the kernel's OOM kill count is read (a stand-in in tests): `studio.runs.oom`.
        self.oom_counter = oom_counter or oom.oom_kills
        self.db_path = self.home / "studio.db"
        # Why this store can only be read (a read-only STUDIO_HOME), or None: its runs are
        # listed and shown, and every write is refused with these words.
        self.read_only: str | None = None
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            if not self.db_path.is_file():
                raise StoreError(
                    f"STUDIO_HOME {self.home} cannot be created ({err.strerror}): point "
                    "STUDIO_HOME at a folder this user can write"
                ) from None
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        if not self.db_path.exists() and wal.exists():
            # SQLite would start an empty database beside the log and drop its pages.
            raise StoreError(
                f"{self.db_path} is missing but its write-ahead log {wal.name} is there: the "
                "database was moved or deleted by hand. Put it back; or, to start a fresh "
                f"store, move {wal.name} and {self.db_path.name}-shm aside too"
            )
        self.check()
        if self.db_path.is_file() and not all(
            os.access(path, os.W_OK) for path in (self.home, self.db_path)
        ):
            self.read_only = (
                f"the run store {self.db_path} is read-only (STUDIO_HOME {self.home} cannot be "
                "written by this user): runs can be listed and shown, but not started, "
                "stopped, resumed or deleted; point STUDIO_HOME at a folder this user can "
                "write to do that"
            )
            with self._connect() as conn:
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.read_only}. It was written by an older ViT Studio and cannot "
                        "be upgraded while it cannot be written"
                    )
            return
        with self._connect() as conn:
            upgrade(conn, self.db_path)

    def check(self) -> None:
        """Raise StoreError if the database is not a usable run store (damaged, another
        program's, replaced), reading only: nothing, not even WAL mode, is written into it."""
        if not self.db_path.exists():
            return
        try:
            with contextlib.closing(self._read_connection()) as conn:
                check_tables(conn, conn.execute("PRAGMA user_version").fetchone()[0], self.db_path)
        except StoreError:
            raise
        except sqlite3.DatabaseError as err:
            raise self._unusable(err) from None

    def _read_connection(self) -> sqlite3.Connection:
        """A connection that never writes. SQLite reads a WAL database only where it can make
        the -shm file beside it; where it cannot (a read-only folder), the file is opened as
        immutable, which is exact once the last writer has closed it (its log folded in)."""
        uri = self.db_path.resolve().as_uri()
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=LOCK_TIMEOUT_S)
        try:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return conn
        except sqlite3.OperationalError as err:
            conn.close()
            # No -shm can be made: "unable to open", or "readonly" where the file is not ours.
            if "unable to open" not in str(err) and "readonly" not in str(err):
                raise
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=LOCK_TIMEOUT_S)

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Moved aside while a server holds this store: the next connection starts a fresh one.
        fresh = not self.db_path.exists()
        try:
            if self.read_only:
                conn = self._read_connection()
            else:
                conn = sqlite3.connect(self.db_path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as err:
            raise self._unusable(err) from None
        try:
            conn.row_factory = sqlite3.Row
            if self.read_only:
                yield conn
                return
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
            if fresh:
                upgrade(conn, self.db_path)
            yield conn
        except StoreError:
            raise
        except sqlite3.DatabaseError as err:
            raise self._unusable(err) from None
        finally:
            conn.close()

    def _unusable(self, err: sqlite3.Error) -> sqlite3.Error:
        """A StoreError naming the file and what to do, for errors that mean the database
        itself cannot be used; other errors (a constraint, a bug) unchanged."""
        text, db = str(err), self.db_path
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the run store {db} stayed locked by another process for "
                f"{LOCK_TIMEOUT_S:g} s (another studio command or a stuck worker): try again; "
                f"`fuser {db}` names the process holding it"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                f"{db} is damaged ({text}): stop the studio and its workers, then recover it "
                f"with `sqlite3 {db.name} .recover | sqlite3 recovered.db` and move "
                f"recovered.db in its place, or move {db.name} aside to start a fresh store "
                "(run folders are kept either way)"
            )
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(
                f"the run store {db} cannot be opened for writing ({text}): STUDIO_HOME "
                f"{self.home} must be a folder this user can write, or point STUDIO_HOME "
                "elsewhere"
            )
        if "disk is full" in text or "disk I/O" in text:
            return StoreError(f"the run store {db} cannot be written ({text}): free disk space")
        return err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so readers never see half a change."""
        if self.read_only:
            raise StoreError(self.read_only)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    # -- runs -----------------------------------------------------------------------------

    def create_run(self, config: dict[str, Any]) -> Run:
        """Register a queued run and make its (empty) folder; a config that could not be read
        back (wrong shape or types) is refused with ConfigError."""
        return self.create_run_once(config, within_s=None)[0]

    def create_run_once(
        self, config: dict[str, Any], within_s: float | None = SUBMIT_WINDOW_S
    ) -> tuple[Run, bool]:
        """Like create_run, unless a queued or running run with the very same config was
        created in the last `within_s` seconds: then that run, and False (not created).

        The check and the insert share one write transaction, so of two tabs or two clicks
        at once exactly one queues. None: no check (the CLI, where a script may queue twins).
        """
        RunConfig.from_dict(config)
        text = json.dumps(config)
        dataset = config["data"]["dataset"]
        variant = config["model"]["variant"]
        slug = Path(dataset.split(":", 1)[-1]).name if ":" in dataset else dataset
        slug = "".join(c if c.isalnum() else "-" for c in slug.lower()).strip("-")[:24] or "data"
        now = time.time()
        with self._write() as conn:
            if within_s is not None:
                twin = conn.execute(
                    "SELECT id FROM runs WHERE config_json=? AND created_at>=? AND status IN"
                    " (?, ?) ORDER BY seq DESC LIMIT 1",
                    (text, now - within_s, *ACTIVE),
                ).fetchone()
                if twin is not None:
                    return self.get(twin[0]), False
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0]
            queue_seq = conn.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM runs").fetchone()[
                0
            ]
            run_id = f"{seq:04d}-{slug}-{variant}-{secrets.token_hex(2)}"
            conn.execute(
                "INSERT INTO runs (id, seq, queue_seq, created_at, dataset, variant, preset,"
                " config_json, status, epochs_total) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    seq,
                    queue_seq,
                    now,
                    dataset,
                    variant,
                    config.get("preset", ""),
                    text,
                    "queued",
                    config["train"]["epochs"],
                ),
            )
            # Inside the transaction: no reader sees the run before its folder, and a folder
            # that cannot be made leaves no row behind.
            try:
                self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"cannot make the run's folder {self.run_dir(run_id)} ({err.strerror}): "
                    f"STUDIO_HOME {self.home} must be a folder this user can write"
                ) from None
        return self.get(run_id), True

    def resolve(self, ref: str) -> str:
        """Full run id from an id, a unique prefix, or a run's number (`7` or `0007`)."""
        with self._connect() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY seq")]
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if ref.isdigit() and not matches:
            matches = [
                i for i in ids if i.split("-")[0].isdigit() and int(i.split("-")[0]) == int(ref)
            ]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFound(f"no run matches '{ref}' (see `python -m studio list`)")
        raise RunNotFound(f"'{ref}' matches {len(matches)} runs: {', '.join(matches[:5])}")

    def get(self, ref: str, with_latest: bool = False) -> Run:
        run_id = self.resolve(ref)
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:  # deleted between resolving and reading
                raise RunNotFound(f"no run matches '{ref}' (see `python -m studio list`)")
            run = self._run(row)
            if with_latest:
                run.latest = self._latest(conn, run_id)
        return run

    def list_runs(self, with_latest: bool = False) -> list[Run]:
        with self._connect() as conn:
            runs = [self._run(r) for r in conn.execute("SELECT * FROM runs ORDER BY seq")]
            if with_latest:
                for run in runs:
                    run.latest = self._latest(conn, run.id)
        return runs

    def _run(self, row: sqlite3.Row) -> Run:
        run = _row_to_run(row)
        run.files_missing = not self.run_dir(run.id).is_dir()
        return run

    def update(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run; `config` and `test` are stored as JSON."""
        if "config" in fields:
            fields["config_json"] = json.dumps(fields.pop("config"))
        if "test" in fields:
            fields["test_json"] = json.dumps(fields.pop("test"))
        assignments = ", ".join(f"{k}=?" for k in fields)
        with self._write() as conn:
            conn.execute(f"UPDATE runs SET {assignments} WHERE id=?", (*fields.values(), run_id))

    def request_stop(self, run_id: str) -> Run:
        """Ask the worker to stop at its next batch; a queued run stops at once."""
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:  # deleted since the caller looked (another tab, a script)
                raise RunNotFound(f"no run matches '{run_id}' (deleted a moment ago)")
            if row["status"] == "queued":
                conn.execute(
                    "UPDATE runs SET status='stopped', reason='stopped while queued',"
                    " stop_requested=1, finished_at=? WHERE id=?",
                    (time.time(), run_id),
                )
            else:
                conn.execute("UPDATE runs SET stop_requested=1 WHERE id=?", (run_id,))
        return self.get(run_id)

    def stop_requested(self, run_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT stop_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    def requeue(self, run_id: str) -> bool:
        """Put a stopped, interrupted or failed run back at the end of the queue; False when
        it is in no such state any more (another resume, a delete, won the race)."""
        resumable = ",".join(f"'{s}'" for s in RESUMABLE)
        with self._write() as conn:
            queue_seq = conn.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM runs").fetchone()[
                0
            ]
            cur = conn.execute(
                "UPDATE runs SET status='queued', reason=NULL, stop_requested=0, pid=NULL,"
                " pid_start=NULL, spawned_at=NULL, heartbeat_at=NULL, finished_at=NULL,"
                f" queue_seq=? WHERE id=? AND status IN ({resumable})",
                (queue_seq, run_id),
            )
        return cur.rowcount == 1

    def delete(self, run_id: str) -> bool:
        """Delete a run that is not queued or running, with its folder; False (nothing
        deleted) when it is: a resume may have queued it since the caller looked."""
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is not None and row["status"] in ACTIVE:
                return False
            conn.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))
        folder = self.run_dir(run_id)
        # Moved aside in one step first: a late writer (a launcher opening the worker's log)
        # then finds no folder, rather than a file that stops rmtree from removing it.
        trash = folder.with_name(f".deleted-{run_id}-{secrets.token_hex(4)}")
        try:
            folder.rename(trash)
        except FileNotFoundError:
            return True
        except OSError:
            trash = folder
        shutil.rmtree(trash, ignore_errors=True)
        return True

    # -- workers and the queue ------------------------------------------------------------

    def register_worker(self, run_id: str, pid: int, pid_start: str | None) -> None:
        self.update(run_id, pid=pid, pid_start=pid_start, heartbeat_at=time.time())

    def heartbeat(self, run_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (time.time(), run_id))

    def try_claim(self, run_id: str, max_running: int, pid: int | None = None) -> bool:
        """Move a queued run to running if a slot is free and every older queued run has one;
        with `pid`, only while that process is the run's registered worker (a worker whose
        run was stopped and resumed meanwhile must leave it to the one the resume started)."""
        self.reconcile()
        with self._write() as conn:
            if pid is not None:
                row = conn.execute("SELECT pid FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None or row["pid"] != pid:
                    return False
            running = conn.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
            free = max_running - running
            if free <= 0:
                return False
            ahead = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM runs WHERE status='queued' ORDER BY queue_seq LIMIT ?", (free,)
                )
            ]
            if run_id not in ahead:
                return False
            conn.execute(
                "UPDATE runs SET status='running', started_at=COALESCE(started_at, ?),"
                " heartbeat_at=? WHERE id=?",
                (time.time(), time.time(), run_id),
            )
        return True

    def finish(self, run_id: str, status: str, reason: str | None = None) -> None:
        assert status in STATUSES, status
        self.update(run_id, status=status, reason=reason, finished_at=time.time())

    def reconcile(self, now: float | None = None) -> list[str]:
        """End active runs whose worker is gone or silent; return their ids.

        A gone worker's last words in its log say how it ended (a store write that failed:
        no memory, no disk), or that memory ran out (`studio.runs.last_words`); otherwise the
        run is interrupted. A store that cannot be written now (a full disk) is left as it
        is: the next reader tries again.
        """
        now = now or time.time()
        changed: list[str] = []
        if self.read_only:
            return changed  # nothing can be recorded; the rows are shown as they are
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, status, pid, pid_start, spawned_at, heartbeat_at, config_json"
                " FROM runs WHERE status IN ('queued', 'running')"
            ).fetchall()
        for row in rows:
            ending = _why_dead(row, now, self.run_dir(row["id"]), self.oom_counter)
            if ending is None:
                continue
            status, reason = ending
            try:
                with self._write() as conn:
                    # Re-check inside the lock: the worker may have finished meanwhile.
                    cur = conn.execute(
                        "UPDATE runs SET status=?, reason=?, finished_at=?"
                        " WHERE id=? AND status=? AND COALESCE(pid, 0)=COALESCE(?, 0)",
                        (status, reason, now, row["id"], row["status"], row["pid"]),
                    )
            except sqlite3.OperationalError:
                continue
            if cur.rowcount:
                changed.append(row["id"])
        return changed

    # -- metrics --------------------------------------------------------------------------

    def add_metric(self, run_id: str, kind: str, epoch: int, step: int, **values: float) -> None:
        """Record one row of named values; non-finite values are kept as None."""
        bad = [name for name in values if not _METRIC_NAME.match(name)]
        if bad:
            raise ValueError(f"metric names must be identifiers: {sorted(bad)}")
        clean = {
            k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in values.items()
        }
        with self._write() as conn:
            conn.execute(
                "INSERT INTO metrics (run_id, kind, epoch, step, time, values_json)"
                " VALUES (?,?,?,?,?,?)",
                (run_id, kind, epoch, step, time.time(), json.dumps(clean)),
            )

    def metrics(self, run_id: str, kind: str | None = None, after_id: int = 0) -> list[dict]:
        """Metric rows in order; `after_id` lets a live reader fetch only what is new.

        Each row holds its fields (id, run_id, kind, epoch, step, time), every core metric
        (None when not recorded) and whatever else the run recorded.
        """
        query = "SELECT * FROM metrics WHERE run_id=? AND id>?"
        args: list[Any] = [run_id, after_id]
        if kind:
            query += " AND kind=?"
            args.append(kind)
        rows, skipped = [], []
        with self._connect() as conn:
            for r in conn.execute(query + " ORDER BY id", args):
                row, problem = _read_metrics(r)
                if row is not None:
                    rows.append(row)
                if problem:
                    skipped.append(f"row {r['id']}: {problem}")
        return MetricRows(rows, skipped)

    def truncate_after_epoch(self, run_id: str, epoch: int) -> None:
        """Forget metrics past the last checkpointed epoch, so a resume records each epoch once."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM metrics WHERE run_id=? AND ((kind='epoch' AND epoch>?)"
                " OR (kind='step' AND epoch>?))",
                (run_id, epoch, epoch),
            )
            conn.execute("UPDATE runs SET epochs_done=? WHERE id=?", (epoch, run_id))

    def _latest(self, conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
        latest: dict[str, Any] = {}
        for kind in ("epoch", "step"):
            # The newest readable row: a garbled last row does not hide the one before it.
            for row in conn.execute(
                "SELECT * FROM metrics WHERE run_id=? AND kind=? ORDER BY id DESC LIMIT 20",
                (run_id, kind),
            ):
                values = _read_metrics(row)[0]
                if values is not None:
                    latest[kind] = {k: v for k, v in values.items() if v is not None}
                    break
        # A classifier's best validation accuracy, a captioner's best validation BLEU-4.
        for metric in BEST_OF:
            # json_extract raises on malformed JSON, so only valid rows' numbers are compared.
            best = conn.execute(
                "SELECT MAX(CASE WHEN json_valid(values_json) THEN"
                f" CASE WHEN json_type(values_json, '$.{metric}') IN ('real', 'integer')"
                f" THEN json_extract(values_json, '$.{metric}') END END)"
                " FROM metrics WHERE run_id=? AND kind='epoch'",
                (run_id,),
            ).fetchone()[0]
            if _number(best, float) is not None:
                latest[f"best_{metric}"] = best
        return latest


# Metrics whose best epoch `latest` reports as best_<metric>: fixed names, never user text
# (they are spliced into the query).
BEST_OF = ("val_accuracy", "val_bleu4")


def _read_metrics(row: sqlite3.Row) -> tuple[dict[str, Any] | None, str | None]:
    """One metric row as a dict, or None; and what in it could not be read.

    A row whose values are not a JSON object, or whose epoch or step is not a whole number,
    is left out; a value that is not a finite number becomes None (that point is not drawn).
    """
    try:
        values = json.loads(row["values_json"], parse_constant=lambda name: name)
    except (TypeError, ValueError):
        return None, "its values are not valid JSON"
    if not isinstance(values, dict):
        return None, "its values are not a JSON object"
    fields = {name: row[name] for name in ROW_FIELDS}
    if fields["kind"] not in ("step", "epoch"):
        return None, f"its kind {fields['kind']!r} is neither step nor epoch"
    for name in ("epoch", "step"):
        if _number(fields[name], int) is None or fields[name] != int(fields[name]):
            return None, f"its {name} is {fields[name]!r}, not a whole number"
        fields[name] = int(fields[name])
    fields["time"] = _number(fields["time"], float)
    bad = sorted(k for k, v in values.items() if v is not None and _number(v, float) is None)
    clean = {k: (None if k in bad else v) for k, v in values.items() if k not in ROW_FIELDS}
    problem = f"not a number: {', '.join(bad)}" if bad else None
    return {**fields, **dict.fromkeys(CORE_METRICS), **clean}, problem


def _why_dead(
    row: sqlite3.Row, now: float, run_dir: Path, oom_counter: oom.Counter = oom.oom_kills
) -> tuple[str, str] | None:
    """(status, reason) for an active run whose worker is gone or silent, else None."""
    pid, spawned, beat = (
        _number(row[name], kind)
        for name, kind in (("pid", int), ("spawned_at", float), ("heartbeat_at", float))
    )
    if pid is None and row["pid"] is not None:
        return None  # not a number: the run is listed as damaged, its worker not judged
    if pid is None:
        if spawned is not None and now - spawned > SPAWN_GRACE_S:
            return "interrupted", f"the worker never started ({int(now - spawned)} s after launch)"
        return None
    if not procs.is_alive(pid, row["pid_start"]):
        # artifacts.WORKER_LOG: the store cannot import artifacts (it imports the store).
        log, batch_size = run_dir / "worker.log", _batch_size(row)
        said = last_words.read_ending(log, pid, batch_size)
        if said is not None:
            status, reason = said
            return status, reason or None
        if batch_size and oom.killed_by_oom(run_dir, pid, last_words.tail(log), oom_counter):
            how = "killed by the kernel's out-of-memory killer"
            return "failed", last_words.out_of_memory_reason(batch_size, how)
        return "interrupted", f"worker process {pid} is gone (killed or crashed)"
    if beat is not None and now - beat > HEARTBEAT_STALE_S:
        return "interrupted", f"worker process {pid} sent no heartbeat for {int(now - beat)} s"
    return None


def _batch_size(row: sqlite3.Row) -> int | None:
    try:
        return int(json.loads(row["config_json"])["train"]["batch_size"])
    except (TypeError, ValueError, KeyError):
        return None
