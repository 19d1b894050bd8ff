"""The run store: SQLite (WAL) for runs, statuses and metric rows, plus a folder per run.

Workers write, everyone reads, concurrently. Disk is the source of truth: the UI and the CLI
derive everything they show from here. No keras import. The database carries its schema
version (`PRAGMA user_version`) and is migrated forward when an older one is opened
(`studio.runs.migrations`).
"""

from __future__ import annotations

import json
import math
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

from studio.runs import last_words, procs
from studio.runs.migrations import upgrade
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

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _row_to_run(row: sqlite3.Row) -> Run:
    data = dict(row)
    data["config"] = json.loads(data.pop("config_json"))
    test_json = data.pop("test_json")
    data["test"] = json.loads(test_json) if test_json else None
    data["stop_requested"] = bool(data["stop_requested"])
    return Run(**data)


class RunStore:
    """SQLite run database plus per-run folders under `home`."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home else studio_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "studio.db"
        with self._connect() as conn:
            upgrade(conn, self.db_path)

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so readers never see half a change."""
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
        """Register a queued run and make its (empty) folder."""
        dataset = config["data"]["dataset"]
        variant = config["model"]["variant"]
        slug = Path(dataset.split(":", 1)[-1]).name if ":" in dataset else dataset
        slug = "".join(c if c.isalnum() else "-" for c in slug.lower()).strip("-")[:24] or "data"
        now = time.time()
        with self._write() as conn:
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
                    json.dumps(config),
                    "queued",
                    config["train"]["epochs"],
                ),
            )
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return self.get(run_id)

    def resolve(self, ref: str) -> str:
        """Full run id from an id, a unique prefix, or a run's number (`7` or `0007`)."""
        with self._connect() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY seq")]
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if ref.isdigit() and not matches:
            matches = [i for i in ids if int(i.split("-")[0]) == int(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFound(f"no run matches '{ref}' (see `python -m studio list`)")
        raise RunNotFound(f"'{ref}' matches {len(matches)} runs: {', '.join(matches[:5])}")

    def get(self, ref: str, with_latest: bool = False) -> Run:
        run_id = self.resolve(ref)
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            run = _row_to_run(row)
            if with_latest:
                run.latest = self._latest(conn, run_id)
        return run

    def list_runs(self, with_latest: bool = False) -> list[Run]:
        with self._connect() as conn:
            runs = [_row_to_run(r) for r in conn.execute("SELECT * FROM runs ORDER BY seq")]
            if with_latest:
                for run in runs:
                    run.latest = self._latest(conn, run.id)
        return runs

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
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        return True

    # -- workers and the queue ------------------------------------------------------------

    def register_worker(self, run_id: str, pid: int, pid_start: str | None) -> None:
        self.update(run_id, pid=pid, pid_start=pid_start, heartbeat_at=time.time())

    def heartbeat(self, run_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (time.time(), run_id))

    def try_claim(self, run_id: str, max_running: int) -> bool:
        """Move a queued run to running if a slot is free and every older queued run has one."""
        self.reconcile()
        with self._write() as conn:
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
        changed = []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, status, pid, pid_start, spawned_at, heartbeat_at, config_json"
                " FROM runs WHERE status IN ('queued', 'running')"
            ).fetchall()
        for row in rows:
            ending = _why_dead(row, now, self.run_dir(row["id"]))
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
        with self._connect() as conn:
            return [_row_to_metrics(r) for r in conn.execute(query + " ORDER BY id", args)]

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
            row = conn.execute(
                "SELECT * FROM metrics WHERE run_id=? AND kind=? ORDER BY id DESC LIMIT 1",
                (run_id, kind),
            ).fetchone()
            if row:
                latest[kind] = {k: v for k, v in _row_to_metrics(row).items() if v is not None}
        best = conn.execute(
            "SELECT MAX(json_extract(values_json, '$.val_accuracy')) FROM metrics"
            " WHERE run_id=? AND kind='epoch'",
            (run_id,),
        ).fetchone()[0]
        if best is not None:
            latest["best_val_accuracy"] = best
        return latest


def _row_to_metrics(row: sqlite3.Row) -> dict[str, Any]:
    values = json.loads(row["values_json"])
    return {
        **{name: row[name] for name in ROW_FIELDS},
        **dict.fromkeys(CORE_METRICS),
        **values,
    }


def _why_dead(row: sqlite3.Row, now: float, run_dir: Path) -> tuple[str, str] | None:
    """(status, reason) for an active run whose worker is gone or silent, else None."""
    pid, spawned, beat = row["pid"], row["spawned_at"], row["heartbeat_at"]
    if pid is None:
        if spawned is not None and now - spawned > SPAWN_GRACE_S:
            return "interrupted", f"the worker never started ({int(now - spawned)} s after launch)"
        return None
    if not procs.is_alive(pid, row["pid_start"]):
        # artifacts.WORKER_LOG: the store cannot import artifacts (it imports the store).
        said = last_words.read_ending(run_dir / "worker.log", pid, _batch_size(row))
        if said is not None:
            status, reason = said
            return status, reason or None
        return "interrupted", f"worker process {pid} is gone (killed or crashed)"
    if beat is not None and now - beat > HEARTBEAT_STALE_S:
        return "interrupted", f"worker process {pid} sent no heartbeat for {int(now - beat)} s"
    return None


def _batch_size(row: sqlite3.Row) -> int | None:
    try:
        return int(json.loads(row["config_json"])["train"]["batch_size"])
    except (TypeError, ValueError, KeyError):
        return None
