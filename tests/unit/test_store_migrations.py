"""The run store's schema versions: a database written before versions opens and migrates,
one from a newer release is refused, and a new one is born at the current version."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from studio.runs.migrations import SCHEMA_VERSION, StoreVersionError
from studio.runs.store import RunStore

# Written by the release before schema versions (fixed metric columns, user_version 0):
# run 1 completed with 2 epochs of step and epoch rows, run 2 queued.
LEGACY_DB = Path(__file__).parents[1] / "data" / "legacy-studio.db"


def _version(home: Path) -> int:
    with sqlite3.connect(home / "studio.db") as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_a_database_of_the_former_layout_opens_with_every_row(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(LEGACY_DB, home / "studio.db")
    store = RunStore(home)
    assert _version(home) == SCHEMA_VERSION
    first, second = store.list_runs(with_latest=True)
    assert (first.status, second.status) == ("completed", "queued")
    assert first.test["top3"] == pytest.approx(0.9)
    rows = store.metrics(first.id)
    assert [(r["kind"], r["epoch"]) for r in rows] == [
        ("step", 1),
        ("epoch", 1),
        ("step", 2),
        ("epoch", 2),
    ]
    assert rows[1]["val_accuracy"] == pytest.approx(0.35) and rows[1]["epoch_seconds"] == 4.0
    assert rows[0]["val_loss"] is None  # a step row never had one
    assert first.latest["best_val_accuracy"] == pytest.approx(0.7)
    # It is an ordinary store now: new rows with new metrics, ids continuing.
    store.add_metric(first.id, "epoch", 3, 5, loss=0.5, top3=0.9)
    assert store.metrics(first.id)[-1]["id"] == rows[-1]["id"] + 1
    RunStore(home)  # and opening it again migrates nothing
    assert len(store.metrics(first.id)) == 5


def test_a_new_database_starts_at_the_current_version(tmp_path):
    RunStore(tmp_path / "home")
    assert _version(tmp_path / "home") == SCHEMA_VERSION


def test_a_database_of_a_newer_release_is_refused_untouched(tmp_path, run_cli, monkeypatch):
    home = tmp_path / "home"
    RunStore(home)
    with sqlite3.connect(home / "studio.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreVersionError, match="newer ViT Studio"):
        RunStore(home)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    code, _, err = run_cli("list")
    assert code == 2 and err.startswith("error: ") and "newer ViT Studio" in err
    assert _version(home) == SCHEMA_VERSION + 1


def test_the_pages_say_why_they_cannot_open_a_newer_store(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO

    home = tmp_path / "home"
    RunStore(home)
    with sqlite3.connect(home / "studio.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("newer ViT Studio" in e.value for e in at.error)


def test_a_file_that_is_not_a_database_or_another_programs_is_named(tmp_path, run_cli, monkeypatch):
    from studio.runs.migrations import StoreError

    home = tmp_path / "home"
    home.mkdir()
    (home / "studio.db").write_bytes(b"not sqlite at all" * 100)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    code, _, err = run_cli("list")
    assert code == 2 and "is damaged (file is not a database)" in err
    (home / "studio.db").unlink()
    with sqlite3.connect(home / "studio.db") as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="not a ViT Studio run store"):
        RunStore(home)
    with sqlite3.connect(home / "studio.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"notes"}  # nothing of the studio's written into it
