"""DeiT runs in the store: teachers refused with one line and exit code 2, training in-process
with metrics like any run, resume reloading the teacher from its own run, evaluate and predict.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from studio.config import ConfigError, RunConfig
from studio.demo.sample_run import make_sample_run
from studio.inference import LABELS, predict_files
from studio.presets import make_config
from studio.store import RunStore
from studio.teacher import TeacherError, candidate_teachers, check_teacher

TINY_STUDENT = {
    "model.image_size": "16",
    "model.patch_size": "4",
    "model.projection_dim": "16",
    "model.depth": "1",
    "model.num_heads": "2",
    "model.key_dim": "8",
    "model.mlp_units": "32,16",
    "model.head_units": "",
    "train.epochs": "1",
    "train.batch_size": "32",
    "data.limit": "64",
}


@pytest.fixture
def store(studio_home) -> RunStore:
    return RunStore()


@pytest.fixture
def cli(studio_home, run_cli):
    return run_cli


def _relabel(store: RunStore, run_id: str, names: list[str], dataset: str) -> None:
    path = store.run_dir(run_id) / LABELS
    path.write_text(json.dumps({"class_names": names, "input_size": 32, "dataset": dataset}))


def _refused(cli, *args: str) -> str:
    code, out, err = cli("train", "--dataset", "digits", *args)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_deit_without_a_teacher_is_refused(cli):
    line = _refused(cli, "--model", "deit")
    assert "distill.teacher=None" in line and "--teacher RUN" in line


def test_teacher_for_another_model_is_refused(cli, store):
    teacher = make_sample_run(store)
    line = _refused(cli, "--model", "vit", "--teacher", teacher.id)
    assert "distill.teacher=" in line and "model.variant='vit' does not distil" in line


def test_unknown_and_unfinished_teachers_are_refused(cli, store):
    assert "no run matches 'nope'" in _refused(cli, "--model", "deit", "--teacher", "nope")
    queued = store.create_run(make_config("cpu-quick", "digits").to_dict())
    line = _refused(cli, "--model", "deit", "--teacher", queued.id)
    assert f"distill.teacher='{queued.id}' cannot teach" in line and "is queued" in line
    store.finish(queued.id, "failed", "boom")
    assert "is failed" in _refused(cli, "--model", "deit", "--teacher", queued.id)
    assert store.list_runs()[-1].id == queued.id  # nothing was queued


def test_teacher_with_other_class_names_is_refused(cli, store):
    teacher = make_sample_run(store)
    _relabel(store, teacher.id, ["cat", "dog"], "folder:/pets")
    line = _refused(cli, "--model", "deit", "--teacher", teacher.id)
    assert (
        "cannot teach this student" in line
        and "other classes" in line
        and "2 classes vs 10" in line
    )
    _relabel(store, teacher.id, [str(d) for d in reversed(range(10))], "digits")
    assert "another order" in _refused(cli, "--model", "deit", "--teacher", teacher.id)


def test_teacher_is_resolved_by_number_and_class_names_decide(store, tmp_path):
    teacher = make_sample_run(store)
    cfg = make_config("cpu-quick", "digits", "deit", {"distill.teacher": str(teacher.seq)})
    assert check_teacher(store, cfg, tmp_path).distill.teacher == teacher.id
    # A folder of the same class names may learn from a digits teacher.
    folder = tmp_path / "digits-folder"
    from PIL import Image

    for name in (str(d) for d in range(10)):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / name / f"{i}.png")
    cfg = make_config("cpu-quick", f"folder:{folder}", "deit", {"distill.teacher": teacher.id})
    assert check_teacher(store, cfg, tmp_path).distill.teacher == teacher.id
    assert [r.id for r in candidate_teachers(store, cfg.data, tmp_path)] == [teacher.id]
    other = make_config("cpu-quick", "cifar10").data
    assert candidate_teachers(store, other, tmp_path) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"distill.kind": "medium"}, "distill.kind='medium' must be one of hard, soft"),
        ({"distill.alpha": "1.5"}, "distill.alpha=1.5 must be in [0, 1]"),
        ({"distill.temperature": "0"}, "distill.temperature=0.0 must be > 0"),
    ],
)
def test_bad_distillation_values_are_named(override, message):
    with pytest.raises(ConfigError) as err:
        make_config("cpu-quick", "digits", "deit", {"distill.teacher": "x", **override})
    assert message in str(err.value)


@pytest.mark.slow
def test_distillation_run_trains_resumes_with_its_teacher_and_predicts(store, tmp_path):
    from studio.training.evaluation import evaluate_run
    from studio.training.trainer import train_run

    teacher = make_sample_run(store)
    cfg = make_config(
        "cpu-quick", "digits", "deit", {**TINY_STUDENT, "distill.teacher": teacher.id}
    )
    cfg = check_teacher(store, cfg, tmp_path)
    run = store.create_run(cfg.to_dict())
    assert "-deit-" in run.id

    train_run(store, run.id)
    rows = store.metrics(run.id, kind="epoch")
    assert [r["epoch"] for r in rows] == [1]
    for key in ("loss", "accuracy", "top5", "val_loss", "val_accuracy", "val_top5"):
        assert rows[0][key] is not None and np.isfinite(rows[0][key]), key

    # Resume: two epochs now, continuing from the epoch-1 checkpoint with the teacher reloaded.
    longer = RunConfig.from_dict(store.get(run.id).config)
    longer.train = dataclasses.replace(longer.train, epochs=2)
    store.update(run.id, config=longer.to_dict())
    train_run(store, run.id)
    assert [r["epoch"] for r in store.metrics(run.id, kind="epoch")] == [1, 2]
    store.finish(run.id, "completed")

    result = evaluate_run(store, run.id)
    assert set(result) >= {"loss", "accuracy", "top5"} and result["images"] > 0
    from PIL import Image

    image = tmp_path / "seven.png"
    Image.new("RGB", (40, 40), (200, 200, 200)).save(image)
    info, ranked = predict_files(store, run.id, [image], k=3)
    probs = [p for _, p in ranked[0]]
    assert info.run.id == run.id and len(probs) == 3
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6

    # The teacher is never baked into the student: resuming after its file changed fails.
    longer.train = dataclasses.replace(longer.train, epochs=3)
    store.update(run.id, config=longer.to_dict())
    teacher_file = store.run_dir(teacher.id) / "model.keras"
    teacher_file.write_bytes(teacher_file.read_bytes() + b"\0")
    with pytest.raises(TeacherError, match="checksum"):
        train_run(store, run.id)
