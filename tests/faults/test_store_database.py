"""Damaged state on disk, the database itself: not a database, damaged pages, another program's
database, a runs table without the studio's columns, a write-ahead log without its database, a
lock held by another process, a read-only STUDIO_HOME. Each is refused with one line naming
the file and what to do (CLI exit 2, an error box on the pages), and nothing is written into a
database that is not the studio's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.config import make_config
from studio.runs import store as store_module
from studio.runs.migrations import StoreError
from studio.runs.store import RunStore
from tests.conftest import REPO


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(run_cli, *words: str, verb: str = "list") -> str:
    code, out, err = run_cli(verb)
    lines = err.strip().splitlines()
    assert code == 2 and not out, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def _store_with_runs(home: Path, n: int = 40) -> RunStore:
    store = RunStore(home)
    for _ in range(n):
        run = store.create_run(make_config("cpu-quick", "digits").to_dict())
        store.add_metric(run.id, "epoch", 1, 10, loss=1.0, val_accuracy=0.5)
    return store


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        conn.execute("INSERT INTO photos (path) VALUES ('holiday.jpg')")


def _runs_without_columns(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE metrics (id INTEGER PRIMARY KEY, value REAL)")


def _newer_foreign(path: Path) -> None:
    _foreign(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 1")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_foreign, ["is not a ViT Studio run store", "no runs table", "photos", "move it aside"]),
        (_runs_without_columns, ["runs lacks", "config_json", "metrics lacks", "val_accuracy"]),
        (_newer_foreign, ["is not a ViT Studio run store"]),
    ],
    ids=["another-programs-tables", "runs-table-of-another-schema", "foreign-at-our-version"],
)
def test_a_database_of_another_schema_is_refused_untouched(studio_home, run_cli, make, words):
    studio_home.mkdir()
    db = studio_home / "studio.db"
    make(db)
    before = _digest(db)
    _refused(run_cli, str(db), *words)
    _refused(run_cli, str(db), verb="train")
    assert _digest(db) == before  # no table of ours was written into it
    with pytest.raises(StoreError):
        RunStore(studio_home)


@pytest.mark.parametrize(
    "garble",
    ["random-bytes", "text-file", "empty-header", "truncated", "pages-overwritten"],
)
def test_a_file_that_is_not_a_database_or_is_damaged_is_named(studio_home, run_cli, garble):
    store = _store_with_runs(studio_home)
    db = store.db_path
    data = bytearray(db.read_bytes())
    if garble == "random-bytes":
        data = bytearray(os.urandom(len(data)))
    elif garble == "text-file":
        data = bytearray(b"runs: 3\nthis is not sqlite\n" * 50)
    elif garble == "empty-header":
        data[:100] = bytes(100)
    elif garble == "truncated":
        data = data[: 4096 + 100]
    else:
        data[4096 : 4096 * 8] = b"\x55" * (4096 * 7)
    db.write_bytes(bytes(data))
    line = _refused(run_cli, str(db))
    assert "damaged" in line and ".recover" in line and "move studio.db aside" in line


def test_a_database_damaged_while_the_studio_runs_is_named_on_the_pages(studio_home):
    store = _store_with_runs(studio_home, n=3)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    store.db_path.write_bytes(os.urandom(8192))
    at.run()
    for page in ("pages/train.py", "pages/runs.py", "pages/evaluate.py", "pages/demo.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert any("is damaged" in e.value and ".recover" in e.value for e in at.error), page


def test_a_write_ahead_log_without_its_database_is_not_dropped(studio_home, run_cli):
    store = _store_with_runs(studio_home, n=2)
    wal = store.db_path.with_name("studio.db-wal")
    wal.write_bytes(b"frames of runs not yet checkpointed")
    store.db_path.unlink()
    _refused(run_cli, "studio.db", "is missing but its write-ahead log studio.db-wal is there")
    assert not store.db_path.exists() and wal.read_bytes().startswith(b"frames")
    # Moved aside, as the message says: a fresh store.
    wal.rename(studio_home / "kept-wal")
    code, out, _ = run_cli("list")
    assert code == 0 and "no runs yet" in out


def test_a_database_moved_aside_while_a_server_holds_the_store_starts_fresh(studio_home):
    store = _store_with_runs(studio_home, n=2)
    shutil.move(store.db_path, studio_home / "aside.db")
    assert store.list_runs() == []
    assert store.create_run(make_config("cpu-quick", "digits").to_dict()).seq == 1


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("UPDATE runs SET seq = seq")
print("held", flush=True)
sys.stdin.read()  # until the test closes the pipe
"""


def test_a_database_locked_by_another_process_is_named_not_a_hang(
    studio_home, run_cli, monkeypatch
):
    store = _store_with_runs(studio_home, n=2)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(store.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        # The studio waits LOCK_TIMEOUT_S (30 s) for a lock; the test waits a moment.
        monkeypatch.setattr(store_module, "LOCK_TIMEOUT_S", 0.2)
        for verb in ("list", "train"):
            line = _refused(run_cli, "stayed locked by another process", "fuser", verb=verb)
            assert str(store.db_path) in line
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    code, out, _ = run_cli("list")
    assert code == 0 and out.count("queued") == 2  # nothing lost


def _as_nobody() -> list[str]:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI as a user who cannot write")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_a_read_only_studio_home_is_named(tmp_path_factory):
    prefix = _as_nobody()
    # World-readable, owned by root: another user can read it but not write it.
    root = Path(tmp_path_factory.getbasetemp().parent.parent) / f"ro-home-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o755)
    try:
        home = root / "home"
        _store_with_runs(home, n=1)
        os.chmod(home, 0o755)
        # Its runs are listed (test_store_read_only.py); what would write is refused.
        for where, verb, words in (
            (home, "train", "is read-only"),
            (root / "new", "list", "cannot be created (Permission denied)"),
        ):
            proc = subprocess.run(
                [*prefix, sys.executable, "-m", "studio", verb, "--dataset", "digits", "--yes"]
                if verb == "train"
                else [*prefix, sys.executable, "-m", "studio", verb],
                cwd=REPO,
                env={**os.environ, "STUDIO_HOME": str(where), "HOME": str(root)},
                capture_output=True,
                text=True,
                timeout=120,
            )
            lines = proc.stderr.strip().splitlines()
            if proc.returncode != 2 and "Permission denied" in proc.stderr:
                pytest.skip(f"user 65534 cannot run the venv here: {lines[-1]}")
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert words in lines[0] and "STUDIO_HOME" in lines[0]
        listed = subprocess.run(
            [*prefix, sys.executable, "-m", "studio", "list"],
            cwd=REPO,
            env={**os.environ, "STUDIO_HOME": str(home), "HOME": str(root)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0 and "queued" in listed.stdout, listed.stderr
        assert "is read-only" in listed.stderr
        assert len(RunStore(home).list_runs()) == 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
