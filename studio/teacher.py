"""Which finished run may teach a DeiT student: checked before a run is queued, without keras.

The CLI and the Train page both call `check_teacher`, so they refuse the same teachers with
the same one-line reason. The worker checks the class names again against the dataset it
actually loaded (`studio.training.distillation`), since a folder can change after queueing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from studio.config import DEIT, ConfigError, DataConfig, RunConfig
from studio.inference import Labels, ModelUnavailable, model_info
from studio.store import Run, RunNotFound, RunStore


class TeacherError(ConfigError):
    """A teacher run that cannot teach this student; the message names `distill.teacher`."""


def known_class_names(data_cfg: DataConfig, cache_dir: Path) -> list[str] | None:
    """The dataset's class names when they are known without decoding it, else None.

    Built-in names are constants (TF Flowers' folders, sorted as the loader sorts them); a
    folder's are its class sub-folders.
    """
    name = data_cfg.dataset
    if name == "digits":
        return [str(d) for d in range(10)]
    if name in ("cifar10", "cifar100"):
        from studio.datasets.cifar import ARCHIVES

        return list(ARCHIVES[name].classes)
    from studio.datasets.flowers import CLASSES
    from studio.datasets.names import FOLDER_PREFIX
    from studio.datasets.scan import scan_folder

    if name == "tf_flowers":
        return list(CLASSES)
    if name.startswith(FOLDER_PREFIX):
        summary = scan_folder(Path(name[len(FOLDER_PREFIX) :]), samples_per_class=0)
        return list(summary.class_names) if summary.ok else None
    return None


def class_mismatch(teacher: Labels, class_names: list[str] | tuple[str, ...]) -> str | None:
    """Why a teacher's classes do not fit the student's, or None when they are the same list."""
    theirs, ours = list(teacher.class_names), list(class_names)
    if theirs == ours:
        return None
    if sorted(theirs) == sorted(ours):
        return "its classes are the same but in another order, so its outputs would not line up"
    missing = [c for c in ours if c not in theirs][:3]
    extra = [c for c in theirs if c not in ours][:3]
    detail = f"{len(theirs)} classes vs {len(ours)}"
    if missing:
        detail += f"; lacks {', '.join(missing)}"
    if extra:
        detail += f"; has {', '.join(extra)}"
    return f"it was trained on other classes ({teacher.dataset or 'unknown dataset'}: {detail})"


def teacher_labels(store: RunStore, ref: str) -> tuple[Run, Labels]:
    """The teacher run and its labels, or TeacherError saying why it cannot teach."""
    try:
        info = model_info(store, ref, verify=False)
    except (ModelUnavailable, RunNotFound) as err:
        raise TeacherError(f"distill.teacher={ref!r} cannot teach: {err}") from None
    return info.run, info.labels


def check_teacher(store: RunStore, cfg: RunConfig, cache_dir: Path) -> RunConfig:
    """Refuse an unusable teacher; return cfg with the teacher resolved to its full run id.

    A teacher must be a completed run with a recorded model, trained on the same class
    names in the same order as the student's dataset.
    """
    if cfg.model.variant != DEIT:
        return cfg
    ref = cfg.distill.teacher or ""
    run, labels = teacher_labels(store, ref)
    names = known_class_names(cfg.data, cache_dir)
    if names is None:
        # Class names appear only once the dataset is loaded; the worker checks them then.
        names = list(labels.class_names) if labels.dataset == cfg.data.dataset else None
    reason = (
        f"its dataset {labels.dataset!r} is not {cfg.data.dataset!r}"
        if names is None
        else class_mismatch(labels, names)
    )
    if reason:
        raise TeacherError(f"distill.teacher={run.id!r} cannot teach this student: {reason}")
    return dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teacher=run.id))


def candidate_teachers(store: RunStore, data_cfg: DataConfig, cache_dir: Path) -> list[Run]:
    """Completed runs, newest first, whose class names fit this dataset (for a picker)."""
    names = known_class_names(data_cfg, cache_dir)
    found = []
    for run in reversed(store.list_runs()):
        if run.status != "completed" or not run.model_sha256:
            continue
        try:
            _, labels = teacher_labels(store, run.id)
        except TeacherError:
            continue
        fits = (
            class_mismatch(labels, names) is None
            if names is not None
            else labels.dataset == data_cfg.dataset
        )
        if fits:
            found.append(run)
    return found
