"""Saving and loading a run's models: safe_mode on, checksum checked."""

from __future__ import annotations

import json
from pathlib import Path

import keras

import studio.layers
import studio.models.deit
import studio.training.schedule  # noqa: F401
from studio.checksum import sha256_file
from studio.store import RunStore

FINAL_MODEL = "model.keras"
LABELS = "labels.json"


class ModelFileError(RuntimeError):
    """The run has no usable model file, or it is not the one the studio wrote."""


def load_keras_file(path: Path, compile: bool = True) -> keras.Model:
    """Load a `.keras` file with safe_mode on: no lambdas, no arbitrary code."""
    return keras.saving.load_model(path, safe_mode=True, compile=compile)


def load_run_model(store: RunStore, run_id: str) -> keras.Model:
    """The finished model of a run, refused unless its checksum matches the run store."""
    run = store.get(run_id)
    path = store.run_dir(run.id) / FINAL_MODEL
    if not path.exists():
        raise ModelFileError(
            f"run {run.id} has no final model ({path} is missing; status {run.status})"
        )
    if not run.model_sha256:
        raise ModelFileError(
            f"run {run.id} has no recorded checksum: the studio did not write {path}"
        )
    actual = sha256_file(path)
    if actual != run.model_sha256:
        raise ModelFileError(
            f"{path} does not match the checksum recorded when it was trained "
            f"(expected {run.model_sha256[:12]}..., found {actual[:12]}...): refusing to load it"
        )
    return load_keras_file(path, compile=False)


def read_labels(store: RunStore, run_id: str) -> dict:
    """Class names and the decoder's input size the run was trained with."""
    path = store.run_dir(run_id) / LABELS
    if not path.exists():
        raise ModelFileError(f"run {run_id} has no {LABELS}; it never loaded its dataset")
    return json.loads(path.read_text())
