"""The Train page offers DeiT with a picker of fitting teachers and checks them as the CLI does."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from studio.config import VARIANTS
from studio.runs.artifacts import LABELS
from studio.runs.store import RunStore
from studio.ui.forms import build_config, preset_values
from tests.conftest import REPO
from tests.helpers.sample_run import make_sample_run

APP = str(REPO / "app.py")


def test_deit_needs_a_teacher_and_gets_it_resolved(studio_home, tmp_path):
    store = RunStore()
    teacher = make_sample_run(store)
    values = preset_values("cpu-quick")
    missing = build_config("digits", "deit", "cpu-quick", values)
    assert not missing.ok and not missing.errors
    assert "Pick a teacher" in missing.general[0]
    ok = build_config(
        "digits",
        "deit",
        "cpu-quick",
        values,
        teacher=str(teacher.seq),
        store=store,
    )
    assert ok.ok, (ok.errors, ok.general)
    assert ok.config.model.variant == "deit" and ok.config.distill.teacher == teacher.id


def test_a_teacher_of_other_classes_is_refused_with_the_clis_words(studio_home, tmp_path):
    store = RunStore()
    teacher = make_sample_run(store)
    labels = {"class_names": ["cat", "dog"], "input_size": 32, "dataset": "folder:/pets"}
    (store.run_dir(teacher.id) / LABELS).write_text(json.dumps(labels))
    result = build_config(
        "digits",
        "deit",
        "cpu-quick",
        preset_values("cpu-quick"),
        teacher=teacher.id,
        store=store,
    )
    assert not result.ok and not result.errors
    assert "cannot teach this student" in result.general[0]


def test_train_page_offers_fitting_teachers_and_queues_a_deit_run(studio_home, monkeypatch):
    assert "deit" in VARIANTS
    store = RunStore()
    teacher = make_sample_run(store)
    monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.segmented_control(key="variant").set_value("deit").run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="deit_teacher")
    assert picker.options == [picker.format_func(teacher.id)]
    next(b for b in at.button if b.label == "Start training").click().run()
    student = max(store.list_runs(), key=lambda r: r.seq)
    assert student.variant == "deit" and student.config["distill"]["teacher"] == teacher.id


def test_train_page_says_to_train_a_teacher_first(studio_home):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.segmented_control(key="variant").set_value("deit").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("train one first" in i.value for i in at.info)
    assert next(b for b in at.button if b.label == "Start training").disabled
