"""Loading a run's model: safe_mode on, checksum checked right before, custom layers registered.

Imports keras: used by the inference worker, the CLI's in-process verbs and training (a
checkpoint on resume, a DeiT student's teacher), never by the Streamlit server.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import keras

import studio.layers.attention
import studio.layers.encoder
import studio.layers.patches  # noqa: F401  (registers the studio's layers for loading)
from studio.config.variants import VARIANTS
from studio.models import captioner as _captioner  # noqa: F401  (a caption run's layers, keras-hub's)
from studio.runs.artifacts import (
    LABELS,
    TOKENIZER,
    ModelInfo,
    ModelUnavailable,
    model_info,
    sha256_file,
)
from studio.runs.store import RunStore
from studio.text.tokenizer import CaptionTokenizer, TokenizerError

# Each variant's builder module registers the model classes it saves (a DeiT student's).
for _module in sorted({v.builder.split(":")[0] for v in VARIANTS.values()}):
    importlib.import_module(_module)


def load_keras_file(path: Path, compile: bool = True) -> keras.Model:
    """Load a `.keras` file with safe_mode on: no lambdas, no arbitrary code."""
    return keras.saving.load_model(path, safe_mode=True, compile=compile)


def load_model(info: ModelInfo) -> keras.Model:
    """The run's final model, refused unless its file still matches the recorded checksum."""
    actual = sha256_file(info.path)
    if actual != info.sha256:
        raise ModelUnavailable(
            f"run {info.run.id}: {info.path.name} does not match the checksum recorded when it "
            f"was trained (expected {info.sha256[:12]}..., found {actual[:12]}...); it was "
            "changed or replaced, so it is not loaded"
        )
    try:
        model = load_keras_file(info.path, compile=False)
    except Exception as err:  # safe_mode refusals, foreign layers, a broken archive
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelUnavailable(
            f"run {info.run.id}: {info.path.name} could not be loaded safely ({first_line[:300]})"
        ) from None
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    # A captioner's outputs are its tokenizer's words, checked where the tokenizer is loaded.
    if info.labels.task == "classify" and outputs != len(info.labels.class_names):
        raise ModelUnavailable(
            f"run {info.run.id}: the model has {outputs} outputs but {LABELS} names "
            f"{len(info.labels.class_names)} classes"
        )
    return model


def load_captioner(info: ModelInfo) -> tuple[keras.Model, CaptionTokenizer]:
    """A caption run's model (checksum checked) and the tokenizer it was trained with,
    refused with a reason when either is missing, unreadable or they disagree."""
    if info.labels.task != "caption":
        raise ModelUnavailable(f"run {info.run.id} classifies images; it writes no captions")
    path = info.path.parent / TOKENIZER
    if not path.is_file():
        raise ModelUnavailable(f"run {info.run.id} has no {TOKENIZER}: its words are unknown")
    try:
        tokenizer = CaptionTokenizer.load(path)
    except TokenizerError as err:
        raise ModelUnavailable(f"run {info.run.id}: {err}") from None
    model = load_model(info)
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    if outputs != tokenizer.vocab_size:
        raise ModelUnavailable(
            f"run {info.run.id}: the model writes {outputs} different tokens but {TOKENIZER} "
            f"holds {tokenizer.vocab_size}"
        )
    return model, tokenizer


def load_run_model(store: RunStore, ref: str) -> keras.Model:
    """The finished model of a run: completed, recorded, unchanged, loaded safely."""
    return load_model(model_info(store, ref, verify=False))


@dataclass
class LoadedModel:
    info: ModelInfo
    model: keras.Model
    stamp: tuple
    tokenizer: CaptionTokenizer | None = None  # a caption run's; None for a classifier


def _stamp(info: ModelInfo) -> tuple:
    """What must stay the same for a loaded model to be used again: the recorded checksum and
    the model file's (and a caption run's tokenizer's) size and mtime."""
    files = [info.path]
    if info.labels.task == "caption":
        files.append(info.path.parent / TOKENIZER)
    stamp: list = [info.sha256]
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stamp.append(None)  # load_captioner says what is missing
            continue
        stamp += [stat.st_mtime_ns, stat.st_size]
    return tuple(stamp)


class ModelCache:
    """Models kept loaded per run (least recently used dropped first), a caption run's with
    its tokenizer.

    Each `get` re-reads the run's row and the files' sizes and mtimes: a model whose file,
    tokenizer or recorded checksum changed is checked and loaded again (and refused if
    tampered with).
    """

    def __init__(self, store: RunStore, capacity: int = 4) -> None:
        self.store = store
        self.capacity = capacity
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: str) -> LoadedModel:
        info = model_info(self.store, ref, verify=False)
        stamp = _stamp(info)
        with self._lock:
            cached = self._models.get(info.run.id)
            if cached is not None and cached.stamp == stamp:
                self._models.move_to_end(info.run.id)
                return cached
            self._models.pop(info.run.id, None)
            if info.labels.task == "caption":
                model, tokenizer = load_captioner(info)
                loaded = LoadedModel(info, model, stamp, tokenizer)
            else:
                loaded = LoadedModel(info, load_model(info), stamp)
            self._models[info.run.id] = loaded
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return loaded

    def __len__(self) -> int:
        return len(self._models)
