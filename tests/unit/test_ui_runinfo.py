"""What the pages say about a run: progress, ETA, status with reason, table rows."""

from __future__ import annotations

import pytest

from studio.config import make_config
from studio.runs.naming import dataset_label
from studio.runs.store import RunStore
from studio.ui.runinfo import (
    can_resume,
    can_stop,
    config_groups,
    default_watched,
    format_duration,
    queue_position,
    recent_speed,
    run_progress,
    shown,
    split_sizes,
    startup_phase,
    status_line,
    table_row,
)


@pytest.fixture
def store(studio_home):
    return RunStore()


def new_run(store, epochs=4, batch=100):
    cfg = make_config("cpu-quick", "digits", "vit", {"epochs": epochs, "batch_size": batch})
    return store.create_run(cfg.to_dict())


def test_progress_mid_epoch_counts_steps_and_estimates_from_speed(store):
    run = new_run(store)
    store.update(run.id, status="running", steps_per_epoch=10)
    store.add_metric(run.id, "step", 1, 5, loss=2.0, images_per_s=40.0)
    rows = [
        {"kind": "step", "epoch": 1, "step": 3, "time": 100.0},
        {"kind": "step", "epoch": 1, "step": 5, "time": 102.0},
    ]
    progress = run_progress(store.get(run.id, with_latest=True), rows)
    assert progress.fraction == pytest.approx(0.5 / 4)
    assert progress.text.startswith("Epoch 1/4 · step 5/10 · 100 img/s · ETA ")
    # 3.5 epochs left, 10 steps of 100 images each at 100 img/s: 35 s.
    assert progress.eta_s == pytest.approx(35.0)


def test_progress_after_an_epoch_uses_the_measured_epoch_time(store):
    run = new_run(store)
    store.update(run.id, status="running", steps_per_epoch=10, epochs_done=2)
    store.add_metric(run.id, "epoch", 1, 10, images_per_s=8.0, epoch_seconds=60.0)
    store.add_metric(run.id, "epoch", 2, 10, images_per_s=80.0, epoch_seconds=20.0)
    progress = run_progress(store.get(run.id, with_latest=True))
    assert progress.fraction == pytest.approx(0.5)
    assert progress.eta_s == pytest.approx(40.0)
    assert "80 img/s · ETA 40s" in progress.text


def test_the_first_epochs_tracing_time_does_not_make_an_eta(store):
    run = new_run(store)
    store.update(run.id, status="running", steps_per_epoch=10, epochs_done=1)
    store.add_metric(run.id, "epoch", 1, 10, images_per_s=3.0, epoch_seconds=90.0)
    store.add_metric(run.id, "step", 2, 1, loss=2.0, images_per_s=2.0)
    run = store.get(run.id, with_latest=True)
    progress = run_progress(run, store.metrics(run.id))
    assert progress.eta_s is None
    assert progress.text == "Epoch 2/4 · step 1/10 · estimating the time left…"


def test_a_just_started_run_says_what_it_is_doing(store):
    run = new_run(store)
    store.update(run.id, status="running")
    run = store.get(run.id, with_latest=True)
    assert "starting the worker" in run_progress(run).text
    phase = startup_phase([("python-up", 100.0), ("framework-imported", 130.0)], now=142.0)
    assert phase in run_progress(run, phase=phase).text


def test_the_start_up_phase_is_named_with_its_seconds():
    marks = [("python-up", 100.0), ("framework-imported", 130.0), ("fit-begins", 150.0)]
    assert startup_phase(marks, now=162.0) == (
        "Compiling the first training step… 12s (1m02s since the worker started)"
    )
    assert startup_phase(marks[:1], now=103.0) == "Importing TensorFlow and Keras… 3s"
    # A resumed run's log holds the first attempt too: only the latest one counts.
    again = [*marks, ("first-step", 160.0), ("first-row", 161.0), ("handed-over", 500.0)]
    assert startup_phase(again, now=505.0) == "Loading data and building the model… 5s"
    assert startup_phase(again[:5], now=200.0) is None  # the first row is there: curves say it
    assert startup_phase([], now=1.0) is None


def test_config_groups_keep_only_what_the_variant_uses():
    vit = make_config("cpu-quick", "digits", "vit", {}).to_dict()
    groups = dict(config_groups(vit, "vit"))
    assert list(groups) == ["Data", "Model", "Augmentation", "Training"]  # no Distillation
    model = dict(groups["Model"])
    assert "patch_size" in model and "pretrained" not in model and "freeze_backbone" not in model
    assert dict(groups["Data"])["limit"] == "—"  # never "None"
    b16 = dict(config_groups(make_config("finetune", "digits", "vit-b16", {}).to_dict(), "vit-b16"))
    assert set(dict(b16["Model"])) == {"variant", "pretrained", "freeze_backbone", "head_dropout"}
    assert "Distillation" in dict(config_groups({**vit, "model": {"variant": "deit"}}, "deit"))
    assert shown(None) == shown("") == "—" and shown([128, 64]) == "128, 64"


def test_split_sizes_add_up_each_split():
    report = {"class_counts": {"train": {"a": 3, "b": 4}, "val": {"a": 1, "b": 1}}}
    assert split_sizes(report) == {"train": 7, "val": 2}
    assert split_sizes(None) == {}


def test_status_lines_carry_the_reason(store):
    run = new_run(store)
    store.finish(run.id, "failed", "loss became nan at epoch 2 step 3")
    line = status_line(store.get(run.id))
    assert line.level == "error" and "loss became nan" in line.text
    store.finish(run.id, "stopped", "stopped by the user at epoch 1 step 4")
    line = status_line(store.get(run.id))
    assert line.level == "warning" and "Resume continues" in line.text
    # Not "Stopped: stopped by the user" (seen in a screenshot).
    assert line.text.startswith("Stopped by the user at epoch 1 step 4. Resume"), line.text


def test_queue_position_and_buttons(store):
    first, second = new_run(store), new_run(store)
    store.update(first.id, status="running")
    runs = store.list_runs()
    second = store.get(second.id)
    assert queue_position(second, runs) == 1
    assert "waiting for 1 run" in status_line(second, 1).text
    assert can_stop(second) and not can_resume(second)
    store.request_stop(second.id)
    stopped = store.get(second.id)
    assert not can_stop(stopped) and can_resume(stopped)


def test_default_watched_prefers_running_then_queued_then_newest(store):
    a, b, c = new_run(store), new_run(store), new_run(store)
    store.finish(c.id, "completed")
    store.update(a.id, status="running")
    assert default_watched(store.list_runs()).id == a.id
    store.finish(a.id, "completed")
    assert default_watched(store.list_runs()).id == b.id
    store.finish(b.id, "completed")
    assert default_watched(store.list_runs()).id == c.id
    assert default_watched([]) is None


def test_table_row_reads_like_the_cli(store):
    run = new_run(store)
    store.add_metric(run.id, "epoch", 1, 10, val_accuracy=0.5)
    store.add_metric(run.id, "epoch", 2, 10, val_accuracy=0.75)
    store.update(run.id, train_seconds=125.0, epochs_done=2)
    store.finish(run.id, "completed")
    row = table_row(store.get(run.id, with_latest=True))
    assert row["Best val acc"] == 75.0
    assert row["Duration"] == "2m05s"
    assert row["Model"] == "Vanilla ViT" and row["Epochs"] == "2/4"


def test_small_formatters():
    assert [format_duration(s) for s in (None, 5, 65, 3725)] == ["—", "5s", "1m05s", "1h02m"]
    assert dataset_label("folder:/data/pets/") == "pets (folder)"
    assert dataset_label("cifar10") == "cifar10"


def test_speed_comes_from_the_latest_steps_not_the_epoch_average(store):
    run = new_run(store, epochs=2, batch=100)
    store.update(run.id, status="running", steps_per_epoch=10)
    rows = [
        {"kind": "step", "epoch": 1, "step": 1, "time": 100.0, "images_per_s": 4.0},
        {"kind": "step", "epoch": 1, "step": 3, "time": 102.0, "images_per_s": 12.0},
    ]
    for row in rows:
        store.add_metric(
            run.id, "step", row["epoch"], row["step"], images_per_s=row["images_per_s"]
        )
    run = store.get(run.id, with_latest=True)
    assert recent_speed(rows, 100) == pytest.approx(100.0)
    progress = run_progress(run, rows)
    assert "100 img/s" in progress.text
    # 17 steps of 100 images left at 100 img/s.
    assert progress.eta_s == pytest.approx(17.0)
    assert recent_speed(rows[:1], 100) is None
