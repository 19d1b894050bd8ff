"""Real workers that run out of memory (an address-space limit set in the worker, so the
framework's own allocations fail) and out of disk (STUDIO_HOME on a small tmpfs, filled
mid-run)."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess

import pytest

from studio.runs import checkpoints, launcher
from studio.runs.last_words import retry_batch_size
from studio.runs.store import RunStore
from studio.training.__main__ import TEST_MEMORY_ENV
from tests.helpers.cli import cli_process
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow


def ended(store: RunStore, run_id: str) -> bool:
    store.reconcile()
    return store.get(run_id).status not in ("queued", "running")


def test_out_of_memory_fails_with_the_batch_to_retry_at(studio_home, tiny, monkeypatch):
    store = RunStore()
    # 32 px images at batch 1024 need far more than 300 MiB above the imported framework.
    cfg = tiny(**{"model.image_size": "32", "train.batch_size": "1024", "data.limit": 1024})
    monkeypatch.setenv(TEST_MEMORY_ENV, "300")
    run = launcher.submit(store, cfg.to_dict())
    wait_for(lambda: ended(store, run.id), timeout=300)
    failed = store.get(run.id)
    assert failed.status == "failed", (failed.status, failed.reason)
    assert failed.reason.startswith("out of memory at batch size 1024"), failed.reason
    assert "try 512" in failed.reason and retry_batch_size(failed.reason) == 512

    # The retry (the panel's button, `resume --batch-size`) runs at half the batch.
    monkeypatch.delenv(TEST_MEMORY_ENV)
    launcher.resume(store, run.id, batch_size=512)
    assert store.get(run.id).config["train"]["batch_size"] == 512


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs for STUDIO_HOME, or skip where mounting is not permitted."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:100]})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder) -> None:
    """Write until the file system refuses: no byte left."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 512)
                fh.flush()


def test_a_full_disk_fails_the_run_and_keeps_checkpoint_and_store(small_disk, tiny, monkeypatch):
    home = small_disk / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    store = RunStore()
    cfg = tiny(**{"data.limit": 384, "train.epochs": 6, "train.batch_size": 16})
    run = launcher.submit(store, cfg.to_dict())
    run_dir = store.run_dir(run.id)
    wait_for(lambda: (run_dir / "checkpoint.json").exists(), timeout=300)
    fill(small_disk)
    log = run_dir / "worker.log"
    wait_for(lambda: "] ending " in log.read_text(errors="replace"), timeout=300)
    listed = cli_process("list", env_home=home)  # while the disk is still full
    assert "Traceback" not in listed.stderr, listed.stderr

    (small_disk / "filler").unlink()
    wait_for(lambda: ended(store, run.id), timeout=60)
    failed = store.get(run.id)
    assert failed.status == "failed", (failed.status, failed.reason)
    assert failed.reason.startswith("disk full: no space left under"), failed.reason
    assert not list(run_dir.glob("*.tmp.keras")) and not list(run_dir.glob(".*.tmp"))
    kept = checkpoints.choose(run_dir, failed.epochs_done).usable
    assert kept and kept[0].epoch == failed.epochs_done >= 1
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
