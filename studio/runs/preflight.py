"""Pre-flight: the checks a config needs the disk or the run store for, before a run is queued.

`studio.config` checks values alone. `preflight` then asks what only this machine knows: does
the dataset folder exist and hold class folders, does its group key give every image a group
and enough groups to split, is the local pretrained preset a preset, is the DeiT teacher a
completed run on the same classes. The CLI and the Train page both call
it, so they refuse the same configs with the same one-line reasons. The worker checks the
teacher's classes again against the dataset it actually loaded
(`studio.training.distillation`), since a folder can change after queueing.

`check_run` adds the warnings: values that work but are very likely a mistake, from the values
alone (`studio.config.schema.value_warnings`) and from what this machine knows (a batch larger
than the training set, large images without a GPU, no test images, classes too small to reach
every carved split). The CLI asks for `--yes` and the Train page for "Start anyway" before
queueing a config that has any.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from studio.config.datasets import FOLDER_PREFIX, folder_of
from studio.config.errors import ConfigError
from studio.config.schema import (
    GROUP_CSV_PREFIX,
    ConfigWarning,
    DataConfig,
    ModelConfig,
    RunConfig,
    value_warnings,
)
from studio.config.variants import VARIANTS
from studio.datasets.captions import check_caption_source
from studio.datasets.catalog import known_class_names
from studio.datasets.errors import DatasetError
from studio.datasets.grouping import GroupKeyError, check_folder_groups, resolve_csv
from studio.datasets.scan import FolderSummary, scan_folder
from studio.datasets.small_classes import folder_small_classes
from studio.runs.artifacts import Labels, ModelUnavailable, model_info
from studio.runs.backend import nvidia_gpu_present
from studio.runs.store import Run, RunNotFound, RunStore


class TeacherError(ConfigError):
    """A teacher run that cannot teach this student; the message names `distill.teacher`."""


def preflight(cfg: RunConfig, store: RunStore | None) -> RunConfig:
    """Refuse what the disk or the store rules out; return cfg with paths made absolute and
    the teacher resolved to its full run id. Without a store the teacher is not checked."""
    return _preflight(cfg, store)[0]


@dataclass
class Checked:
    """A config that passed every rule, and what about it is very likely a mistake."""

    config: RunConfig
    warnings: list[ConfigWarning]


def check_run(cfg: RunConfig, store: RunStore | None) -> Checked:
    """`preflight`, then the warnings a person confirms before the run is queued."""
    cfg, summary = _preflight(cfg, store)
    return Checked(cfg, value_warnings(cfg) + _machine_warnings(cfg, summary))


def _preflight(cfg: RunConfig, store: RunStore | None) -> tuple[RunConfig, FolderSummary | None]:
    if cfg.task == "caption":
        data, summary = _checked_caption_data(cfg.data), None
    else:
        data, summary = _checked_data(cfg.data)
    cfg = dataclasses.replace(cfg, data=data)
    cfg = dataclasses.replace(cfg, model=_checked_pretrained(cfg.model))
    if store is not None:
        cfg = check_teacher(store, cfg)
    return cfg, summary


def _checked_data(data: DataConfig) -> tuple[DataConfig, FolderSummary | None]:
    # A worker may start from another directory than its launcher, so folder paths are made
    # absolute here. Folders are listed (not decoded) to refuse empty and one-class ones.
    raw = folder_of(data.dataset)
    if not raw:
        return data, None
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"data.dataset='{data.dataset}': folder {path} does not exist")
    summary = scan_folder(path, samples_per_class=0)
    if not summary.ok:
        raise ConfigError(f"data.dataset='{data.dataset}': {summary.problems[0]}")
    data = dataclasses.replace(data, dataset=f"{FOLDER_PREFIX}{path}")
    return (_checked_groups(data, summary) if data.group_by else data), summary


def _checked_caption_data(data: DataConfig) -> DataConfig:
    # The caption file is read, no image decoded: a missing folder, a file without captions
    # or one naming no existing image is refused here rather than in a worker. Paths are made
    # absolute as for class folders.
    try:
        return dataclasses.replace(data, dataset=check_caption_source(data.dataset))
    except DatasetError as err:
        raise ConfigError(str(err), fields=("data.dataset",)) from None


def _checked_groups(data: DataConfig, summary: FolderSummary) -> DataConfig:
    # Every image must have a group and the groups must be enough to carve the missing
    # splits; both are known from the file list, so a bad key is refused here, not in a worker.
    # A CSV path is made absolute like the folder's.
    group_by = data.group_by or ""
    try:
        csv_path = resolve_csv(group_by, summary.root)
        if csv_path is not None:
            group_by = f"{GROUP_CSV_PREFIX}{csv_path}"
        check_folder_groups(group_by, summary, data.val_fraction, data.test_fraction)
    except GroupKeyError as err:
        raise ConfigError(str(err)) from None
    return dataclasses.replace(data, group_by=group_by)


def _checked_pretrained(m: ModelConfig) -> ModelConfig:
    if not VARIANTS[m.variant].pretrained:
        return m
    if "://" in m.pretrained or not any(m.pretrained.startswith(c) for c in "/.~"):
        return m  # a handle or a preset name: only loading it can tell
    folder = Path(m.pretrained).expanduser().resolve()
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"model.pretrained={m.pretrained!r}: {folder} is not a keras-hub preset folder "
            "(no config.json; make one with backbone.save_to_preset(folder))"
        )
    return dataclasses.replace(m, pretrained=str(folder))


# -- warnings that need the dataset or the hardware -----------------------------------------

# Images of the built-in datasets: (training pool, whether a test split comes with it).
_BUILTIN_IMAGES = {
    "digits": (1797, False),
    "tf_flowers": (3670, False),
    "cifar10": (50_000, True),
    "cifar100": (50_000, True),
}
# Above this side a CPU takes hours per epoch even for small ViTs (the CPU presets use 32 px).
CPU_IMAGE_SIZE = 512


def _pool(data: DataConfig, summary: FolderSummary | None) -> tuple[int, bool, bool] | None:
    """(images to split from, val given, test given), or None when unknown."""
    if summary is not None:
        given = summary.split_dirs
        pool = sum(summary.counts.get(summary.training_split, {}).values())
        return pool, "val" in given, "test" in given
    if data.dataset in _BUILTIN_IMAGES:
        pool, test_given = _BUILTIN_IMAGES[data.dataset]
        return pool, False, test_given
    return None


def training_images(data: DataConfig, summary: FolderSummary | None = None) -> int | None:
    """About how many images the run trains on (after carving splits and the limit)."""
    found = _pool(data, summary)
    if found is None:
        return None
    pool, val_given, test_given = found
    carved = (0 if val_given else data.val_fraction) + (0 if test_given else data.test_fraction)
    train = max(1, round(pool * (1 - carved)))
    return min(train, data.limit) if data.limit else train


def _machine_warnings(cfg: RunConfig, summary: FolderSummary | None) -> list[ConfigWarning]:
    found = []
    train = training_images(cfg.data, summary)
    batch = cfg.train.batch_size
    if train is not None and batch > train:
        found.append(
            ConfigWarning(
                "train.batch_size",
                f"train.batch_size={batch} is more than the about {train:,} training images: "
                f"every epoch is a single step of {train:,} images (a batch of "
                f"{max(1, train // 8):,} gives 8 steps)",
            )
        )
    pool = _pool(cfg.data, summary)
    if pool is not None and not pool[2] and cfg.data.test_fraction == 0:
        found.append(
            ConfigWarning(
                "data.test_fraction",
                "data.test_fraction=0 and the dataset has no test split of its own: the run "
                "ends without a test accuracy or an evaluation report",
            )
        )
    if cfg.model.image_size > CPU_IMAGE_SIZE and not nvidia_gpu_present():
        found.append(
            ConfigWarning(
                "model.image_size",
                f"model.image_size={cfg.model.image_size} on a machine without a GPU: an "
                "epoch will take hours (the CPU presets use 32 px)",
            )
        )
    # A grouped split carves whole groups and reports its own shortfalls.
    if summary is not None and not cfg.data.group_by:
        small = folder_small_classes(summary, cfg.data.val_fraction, cfg.data.test_fraction)
        if small:
            found.append(ConfigWarning("data.val_fraction", small))
    return found


# -- DeiT teachers ------------------------------------------------------------------------


def dataset_class_names(data_cfg: DataConfig) -> list[str] | None:
    """The dataset's class names when they are known without decoding it, else None.

    Built-in names are constants; a folder's are its class sub-folders.
    """
    known = known_class_names(data_cfg.dataset)
    if known is not None:
        return known
    folder = folder_of(data_cfg.dataset)
    if folder:
        summary = scan_folder(Path(folder), samples_per_class=0)
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


def check_teacher(store: RunStore, cfg: RunConfig) -> RunConfig:
    """Refuse an unusable teacher; return cfg with the teacher resolved to its full run id.

    A teacher must be a completed run with a recorded model, trained on the same class
    names in the same order as the student's dataset.
    """
    if not VARIANTS[cfg.model.variant].distills:
        return cfg
    ref = cfg.distill.teacher or ""
    run, labels = teacher_labels(store, ref)
    names = dataset_class_names(cfg.data)
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


def candidate_teachers(store: RunStore, data_cfg: DataConfig) -> list[Run]:
    """Completed runs, newest first, whose class names fit this dataset (for a picker)."""
    names = dataset_class_names(data_cfg)
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
