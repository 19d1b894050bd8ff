"""Pre-flight checks of a DeiT student's teacher, as the CLI reports them: one line, exit 2."""

from __future__ import annotations

import json

import pytest

from studio.config import ConfigError, make_config
from studio.runs.artifacts import LABELS
from studio.runs.preflight import candidate_teachers, check_teacher
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run


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
    assert check_teacher(store, cfg).distill.teacher == teacher.id
    # A folder of the same class names may learn from a digits teacher.
    folder = tmp_path / "digits-folder"
    from PIL import Image

    for name in (str(d) for d in range(10)):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / name / f"{i}.png")
    cfg = make_config("cpu-quick", f"folder:{folder}", "deit", {"distill.teacher": teacher.id})
    assert check_teacher(store, cfg).distill.teacher == teacher.id
    assert [r.id for r in candidate_teachers(store, cfg.data)] == [teacher.id]
    other = make_config("cpu-quick", "cifar10").data
    assert candidate_teachers(store, other) == []


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


def test_check_run_warns_about_a_batch_larger_than_the_training_set(tmp_path, monkeypatch):
    from studio.runs.preflight import check_run
    from tests.helpers.image_folders import make_tree

    make_tree(tmp_path / "pets", {"cats": 10, "dogs": 10})
    cfg = make_config("cpu-quick", f"folder:{tmp_path / 'pets'}")
    warnings = check_run(cfg, None).warnings
    assert [w.field for w in warnings] == ["train.batch_size"]
    assert "more than the about 16 training images" in warnings[0].message
    monkeypatch.setattr("studio.runs.preflight.nvidia_gpu_present", lambda: False)
    big = make_config("cpu-quick", "cifar10", None, {"image_size": "576", "patch_size": "16"})
    assert [w.field for w in check_run(big, None).warnings] == ["model.image_size"]


def test_the_train_page_asks_to_start_anyway(studio_home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO

    monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state["hp_open"] = True
    at.run()
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(5000).run()
    assert any("**Epochs** 5,000 is far more" in w.value for w in at.warning)
    labels = [b.label for b in at.button]
    assert "Start anyway" in labels and "Start training" not in labels
    next(b for b in at.button if b.label == "Start anyway").click().run()
    assert not at.exception
    runs = RunStore().list_runs()
    assert len(runs) == 1 and runs[0].config["train"]["epochs"] == 5000


def test_the_cli_asks_at_a_terminal(cli, monkeypatch):
    monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, _, err = cli("train", "--dataset", "digits", "--epochs", "5000")
    assert code == 2 and "not queued" in err
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = cli("train", "--dataset", "digits", "--epochs", "5000")
    assert code == 0 and out.startswith("queued ")
