"""What lies in a run's folder, and whether a run's model may be used: the only code that
knows the files' names.

Training writes these files, and the demo, the CLI's `predict`, attention maps, DeiT teachers
and the Space export read them through here. No keras: the UI asks `model_info` too, and
loading the model itself is `studio.inference.loading`'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.config.variants import VARIANTS, names_of, supporting
from studio.runs.paths import demo_dir
from studio.runs.store import Run, RunNotFound, RunStore

CONFIG = "config.json"  # the full run config, for people (the store holds the one in use)
CHECKPOINT = "checkpoint.keras"  # last completed epoch: weights, optimizer and schedule state
CHECKPOINT_STATE = "checkpoint.json"  # epochs and checksums of the checkpoints (runs.checkpoints)
FINAL_MODEL = "model.keras"  # the finished model; its sha256 is kept in the run store
LABELS = "labels.json"  # class names, the decoder's input size, the dataset
DATASET_REPORT = "dataset_report.json"  # class counts per split, files skipped and why
TENSORBOARD = "tensorboard"  # TensorBoard event files (TensorFlow backend)
WORKER_LOG = "worker.log"  # the training worker's output
ATTENTION = "attention"  # cached attention maps, one .npz per (image, model file)
EXPORTS = "exports"  # exports/<format>/: the exported model and its parity check
EXPORT_RESULT = "parity.json"  # beside each export: how it was made and what its check found
# Attention results written by earlier versions carry other metadata; the version in the
# file name makes them misses rather than wrong answers.
ATTENTION_FORMAT = 2
EXAMPLES_INDEX = "index.json"
EVALUATION = "evaluation.json"  # the test-set report (studio.evaluation), for one model file
MISTAKES = "mistakes.npz"  # misclassified test images with the model's top 3, for the gallery
# Captioning runs (task=caption):
TOKENIZER = "tokenizer.json"  # the tokenizer trained on the run's training captions
CAPTION_EXAMPLES = "caption_examples.json"  # per epoch: a few validation images' captions
CAPTION_EXAMPLE_IMAGES = "caption_examples.npz"  # those images, uint8, for the run's view
CARD = "card"  # the model card (README.md, images/) as `python -m studio card` writes it


class ModelUnavailable(RuntimeError):
    """A run whose model the studio will not use; the message says why, for people."""


@dataclass(frozen=True)
class Labels:
    """What a run's model needs besides weights: class names (none for a captioning run,
    whose words are its tokenizer's), the decoder's input size and the run's task."""

    class_names: tuple[str, ...]
    input_size: int
    dataset: str
    task: str = "classify"

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = LABELS) -> Labels:
        names, size = raw.get("class_names"), raw.get("input_size")
        task = raw.get("task", "classify")
        if task not in ("classify", "caption"):
            raise ModelUnavailable(f"{where} has task={task!r}, which this studio does not know")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelUnavailable(f"{where} has no list of class names")
        if task == "classify" and not names:
            raise ModelUnavailable(f"{where} has no list of class names")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ModelUnavailable(f"{where} has input_size={size!r}, not a positive integer")
        return cls(tuple(names), size, str(raw.get("dataset", "")), task)

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_names": list(self.class_names),
            "input_size": self.input_size,
            "dataset": self.dataset,
            "task": self.task,
        }


@dataclass(frozen=True)
class ModelInfo:
    """A finished run whose model file matches the checksum the run store kept."""

    run: Run
    path: Path
    sha256: str
    labels: Labels


# -- writing ------------------------------------------------------------------------------


def _write_json_atomically(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True))
    os.replace(tmp, path)


def save_npz_atomically(path: Path, arrays: dict[str, Any]) -> None:
    """Write arrays as a compressed `.npz` (no pickles) under a unique temporary name, then
    rename: a reader never sees half a file, and two writers never share one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    """Into the run's folder, which the store made with its row (FileNotFoundError once the
    run is deleted: a late write must not bring the folder back)."""
    _write_json_atomically(run_dir / CONFIG, config)


def write_labels(run_dir: Path, labels: Labels) -> None:
    _write_json_atomically(run_dir / LABELS, labels.to_dict())


def write_dataset_report(run_dir: Path, report: dict[str, Any]) -> None:
    _write_json_atomically(run_dir / DATASET_REPORT, report)


def write_evaluation(run_dir: Path, report: dict[str, Any]) -> None:
    _write_json_atomically(run_dir / EVALUATION, report)


def _read_json_object(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_caption_examples(run_dir: Path, examples: dict[str, Any]) -> None:
    """The example captions so far (`studio.training.caption_examples` says what they hold)."""
    _write_json_atomically(run_dir / CAPTION_EXAMPLES, examples)


def read_caption_examples(run_dir: Path) -> dict[str, Any] | None:
    """A captioning run's example captions per epoch, None when absent or unreadable."""
    return _read_json_object(run_dir / CAPTION_EXAMPLES)


def read_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The stored evaluation report, None when there is none or it is unreadable."""
    return _read_json_object(run_dir / EVALUATION)


def read_dataset_report(run_dir: Path) -> dict[str, Any] | None:
    """The dataset report, None when there is none or it is unreadable."""
    return _read_json_object(run_dir / DATASET_REPORT)


# -- checksums ----------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """The file's SHA-256, so the studio only ever loads model files it wrote itself."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _cached_sha256(path: Path) -> str:
    """sha256 of a file, computed once per (path, mtime, size)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _verified_lock:
        known = _verified.get(key)
    if known is None:
        known = sha256_file(path)
        with _verified_lock:
            if len(_verified) > 256:
                _verified.clear()
            _verified[key] = known
    return known


# -- the model file, read without keras ---------------------------------------------------


def keras_version_of(model_path: Path) -> str | None:
    """The Keras version written into a `.keras` archive when it was saved."""
    try:
        with zipfile.ZipFile(model_path) as archive:
            return json.loads(archive.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def parameter_count(model_path: Path) -> int | None:
    """The model's parameters (trainable and not, as `Model.count_params` counts them) read
    from the weights inside a `.keras` archive; optimizer state and integer seed states are
    left out. None when the archive cannot be read."""
    import h5py  # installed with keras; imported here so that the store's readers never load it

    total = 0

    def add(_name: str, node: Any) -> None:
        nonlocal total
        if isinstance(node, h5py.Dataset) and node.dtype.kind in "fc":
            total += int(node.size)

    try:
        # h5py reads the shapes through the archive's seekable member: no weights are loaded.
        with (
            zipfile.ZipFile(model_path) as archive,
            archive.open("model.weights.h5") as raw,
            h5py.File(raw, "r") as weights,
        ):
            for group in ("layers", "vars"):  # "optimizer" holds the optimizer's slots
                if group in weights:
                    weights[group].visititems(add)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return total


# -- reading: is this run's model usable, and if not why ---------------------------------


def read_labels(store: RunStore, run_id: str) -> Labels:
    path = store.run_dir(run_id) / LABELS
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelUnavailable(
            f"run {run_id} has no {LABELS}; it never loaded its dataset"
        ) from None
    except (OSError, ValueError) as err:
        raise ModelUnavailable(f"run {run_id}: {LABELS} is unreadable ({err})") from None
    if not isinstance(raw, dict):
        raise ModelUnavailable(f"run {run_id}: {LABELS} is not a JSON object")
    return Labels.from_dict(raw, where=f"run {run_id}: {LABELS}")


# What each ability of a Variant lets the studio do, as a refusal words it.
_ABILITY_WORDS = {
    "attention_maps": "attention maps are drawn",
    "space_export": "Space export works",
}


def check_ability(run: Run, ability: str) -> None:
    """Refuse a run whose variant cannot do `ability` (a Variant flag), naming those that can."""
    variant = VARIANTS.get(run.variant)
    if variant is None or not getattr(variant, ability):
        raise ModelUnavailable(
            f"run {run.id} is a {run.variant} run: {_ABILITY_WORDS[ability]} for the "
            f"{names_of(supporting(ability))} runs only"
        )


def model_info(store: RunStore, ref: str, verify: bool = True) -> ModelInfo:
    """The run's model file and labels, refused unless it is finished and its file matches.

    A missing file, a file the studio did not record (no checksum) and a file that changed
    since training (checksum mismatch) each raise ModelUnavailable with a plain reason.
    """
    try:
        run = store.get(ref)
    except RunNotFound as err:
        raise ModelUnavailable(str(err)) from None
    path = store.run_dir(run.id) / FINAL_MODEL
    if run.damage:
        raise ModelUnavailable(f"run {run.id} is damaged ({run.damage}), so it is not loaded")
    if run.files_missing:
        raise ModelUnavailable(
            f"run {run.id}: its folder {store.run_dir(run.id)} is missing (deleted or moved by "
            "hand); put it back to use its model"
        )
    if run.status != "completed":
        reason = f" ({run.reason})" if run.reason else ""
        raise ModelUnavailable(
            f"run {run.id} is {run.status}{reason}; only completed runs have a final model"
        )
    if not run.model_sha256:
        raise ModelUnavailable(
            f"run {run.id} has no recorded checksum: the studio did not write its model file, "
            "so it is not loaded"
        )
    if not path.is_file():
        raise ModelUnavailable(f"run {run.id} has no final model ({path.name} is missing)")
    if verify:
        actual = _cached_sha256(path)
        if actual != run.model_sha256:
            raise ModelUnavailable(
                f"run {run.id}: {path.name} does not match the checksum recorded when it was "
                f"trained (expected {run.model_sha256[:12]}..., found {actual[:12]}...); "
                "it was changed or replaced, so it is not loaded"
            )
    return ModelInfo(run, path, run.model_sha256, read_labels(store, run.id))


def run_task(run: Run) -> str:
    """What a run learns: `classify` (runs from before captioning too) or `caption`."""
    task = run.config.get("task") if isinstance(run.config, dict) else None
    return task if isinstance(task, str) else "classify"


def usable_runs(store: RunStore, task: str | None = "classify") -> list[Run]:
    """Completed runs of `task` (None: any) with a recorded model checksum, newest first
    (file not read). Pages that classify ask for classifiers only."""
    runs = [
        r
        for r in store.list_runs()
        if r.status == "completed"
        and r.model_sha256
        and not r.damage
        and not r.files_missing
        and (task is None or run_task(r) == task)
    ]
    return [r for r in reversed(runs) if (store.run_dir(r.id) / FINAL_MODEL).is_file()]


# -- derived files ------------------------------------------------------------------------


def attention_cache(store: RunStore, run: Run, image_sha256: str) -> Path:
    """Where the attention of this image under this exact model file is cached."""
    model = (run.model_sha256 or "unknown")[:12]
    name = f"{image_sha256[:16]}-{model}-v{ATTENTION_FORMAT}.npz"
    return store.run_dir(run.id) / ATTENTION / name


def examples_root(home: Path) -> Path:
    """Example images of every run; outside the run folders, so the demo may serve them."""
    return demo_dir(Path(home)) / "examples"


def examples_dir(home: Path, run_id: str) -> Path:
    return examples_root(home) / run_id


def read_examples(home: Path, run_id: str) -> list[Path] | None:
    """The run's example files, or None when they were never written."""
    folder = examples_dir(home, run_id)
    try:
        index = json.loads((folder / EXAMPLES_INDEX).read_text())
    except (OSError, ValueError):
        return None
    files = [folder / name for name in index.get("files", []) if "/" not in name]
    return [f for f in files if f.is_file()]
