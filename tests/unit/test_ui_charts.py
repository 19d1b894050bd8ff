"""Plotly figures from store rows: live step points, epoch points, overlays and CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from studio.ui.charts import (
    CSV_COLUMNS,
    RunCurves,
    class_counts_figure,
    compare_figure,
    has_step_points,
    metrics_csv,
    pace_figure,
    run_figure,
    smoothed,
    train_series,
    val_series,
)


def step(epoch, step, loss, acc=0.5):
    return {
        "kind": "step",
        "epoch": epoch,
        "step": step,
        "loss": loss,
        "accuracy": acc,
        "top5": 0.9,
    }


def epoch(n, loss, val_loss, val_acc=0.6):
    return {
        "kind": "epoch",
        "epoch": n,
        "step": 10,
        "loss": loss,
        "accuracy": 0.5,
        "top5": 0.9,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "val_top5": 0.95,
    }


def traces(fig, name):
    return [t for t in fig.data if t.name == name]


def test_the_first_step_row_is_already_a_point():
    fig = run_figure([step(1, 1, 2.3)], steps_per_epoch=10, epochs_total=3)
    train = traces(fig, "train")
    assert len(train) == 3  # loss, accuracy, top-5
    assert list(train[0].x) == [0.1] and list(train[0].y) == [2.3]
    assert "markers" in train[0].mode  # one point must be visible without a line
    assert all(len(t.x) == 0 for t in traces(fig, "validation"))
    assert fig.layout.xaxis.range[0] == 0 and 3 < fig.layout.xaxis.range[1] < 3.5


def test_step_rows_sit_at_fractional_epochs_until_their_epoch_ends():
    rows = [step(1, 5, 2.0), step(1, 10, 1.8), epoch(1, 1.7, 1.9), step(2, 5, 1.5)]
    train = train_series(rows, "loss", steps_per_epoch=10)
    # Epoch 1's step rows are superseded by its epoch row; epoch 2 is still live.
    assert train.x == [1.0, 1.5] and train.y == [1.7, 1.5]
    val = val_series(rows, "loss")
    assert val.x == [1.0] and val.y == [1.9]


def test_missing_steps_per_epoch_falls_back_to_the_largest_step_seen():
    train = train_series([step(1, 4, 2.0), step(1, 8, 1.9)], "loss")
    assert train.x == [0.5, 1.0]


def test_accuracy_axes_read_as_percentages_and_zoom_survives_refreshes():
    fig = run_figure([epoch(1, 1.0, 1.1)], revision="run-1")
    assert fig.layout.yaxis2.tickformat == ".0%"
    assert fig.layout.uirevision == "run-1"


def test_compare_overlays_one_colour_per_run():
    a = RunCurves("#1 vanilla", [epoch(1, 1.0, 1.2, 0.4), epoch(2, 0.8, 1.0, 0.5)])
    b = RunCurves("#2 spt-lsa", [epoch(1, 0.9, 1.1, 0.45)])
    fig = compare_figure([a, b])
    names = {t.name for t in fig.data}
    assert names == {"#1 vanilla · validation", "#2 spt-lsa · validation"}
    colors = {t.name: t.line.color for t in fig.data}
    assert colors["#1 vanilla · validation"] != colors["#2 spt-lsa · validation"]
    acc = next(t for t in fig.data if t.name == "#1 vanilla · validation" and t.xaxis == "x2")
    assert list(acc.y) == [0.4, 0.5]
    with_train = compare_figure([a, b], show_train=True)
    dashes = {t.name: t.line.dash for t in with_train.data}
    assert dashes["#1 vanilla · validation"] == "solid"
    assert dashes["#1 vanilla · training"] == "dash"


def test_metrics_csv_has_a_fixed_header_and_blank_for_missing():
    rows = [dict(step(1, 1, 2.3), run_id="r1"), dict(epoch(1, 1.0, 1.1), run_id="r1")]
    text = metrics_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert parsed[0]["kind"] == "step" and parsed[0]["val_loss"] == ""
    assert parsed[1]["val_loss"] == "1.1"
    assert parsed[0]["run"] == "r1"  # no label given: the id stands in


def test_metrics_csv_names_runs_and_writes_iso_times():
    rows = [dict(epoch(1, 1.0, 1.1), run_id="r1", time=1_800_000_000.5)]
    parsed = next(csv.DictReader(io.StringIO(metrics_csv(rows, {"r1": "#1 ViT · digits"}))))
    assert parsed["run"] == "#1 ViT · digits" and parsed["run_id"] == "r1"
    stamp = datetime.fromisoformat(parsed["time"])
    assert stamp.tzinfo is not None and stamp.timestamp() == 1_800_000_000
    assert float(parsed["unix_time"]) == 1_800_000_000.5


def test_class_counts_stack_one_bar_per_split():
    rows = [{"class": "cat", "train": 5, "test": 2}, {"class": "dog", "train": 4, "test": 1}]
    fig = class_counts_figure(rows)
    assert [t.name for t in fig.data] == ["train", "test"]
    assert list(fig.data[0].y) == [5, 4] and fig.layout.barmode == "stack"


def test_the_last_epoch_sits_inside_the_frame_not_on_its_edge():
    fig = run_figure([epoch(1, 1.0, 1.1), epoch(2, 0.8, 0.9)], 10, epochs_total=2)
    low, high = fig.layout.xaxis.range
    assert low == 0 and high > 2


def test_smoothing_evens_out_step_points_and_keeps_gaps():
    rows = [step(1, 1, 2.0), step(1, 2, 0.0), step(1, 3, None), step(1, 4, 2.0)]
    raw = train_series(rows, "loss", 4)
    assert smoothed(raw, 0.0) is raw
    even = smoothed(raw, 0.6).y
    assert even[0] == 2.0  # debiased: the first point is not pulled towards zero
    assert 0.0 < even[1] < 2.0 and even[2] is None
    assert has_step_points(rows) and not has_step_points([epoch(1, 1.0, 1.1)])
    fig = run_figure(rows, 4, smoothing=0.6)
    assert list(fig.data[0].y) == even


def test_pace_figure_draws_learning_rate_and_images_per_second():
    rows = [{**epoch(1, 1.0, 1.1), "lr": 1e-3, "images_per_s": 250.0}, step(2, 5, 0.9)]
    rows[1]["images_per_s"] = 300.0
    fig = pace_figure(rows, 10, epochs_total=3)
    lr, speed = fig.data
    assert list(lr.y) == [1e-3] and list(speed.y) == [250.0, 300.0]
    assert pace_figure([step(1, 1, 2.0)], 10) is None


def test_few_epochs_are_ticked_whole_on_every_chart():
    # Seen in a run view's screenshot: the pace charts ticked 0, 0.5, 1, ... for 3 epochs.
    rows = [{**epoch(1, 1.0, 1.1), "lr": 1e-3, "images_per_s": 250.0}]
    for fig in (run_figure(rows, 10, epochs_total=3), pace_figure(rows, 10, epochs_total=3)):
        axes = [a for name, a in fig.layout.to_plotly_json().items() if name.startswith("xaxis")]
        assert axes and all(a.get("dtick") == 1 for a in axes)
    many = run_figure(rows, 10, epochs_total=100)
    assert many.layout.xaxis.dtick is None  # Plotly's own whole steps (10, 20, ...)
