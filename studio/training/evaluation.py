"""Evaluating a finished model on its test split: one prediction pass, then the keras-free
report (`studio.evaluation`) and the mistakes gallery, stored in the run folder.

The worker runs it when training ends; `python -m studio evaluate RUN` runs it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from studio.config.schema import RunConfig
from studio.datasets.dataset import Dataset
from studio.evaluation.report import build_report, collect_mistakes, write_mistakes
from studio.inference.loading import load_model
from studio.inference.predict import softmax
from studio.runs import artifacts
from studio.runs.store import RunStore
from studio.training.run_data import load_run_data

EVAL_BATCH = 256
SUMMARY_KEYS = ("loss", "accuracy", "top3", "top5")


class NoTestImages(ValueError):
    """The run's data has no test split (data.test_fraction 0 on a dataset without one)."""


def split_probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, classes) of uint8 test images, in batches."""
    logits = model.predict(images, batch_size=EVAL_BATCH, verbose=0)
    return softmax(np.asarray(logits))


def evaluate_model(
    model: keras.Model, data: Dataset, cfg: RunConfig, run_dir: Path, model_sha256: str
) -> dict[str, Any]:
    """Predict the test split once, write the report and the gallery, return the report."""
    if len(data.y_test) == 0:
        raise NoTestImages(
            "this run has no test images (data.test_fraction is 0 and the dataset has no "
            "test split of its own), so there is nothing to evaluate on"
        )
    probs = split_probabilities(model, data.x_test)
    report = build_report(
        probs,
        data.y_test,
        data.class_names,
        model_sha256=model_sha256,
        label_smoothing=cfg.train.label_smoothing,
    )
    artifacts.write_evaluation(run_dir, report)
    write_mistakes(run_dir, collect_mistakes(data.x_test, probs, data.y_test))
    return report


def store_summary(report: dict[str, Any]) -> dict[str, float]:
    """What the run store keeps of a report: loss, top-1, top-3, top-5."""
    return {k: float(report[k]) for k in SUMMARY_KEYS if k in report}


def evaluate_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """Reload the run's model (checksum checked) and data, evaluate, record the result."""
    info = artifacts.model_info(store, run_id)
    cfg = RunConfig.from_dict(info.run.config)
    model = load_model(info)
    data = load_run_data(store, cfg)
    report = evaluate_model(model, data, cfg, store.run_dir(info.run.id), info.sha256)
    store.update(info.run.id, test=store_summary(report))
    return report
