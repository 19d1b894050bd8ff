"""A DeiT run in the store: trained in-process with metrics like any run, resumed with its
teacher reloaded from its own run, evaluated and used to predict; a changed teacher is refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from studio.config import RunConfig
from studio.inference.local import predict_files
from studio.runs.preflight import TeacherError, check_teacher
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run


@pytest.fixture
def store(studio_home) -> RunStore:
    return RunStore()


def test_distillation_run_trains_resumes_with_its_teacher_and_predicts(store, tmp_path, tiny):
    from studio.training.evaluation import evaluate_run
    from studio.training.trainer import train_run

    teacher = make_sample_run(store)
    cfg = tiny("deit", **{"model.head_units": "", "data.limit": 64, "distill.teacher": teacher.id})
    cfg = check_teacher(store, cfg)
    run = store.create_run(cfg.to_dict())
    assert "-deit-" in run.id

    train_run(store, run.id)
    rows = store.metrics(run.id, kind="epoch")
    assert [r["epoch"] for r in rows] == [1]
    for key in ("loss", "accuracy", "top5", "val_loss", "val_accuracy", "val_top5"):
        assert rows[0][key] is not None and np.isfinite(rows[0][key]), key
    # The loss's two parts are recorded beside it (a training measure: no val_ twins).
    assert rows[0]["label_loss"] > 0 and rows[0]["distillation_loss"] > 0
    assert "val_label_loss" not in rows[0]

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
