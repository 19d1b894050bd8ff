"""decode -> model -> softmax -> top-k: the one prediction path of the CLI and the demo.

`python -m studio predict` runs it in-process. The demo's Gradio handler decodes with the same
`decode_for_model` and its inference worker (a separate process: the Streamlit server never
imports keras) runs the same `predict_probs`, so the CLI and the demo agree on the same file.

Importing this module does not import keras: the run checks (`model_info`) run in the UI
process too. Only `load_model` and `ModelCache` pull keras in, on first use.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.checksum import sha256_file
from studio.images import ImageDecodeError, Source, decode_image
from studio.store import Run, RunNotFound, RunStore

DEFAULT_TOP_K = 5
FINAL_MODEL = "model.keras"  # the names studio.training.model_files writes (it imports keras)
LABELS = "labels.json"

__all__ = [
    "DEFAULT_TOP_K",
    "ImageDecodeError",
    "Labels",
    "ModelCache",
    "ModelInfo",
    "ModelUnavailable",
    "decode_for_model",
    "demo_runs",
    "model_info",
    "predict_files",
    "predict_probs",
    "ranked",
    "softmax",
]


class ModelUnavailable(RuntimeError):
    """A run whose model the studio will not use; the message says why, for people."""


@dataclass(frozen=True)
class Labels:
    """What a run's model needs besides weights: class names and the decoder's input size."""

    class_names: tuple[str, ...]
    input_size: int
    dataset: str

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = LABELS) -> Labels:
        names, size = raw.get("class_names"), raw.get("input_size")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ModelUnavailable(f"{where} has no list of class names")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ModelUnavailable(f"{where} has input_size={size!r}, not a positive integer")
        return cls(tuple(names), size, str(raw.get("dataset", "")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_names": list(self.class_names),
            "input_size": self.input_size,
            "dataset": self.dataset,
        }


@dataclass(frozen=True)
class ModelInfo:
    """A finished run whose model file matches the checksum the run store kept."""

    run: Run
    path: Path
    sha256: str
    labels: Labels


# -- the prediction path ------------------------------------------------------------------


def decode_for_model(source: Source, input_size: int) -> np.ndarray:
    """The run's own preprocessing: the shared decoder, square-resized to the input size.

    The model resizes to its `image_size` itself, exactly as in training.
    """
    return decode_image(source, size=input_size)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (the models output logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ranked(probs: np.ndarray, class_names: tuple[str, ...] | list[str], k: int) -> list:
    """[(class name, probability)] of the k most likely classes, most likely first.

    Ties keep the class order, so the answer never depends on the sort implementation.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = max(1, min(int(k), len(probs)))
    order = np.argsort(-probs, kind="stable")[:k]
    return [(class_names[i], float(probs[i])) for i in order]


def predict_probs(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 images (N, H, W, 3) at the input size.

    `predict_on_batch` runs the compiled predict function: on a CPU it is about 30x faster
    than calling the model eagerly, and it does not compile again per batch size.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    logits = model.predict_on_batch(x.astype(np.float32))
    return softmax(np.asarray(logits))


# -- which runs have a usable model (no keras) --------------------------------------------

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def _file_sha256(path: Path) -> str:
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
    if run.status != "completed":
        raise ModelUnavailable(
            f"run {run.id} is {run.status}; only completed runs have a final model"
        )
    if not run.model_sha256:
        raise ModelUnavailable(
            f"run {run.id} has no recorded checksum: the studio did not write its model file, "
            "so it is not loaded"
        )
    if not path.is_file():
        raise ModelUnavailable(f"run {run.id} has no final model ({path.name} is missing)")
    if verify:
        actual = _file_sha256(path)
        if actual != run.model_sha256:
            raise ModelUnavailable(
                f"run {run.id}: {path.name} does not match the checksum recorded when it was "
                f"trained (expected {run.model_sha256[:12]}..., found {actual[:12]}...); "
                "it was changed or replaced, so it is not loaded"
            )
    return ModelInfo(run, path, run.model_sha256, read_labels(store, run.id))


def demo_runs(store: RunStore) -> list[Run]:
    """Completed runs with a recorded model checksum, newest first (file not read)."""
    runs = [r for r in store.list_runs() if r.status == "completed" and r.model_sha256]
    return [r for r in reversed(runs) if (store.run_dir(r.id) / FINAL_MODEL).is_file()]


# -- loading (keras) ----------------------------------------------------------------------


def load_model(store: RunStore, info: ModelInfo):
    """Load the run's `.keras` file with safe_mode on, after checking its checksum again."""
    # studio.layers exports its layers lazily: import the modules that register them.
    import studio.layers.encoder
    import studio.layers.patches  # noqa: F401
    from studio.training.model_files import ModelFileError, load_run_model

    try:
        model = load_run_model(store, info.run.id)
    except ModelFileError as err:
        raise ModelUnavailable(str(err)) from None
    except Exception as err:  # safe_mode refusals, foreign layers, a broken archive
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelUnavailable(
            f"run {info.run.id}: {info.path.name} could not be loaded safely ({first_line[:300]})"
        ) from None
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    if outputs != len(info.labels.class_names):
        raise ModelUnavailable(
            f"run {info.run.id}: the model has {outputs} outputs but {LABELS} names "
            f"{len(info.labels.class_names)} classes"
        )
    return model


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any
    stamp: tuple[str, int, int]


class ModelCache:
    """Models kept loaded per run (least recently used dropped first).

    Each `get` re-reads the run's row and the file's size and mtime: a model whose file or
    recorded checksum changed is checked and loaded again (and refused if tampered with).
    """

    def __init__(self, store: RunStore, capacity: int = 4) -> None:
        self.store = store
        self.capacity = capacity
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: str) -> LoadedModel:
        info = model_info(self.store, ref, verify=False)
        stat = info.path.stat()
        stamp = (info.sha256, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._models.get(info.run.id)
            if cached is not None and cached.stamp == stamp:
                self._models.move_to_end(info.run.id)
                return cached
            self._models.pop(info.run.id, None)
            info = model_info(self.store, info.run.id)  # now with the checksum read
            loaded = LoadedModel(info, load_model(self.store, info), stamp)
            self._models[info.run.id] = loaded
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return loaded

    def __len__(self) -> int:
        return len(self._models)


# -- the CLI's entry point ----------------------------------------------------------------


def predict_files(
    store: RunStore, ref: str, sources: list, k: int = DEFAULT_TOP_K, batch_size: int = 32
) -> tuple[ModelInfo, list[list[tuple[str, float]]]]:
    """Top-k of each image for a run, in-process: what `python -m studio predict` prints.

    Every image is decoded (and refused with a reason) before the model is loaded.
    """
    info = model_info(store, ref)
    arrays = []
    for n, source in enumerate(sources, 1):
        try:
            arrays.append(decode_for_model(source, info.labels.input_size))
        except ImageDecodeError as err:
            name = source if isinstance(source, (str, Path)) else f"image {n}"
            raise ImageDecodeError(f"{name}: {err.reason}") from None
    model = load_model(store, info)
    results = []
    for start in range(0, len(arrays), batch_size):
        probs = predict_probs(model, np.stack(arrays[start : start + batch_size]))
        results += [ranked(row, info.labels.class_names, k) for row in probs]
    return info, results
