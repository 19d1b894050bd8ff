"""The run store's schema, by version, and the steps that carry an older database forward.

`PRAGMA user_version` holds the version a database was written with: 0 for one made before
versions were kept (metrics in fixed columns), then one step per release that changes the
schema. Opening a database runs the missing steps in one transaction, so a store written by
one release opens in the next, and a half-migrated database never exists. A database from a
newer release is refused rather than misread, and so is one that is not the studio's (another
program's tables, or a runs table without the studio's columns): nothing is written into it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 1

_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    queue_seq INTEGER NOT NULL,
    created_at REAL NOT NULL,
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    preset TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    pid INTEGER,
    pid_start TEXT,
    spawned_at REAL,
    heartbeat_at REAL,
    started_at REAL,
    finished_at REAL,
    train_seconds REAL NOT NULL DEFAULT 0,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    epochs_total INTEGER NOT NULL,
    steps_per_epoch INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    device TEXT,
    num_classes INTEGER,
    model_sha256 TEXT,
    test_json TEXT
);
"""
# One row per step or epoch; its values are a JSON object of metric name -> number or null.
_METRICS_V1 = """
CREATE TABLE {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('step', 'epoch')),
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    time REAL NOT NULL,
    values_json TEXT NOT NULL DEFAULT '{{}}'
);
"""
_METRICS_INDEX = "CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id, kind, id);"
# The fixed metric columns of version 0: what that release wrote, frozen here whatever the
# core metrics of store.CORE_METRICS become.
_V0_COLUMNS = (
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


class StoreError(sqlite3.DatabaseError):
    """The run store cannot be used as it is; the message names the file and what to do.

    A sqlite3 error by type, so code that retries on a busy or failing database (the worker
    recording how a run ended) still does.
    """


class StoreVersionError(StoreError):
    """The database was written by a newer release of the studio."""


class ForeignStoreError(StoreError):
    """The database holds tables that are not the studio's."""


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(_RUNS)
    conn.execute(_METRICS_V1.format(table="metrics"))
    conn.execute(_METRICS_INDEX)


def _v0_to_v1(conn: sqlite3.Connection) -> None:
    """Fixed metric columns become one JSON object per row, ids and order kept."""
    conn.execute(_METRICS_V1.format(table="metrics_v1"))
    columns = ", ".join(_V0_COLUMNS)
    rows = conn.execute(f"SELECT id, run_id, kind, epoch, step, time, {columns} FROM metrics")
    conn.executemany(
        "INSERT INTO metrics_v1 (id, run_id, kind, epoch, step, time, values_json)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            (
                *row[:6],
                json.dumps(
                    {k: v for k, v in zip(_V0_COLUMNS, row[6:], strict=True) if v is not None}
                ),
            )
            for row in rows.fetchall()
        ),
    )
    conn.execute("DROP TABLE metrics")
    conn.execute("ALTER TABLE metrics_v1 RENAME TO metrics")
    conn.execute(_METRICS_INDEX)


# version -> the step that makes a database of version - 1 into one of this version.
STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v0_to_v1}


def _version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


# What each version's tables must hold to be the studio's; checked before any step runs.
def _declared(ddl: str, table: str) -> set[str]:
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(ddl.format(table=table))
        return _columns(conn, table)


_RUNS_COLUMNS = _declared(_RUNS, "runs")
_METRICS_COLUMNS = {
    0: {"id", "run_id", "kind", "epoch", "step", "time", *_V0_COLUMNS},
    1: _declared(_METRICS_V1, "metrics"),
}


def check_tables(conn: sqlite3.Connection, version: int, where: Path | str) -> None:
    """Refuse a database whose tables are not the studio's at this version (another program's
    database, or one edited by hand), so it is neither misread nor written into."""
    tables = {
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if not r[0].startswith("sqlite_")
    }
    if not tables:
        return
    expected = {"runs": _RUNS_COLUMNS, "metrics": _METRICS_COLUMNS.get(version, set())}
    problems = [f"no {name} table" for name in expected if name not in tables]
    for name, columns in expected.items():
        missing = columns - _columns(conn, name) if name in tables else set()
        if missing:
            problems.append(f"{name} lacks {', '.join(sorted(missing))}")
    if problems:
        others = sorted(tables - set(expected))
        found = f"; it holds {', '.join(others[:5])}" if others else ""
        raise ForeignStoreError(
            f"{where} is not a ViT Studio run store ({'; '.join(problems)}{found}): move it "
            "aside (or point STUDIO_HOME elsewhere) and the studio starts a fresh one"
        )


def upgrade(conn: sqlite3.Connection, where: Path | str = "studio.db") -> int:
    """Bring the database to SCHEMA_VERSION (creating it if empty); returns the version found."""
    found = _version(conn)
    if found == SCHEMA_VERSION:
        check_tables(conn, found, where)
        return found
    if found > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{where} was written by a newer ViT Studio (store schema {found}; this version "
            f"reads up to {SCHEMA_VERSION}): upgrade the studio, or point STUDIO_HOME elsewhere"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while this one waited for the lock.
        found = _version(conn)
        if found < SCHEMA_VERSION:
            check_tables(conn, found, where)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "runs" not in tables:
                _create(conn)
            else:
                for version in range(found + 1, SCHEMA_VERSION + 1):
                    STEPS[version](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found
