"""Damaged state on disk, row by row: garbled metric rows, run rows with unknown statuses or
text in number columns, unreadable test results, run folders deleted or moved by hand. The
damaged run is listed and named, valid points are still drawn with a warning, and every other
run is unaffected, in the CLI and on the pages.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from studio.config import make_config
from studio.runs.launcher import LaunchError, resume
from studio.runs.store import RunStore
from studio.ui.charts import RunCurves, compare_figure, run_figure
from studio.ui.runinfo import can_resume, status_line, table_row
from tests.conftest import REPO


@pytest.fixture
def store(studio_home) -> RunStore:
    return RunStore()


def _run(store: RunStore):
    return store.create_run(make_config("cpu-quick", "digits").to_dict())


def _sql(store: RunStore, statement: str, *args) -> None:
    with sqlite3.connect(store.db_path) as conn:
        conn.execute(statement, args)


def _metric(store: RunStore, run_id: str, epoch, values: str, kind: str = "epoch") -> None:
    _sql(
        store,
        "INSERT INTO metrics (run_id, kind, epoch, step, time, values_json) VALUES (?,?,?,?,?,?)",
        run_id,
        kind,
        epoch,
        10,
        0.0,
        values,
    )


GARBLED = [
    ("garbage", "not valid JSON"),
    ("[0.5, 0.6]", "not a JSON object"),
    ('"0.5"', "not a JSON object"),
    ("", "not valid JSON"),
    ('{"loss": 1.0', "not valid JSON"),
]


@pytest.mark.parametrize(("values", "why"), GARBLED)
def test_a_garbled_metric_row_is_left_out_and_counted(store, run_cli, values, why):
    run = _run(store)
    store.add_metric(run.id, "epoch", 1, 10, loss=1.0, val_accuracy=0.4, lr=1e-3)
    _metric(store, run.id, 2, values)
    store.add_metric(run.id, "epoch", 3, 10, loss=0.5, val_accuracy=0.6, lr=1e-3)
    rows = store.metrics(run.id)
    assert [r["epoch"] for r in rows] == [1, 3]
    assert len(rows.skipped) == 1 and why in rows.skipped[0]
    assert store.get(run.id, with_latest=True).latest["best_val_accuracy"] == 0.6
    fig = run_figure(rows)
    val_accuracy = fig.data[3]  # (train, validation) per panel: loss, accuracy, top-5
    assert [p for p in val_accuracy.y if p is not None] == [0.4, 0.6]
    assert "1 metric row(s) could not be read" in fig.layout.annotations[-1].text
    code, out, err = run_cli("show", run.id)
    assert code == 0 and not err and "1 metric row(s) could not be read" in out


@pytest.mark.parametrize(
    ("values", "epoch", "kept"),
    [
        ('{"loss": NaN, "val_accuracy": 0.5}', 2, True),
        ('{"loss": Infinity, "val_accuracy": -Infinity}', 2, True),
        ('{"loss": "high", "val_accuracy": true}', 2, True),
        ('{"loss": {"a": 1}, "lr": [1]}', 2, True),
        ('{"epoch": "two", "loss": 1.0}', 2, True),
        ('{"loss": 1.0}', "two", False),
        ('{"loss": 1.0}', 2.5, False),
    ],
)
def test_values_that_are_not_numbers_are_not_drawn(store, run_cli, values, epoch, kept):
    run = _run(store)
    store.add_metric(run.id, "epoch", 1, 10, loss=1.0, val_accuracy=0.4, lr=1e-3)
    with sqlite3.connect(store.db_path) as conn:
        # A foreign writer: SQLite keeps whatever type it is given, NOT NULL aside.
        conn.execute("PRAGMA ignore_check_constraints=ON")
        conn.execute(
            "INSERT INTO metrics (run_id, kind, epoch, step, time, values_json)"
            " VALUES (?,?,?,?,?,?)",
            (run.id, "epoch", epoch, 10, 0.0, values),
        )
    rows = store.metrics(run.id)
    assert len(rows) == (2 if kept else 1) and len(rows.skipped) == 1
    for row in rows:
        assert isinstance(row["epoch"], int)
        assert all(row[k] is None or isinstance(row[k], float) for k in ("loss", "lr"))
    assert run_figure(rows).data  # drawn
    code, _, err = run_cli("show", run.id)
    assert code == 0 and not err
    code, _, err = run_cli("list")
    assert code == 0 and not err


def test_a_metric_row_of_an_unknown_kind_is_left_out(store):
    run = _run(store)
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("PRAGMA ignore_check_constraints=ON")
        conn.execute(
            "INSERT INTO metrics (run_id, kind, epoch, step, time, values_json)"
            " VALUES (?,?,?,?,?,?)",
            (run.id, "batch", 1, 1, 0.0, "{}"),
        )
    rows = store.metrics(run.id)
    assert rows == [] and "neither step nor epoch" in rows.skipped[0]


def test_the_comparison_says_which_run_lost_rows(store):
    a, b = _run(store), _run(store)
    for run in (a, b):
        store.add_metric(run.id, "epoch", 1, 10, val_accuracy=0.5)
    _metric(store, b.id, 2, "garbage")
    fig = compare_figure([RunCurves("A", store.metrics(a.id)), RunCurves("B", store.metrics(b.id))])
    notes = [a.text for a in fig.layout.annotations if "could not be read" in a.text]
    assert len(notes) == 1 and "B: 1 metric row(s)" in notes[0] and "A:" not in notes[0]


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("status", "exploded", "status 'exploded' is not one the studio knows"),
        ("epochs_done", "three", "epochs_done is 'three', not a number"),
        ("epochs_total", 1e400, None),  # stored as Inf; the row survives
        ("created_at", "yesterday", "created_at is 'yesterday', not a number"),
        ("train_seconds", b"\x00\x01", "train_seconds is"),
        ("pid", "1234x", "pid is '1234x', not a number"),
        ("steps_per_epoch", -0.5, None),
        ("test_json", "{broken", "test result is not readable"),
        ("test_json", '{"accuracy": "high", "top5": 0.9}', "holds values that are not numbers"),
        ("test_json", "[0.9]", "test result is not readable"),
        ("dataset", 7, None),  # TEXT affinity: stored as '7'
        ("variant", "resnet", "model variant 'resnet' is not one this studio knows"),
    ],
)
def test_a_run_row_with_a_bad_column_is_listed_as_damaged(store, run_cli, column, value, why):
    bad, good = _run(store), _run(store)
    _sql(store, f"UPDATE runs SET {column}=? WHERE id=?", value, bad.id)
    runs = {r.id: r for r in store.list_runs(with_latest=True)}
    assert runs[good.id].damage is None
    if why:
        assert why in runs[bad.id].damage
    code, out, err = run_cli("list")
    assert code == 0 and not err and good.id in out and bad.id in out
    code, out, err = run_cli("show", bad.id)
    assert code == 0 and not err
    code, out, err = run_cli("list", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    table_row(runs[bad.id])
    status_line(runs[bad.id])


def test_a_damaged_run_is_never_resumed_or_trained(store):
    run = _run(store)
    store.finish(run.id, "stopped", "by hand")
    _sql(store, "UPDATE runs SET config_json='{oops' WHERE id=?", run.id)
    damaged = store.get(run.id)
    assert not can_resume(damaged)
    assert status_line(damaged).level == "error" and "Damaged" in status_line(damaged).text
    assert table_row(damaged)["Status"] == "damaged"
    with pytest.raises(LaunchError, match="is damaged"):
        resume(store, run.id)
    assert store.get(run.id).status == "stopped"


@pytest.mark.parametrize("how", ["deleted", "moved", "replaced by a file"])
def test_a_run_folder_gone_by_hand_is_files_missing(store, run_cli, tmp_path, how):
    gone, other = _run(store), _run(store)
    store.finish(gone.id, "stopped", "by hand")
    folder = store.run_dir(gone.id)
    if how == "deleted":
        shutil.rmtree(folder)
    elif how == "moved":
        folder.rename(tmp_path / "elsewhere")
    else:
        shutil.rmtree(folder)
        folder.write_text("not a folder")
    run = store.get(gone.id)
    assert run.files_missing and not store.get(other.id).files_missing
    assert table_row(run)["Status"] == "stopped · files missing"
    assert "files are missing" in status_line(run).text and not can_resume(run)
    code, out, err = run_cli("list")
    assert code == 0 and "stopped (files missing)" in out and "is missing" in out
    code, out, err = run_cli("resume", gone.id)
    assert code == 2 and "is missing" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("evaluate", gone.id)
    assert code == 2 and "is missing" in err


def test_a_finished_run_whose_folder_is_gone_cannot_be_evaluated(store, run_cli):
    run = _run(store)
    store.update(run.id, model_sha256="0" * 64, test={"accuracy": 0.5})
    store.finish(run.id, "completed")
    shutil.rmtree(store.run_dir(run.id))
    code, _, err = run_cli("evaluate", run.id)
    assert code == 2 and "is missing (deleted or moved by hand)" in err


def test_the_runs_page_lists_damaged_and_missing_runs_beside_good_ones(store):
    good, damaged, gone = _run(store), _run(store), _run(store)
    for run in (good, damaged, gone):
        store.finish(run.id, "stopped", "by hand")
    _sql(store, "UPDATE runs SET config_json='[1]' WHERE id=?", damaged.id)
    _metric(store, good.id, 1, "garbage")
    shutil.rmtree(store.run_dir(gone.id))
    at = _runs_page()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["Status"]) == ["stopped", "damaged", "stopped · files missing"]
    warnings = " ".join(w.value for w in at.warning)
    assert f"Run {damaged.id} is damaged" in warnings and f"Run {gone.id}: its files" in warnings
    # The panel a picked run opens says what is wrong, without a traceback.
    for run, said in ((damaged, "Damaged: its stored config"), (gone, "files are missing")):
        panel = _runs_page(run.id)
        assert not panel.exception, [e.value for e in panel.exception]
        assert any(said in m.value for m in [*panel.error, *panel.warning]), said
        assert not [b for b in panel.button if b.label == "Resume"]


def _runs_page(run_id: str | None = None) -> AppTest:
    """The Runs page inside the app (its run view links to other pages), with `?run=`
    opening one run's panel."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if run_id:
        at.query_params["run"] = run_id
    at.run()
    return at.switch_page("pages/runs.py").run()
