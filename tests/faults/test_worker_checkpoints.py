"""Damaged checkpoints: the previous one is kept and used, a lying marker is not believed, and
a run with no usable checkpoint says so and can start fresh.

The first tests drive `studio.runs.checkpoints` with plain files (every step of a save a kill
can interrupt); the last ones train the tiny preset in this process and resume it.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from studio.runs import checkpoints, launcher
from studio.runs.artifacts import CHECKPOINT, CHECKPOINT_STATE
from studio.runs.errors import RunFailed
from studio.runs.store import RunStore


def save(run_dir, epoch: int) -> None:
    """What the training callback does at an epoch's end, with bytes for a model."""
    partial = run_dir / checkpoints.PARTIAL
    partial.write_bytes(f"weights of epoch {epoch}".encode())
    checkpoints.install(run_dir, partial, epoch)


def chosen(run_dir, max_epoch: int = 99) -> list[tuple[str, int]]:
    return [(c.path.name, c.epoch) for c in checkpoints.choose(run_dir, max_epoch).usable]


def test_the_previous_checkpoint_is_kept_and_used_when_the_last_is_damaged(tmp_path):
    save(tmp_path, 1)
    save(tmp_path, 2)
    assert chosen(tmp_path) == [(CHECKPOINT, 2), (checkpoints.PREVIOUS, 1)]
    (tmp_path / CHECKPOINT).write_bytes(b"truncated")
    choice = checkpoints.choose(tmp_path, 99)
    assert [(c.path.name, c.epoch) for c in choice.usable] == [(checkpoints.PREVIOUS, 1)]
    assert "epoch 2" in choice.rejected[0] and "checksum" in choice.rejected[0]
    (tmp_path / checkpoints.PREVIOUS).unlink()
    assert checkpoints.choose(tmp_path, 99).none_usable


def test_a_marker_claiming_an_unfinished_epoch_is_not_believed(tmp_path):
    save(tmp_path, 1)
    save(tmp_path, 2)
    # The store recorded one epoch only: the checkpoint "of epoch 2" cannot be true.
    choice = checkpoints.choose(tmp_path, max_epoch=1)
    assert [(c.path.name, c.epoch) for c in choice.usable] == [(checkpoints.PREVIOUS, 1)]
    assert "never finished" in choice.rejected[0]
    marker = json.loads((tmp_path / CHECKPOINT_STATE).read_text())
    marker["checkpoints"][0]["epoch"] = 10**9
    (tmp_path / CHECKPOINT_STATE).write_text(json.dumps(marker))
    assert chosen(tmp_path) == [(checkpoints.PREVIOUS, 1)]
    (tmp_path / CHECKPOINT_STATE).write_text("{not json")
    assert checkpoints.choose(tmp_path, 99).none_usable


@pytest.mark.parametrize("step", ["renamed-last", "installed-new"])
def test_a_kill_at_any_step_of_a_save_leaves_a_usable_checkpoint(tmp_path, step):
    save(tmp_path, 1)
    save(tmp_path, 2)
    # The steps of install(): last -> previous, partial -> last, then the marker.
    os.replace(tmp_path / CHECKPOINT, tmp_path / checkpoints.PREVIOUS)
    if step == "installed-new":
        (tmp_path / CHECKPOINT).write_bytes(b"weights of epoch 3")
    assert chosen(tmp_path)[0] == (checkpoints.PREVIOUS, 2)
    save(tmp_path, 3)  # the next save after the restart keeps epoch 2 as the previous
    assert chosen(tmp_path) == [(CHECKPOINT, 3), (checkpoints.PREVIOUS, 2)]


def test_markers_of_older_releases_still_resume(tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(b"old weights")
    (tmp_path / CHECKPOINT_STATE).write_text(json.dumps({"epoch": 3, "time": 0}))
    assert chosen(tmp_path) == [(CHECKPOINT, 3)]
    assert chosen(tmp_path, max_epoch=2) == []


def test_partial_files_of_a_killed_writer_are_removed(tmp_path):
    for name in (checkpoints.PARTIAL, "model.tmp.keras", ".labels.json.123.tmp"):
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / CHECKPOINT).write_bytes(b"whole")
    assert sorted(checkpoints.remove_partial(tmp_path)) == sorted(
        [checkpoints.PARTIAL, "model.tmp.keras", ".labels.json.123.tmp"]
    )
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]


# -- the trainer, in this process ------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """A tiny digits run trained for 2 of its 3 epochs, failed as if killed: trained once,
    copied for each test."""
    from studio.training.trainer import train_run
    from tests.helpers.tiny import tiny_config

    home = tmp_path_factory.mktemp("trained") / "home"
    store = RunStore(home)
    cfg = tiny_config(**{"data.limit": 64, "train.epochs": 2})
    run = store.create_run(cfg.to_dict())
    train_run(store, run.id)
    config = store.get(run.id).config
    config["train"]["epochs"] = 3
    store.update(run.id, config=config, epochs_total=3)
    store.finish(run.id, "failed", "killed")
    return home, run.id


@pytest.fixture
def trained(trained_home, studio_home):
    home, run_id = trained_home
    shutil.copytree(home, studio_home)
    return RunStore(), run_id


def epochs(store, run_id) -> list[int]:
    return [r["epoch"] for r in store.metrics(run_id, kind="epoch")]


def test_resume_falls_back_to_the_previous_checkpoint_and_says_so(trained):
    from studio.training.trainer import train_run

    store, run_id = trained
    run_dir = store.run_dir(run_id)
    last = run_dir / CHECKPOINT
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a torn write
    note = train_run(store, run_id)
    assert note.startswith("resumed from the previous checkpoint (epoch 1)")
    assert "epoch 2" in note
    assert epochs(store, run_id) == [1, 2, 3]  # epoch 2 trained again, recorded once


def test_a_marker_past_the_last_epoch_does_not_complete_the_run(trained):
    from studio.training.trainer import train_run

    store, run_id = trained
    marker_path = store.run_dir(run_id) / CHECKPOINT_STATE
    marker = json.loads(marker_path.read_text())
    marker["checkpoints"][0]["epoch"] = 3  # claims the whole run is done after 2 epochs
    marker_path.write_text(json.dumps(marker))
    train_run(store, run_id)
    assert epochs(store, run_id) == [1, 2, 3]


def test_no_usable_checkpoint_says_so_and_fresh_starts_again(trained, monkeypatch):
    from studio.training.trainer import train_run

    store, run_id = trained
    run_dir = store.run_dir(run_id)
    (run_dir / CHECKPOINT).write_bytes(b"garbage")
    (run_dir / checkpoints.PREVIOUS).write_bytes(b"garbage")
    with pytest.raises(RunFailed) as failed:
        train_run(store, run_id)
    message = str(failed.value)
    assert f"run {run_id} cannot resume" in message
    assert f"resume {run_id} --fresh" in message and "epoch 2" in message

    monkeypatch.setattr(launcher, "_spawn", lambda store, run_id: None)  # no real worker
    store.finish(run_id, "failed", message)
    launcher.resume(store, run_id, fresh=True)
    assert not (run_dir / CHECKPOINT_STATE).exists() and epochs(store, run_id) == []
    store.update(run_id, status="running")
    train_run(store, run_id)
    assert epochs(store, run_id) == [1, 2, 3]


def test_a_retry_at_half_the_batch_keeps_the_schedule_s_place_by_epoch(tiny):
    import keras

    from studio.training.callbacks import current_learning_rate
    from studio.training.compile import compile_model
    from studio.training.fitting import continue_schedule

    cfg = tiny(**{"train.epochs": 3, "train.warmup_fraction": 0.1})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10)])
    compile_model(model, cfg.train, steps_per_epoch=4)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(2 * 4)  # two epochs of four steps
    before = current_learning_rate(model)
    continue_schedule(model, epoch=2, steps_per_epoch=8, cfg=cfg)  # half the batch: 8 steps
    assert int(model.optimizer.iterations) == 2 * 8
    assert abs(current_learning_rate(model) - before) < 1e-3 * before
