"""The teacher of a DeiT run: reloaded from its own run folder on every start and resume."""

from __future__ import annotations

from studio.config.schema import RunConfig
from studio.inference.loading import load_run_model
from studio.models.deit import DeiTClassifier
from studio.runs.artifacts import ModelUnavailable
from studio.runs.preflight import TeacherError, class_mismatch, teacher_labels
from studio.runs.store import RunStore


def attach_run_teacher(store: RunStore, model: DeiTClassifier, cfg: RunConfig, class_names) -> None:
    """Load `cfg.distill.teacher`'s final model (safe_mode, checksum checked) into `model`.

    Raises TeacherError when the teacher is gone, changed, unfinished, or was trained on
    other class names than the student's dataset as actually loaded.
    """
    ref = cfg.distill.teacher or ""
    run, labels = teacher_labels(store, ref)
    reason = class_mismatch(labels, class_names)
    if reason:
        raise TeacherError(f"distill.teacher={run.id!r} cannot teach this student: {reason}")
    try:
        teacher = load_run_model(store, run.id)
    except ModelUnavailable as err:
        raise TeacherError(f"distill.teacher={run.id!r} cannot teach: {err}") from None
    teacher.trainable = False
    model.attach_teacher(teacher, labels.input_size)
