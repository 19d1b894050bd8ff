"""A STUDIO_HOME that cannot be written (a read-only mount, a folder of another user): its runs
are still listed and shown, read without writing a byte (SQLite's WAL needs a -shm file to
read, so the database is opened read-only, or immutable where no -shm can be made), with a
notice saying so; every write (train, stop, resume, delete) is refused with the same words.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from streamlit.testing.v1 import AppTest

from studio.config import make_config
from studio.runs.migrations import StoreError
from studio.runs.store import RunStore
from tests.conftest import REPO

READ_ONLY = "is read-only"


@pytest.fixture
def read_only_home(tmp_path, monkeypatch):
    """A store with two runs on a small tmpfs, then remounted read-only (skip where mounting
    is not permitted): not even root can write it."""
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:100]})")
    home = mount / "home"
    store = RunStore(home)
    ids = []
    for status in ("stopped", "queued"):
        run = store.create_run(make_config("cpu-quick", "digits").to_dict())
        store.add_metric(run.id, "epoch", 1, 10, loss=1.0, val_accuracy=0.5)
        if status == "stopped":
            store.finish(run.id, "stopped", "stopped by the user")
        ids.append(run.id)
    del store
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    yield home, ids
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_cli_lists_and_shows_a_read_only_store_and_refuses_writes(read_only_home, run_cli):
    home, ids = read_only_home
    code, out, err = run_cli("list")
    assert code == 0, err
    assert all(run_id in out for run_id in ids)
    assert err.startswith("note: the run store") and READ_ONLY in err and "not started" in err

    code, out, err = run_cli("list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == ids  # stdout stays JSON
    code, out, err = run_cli("show", ids[0], "--json")
    assert code == 0 and json.loads(out)["epochs"][0]["val_accuracy"] == 0.5

    for verb in (("stop", ids[1]), ("resume", ids[0]), ("delete", ids[0])):
        code, out, err = run_cli(*verb)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and READ_ONLY in lines[0], (verb, err)
    code, _, err = run_cli("train", "--dataset", "digits", "--yes")
    assert code == 2 and READ_ONLY in err and "STUDIO_HOME" in err
    assert sorted(p.name for p in home.iterdir()) == ["runs", "studio.db"]  # nothing written
    store = RunStore(home)
    assert [r.status for r in store.list_runs()] == ["stopped", "queued"]
    with pytest.raises(StoreError, match=READ_ONLY):
        store.create_run(make_config("cpu-quick", "digits").to_dict())


def test_the_pages_list_runs_say_read_only_and_offer_no_action(read_only_home):
    _, ids = read_only_home
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(READ_ONLY in w.value for w in at.warning)  # Train: why nothing can start
    assert not at.button  # no form, no Start

    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(READ_ONLY in i.value for i in at.info)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == len(ids)
