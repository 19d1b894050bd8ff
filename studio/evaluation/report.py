"""The stored evaluation of a run: `evaluation.json` (the report) and `mistakes.npz` (the
gallery's images), both tied to the model file they were computed from."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.evaluation.metrics import classification_report
from studio.runs import artifacts

FORMAT = 1
GALLERY_TOP_K = 3
# A gallery larger than this keeps the most confident mistakes (CIFAR-size images: ~15,000).
GALLERY_BYTES = 48 * 2**20
PER_CLASS_COLUMNS = ("class", "precision", "recall", "f1", "support")


def build_report(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: list[str] | tuple[str, ...],
    *,
    model_sha256: str,
    label_smoothing: float = 0.0,
) -> dict[str, Any]:
    """The classification report with what it was computed from (format, model, split)."""
    report = classification_report(probs, labels, class_names, label_smoothing)
    return {
        "format": FORMAT,
        "split": "test",
        "model_sha256": model_sha256,
        "created": time.time(),
        "class_names": list(class_names),
        **report,
    }


def current_report(
    run_dir: Path, model_sha256: str | None, fmt: int | str = FORMAT
) -> dict[str, Any] | None:
    """The stored report if it was computed from this model file in format `fmt` (a
    classifier's by default; a caption run's is `caption_report.CAPTION_FORMAT`), else None
    (a model retrained or a report of an older release is stale, never shown as current)."""
    report = artifacts.read_evaluation(run_dir)
    if not report or report.get("format") != fmt:
        return None
    if model_sha256 and report.get("model_sha256") != model_sha256:
        return None
    return report


def per_class_csv(report: dict[str, Any]) -> str:
    """The per-class table as CSV text: class, precision, recall, f1, support."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PER_CLASS_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["per_class"])
    return out.getvalue()


@dataclass
class Mistakes:
    """Misclassified test images, most confident first.

    Args:
        images: uint8 (M, S, S, 3) at the dataset's input size.
        true: true class index per image.
        top: the model's top classes per image (M, 3), best first.
        probs: their probabilities (M, 3).
        index: position of each image in the run's test split.
        total: how many test images were misclassified (the gallery may keep fewer).
    """

    images: np.ndarray
    true: np.ndarray
    top: np.ndarray
    probs: np.ndarray
    index: np.ndarray
    total: int

    def __len__(self) -> int:
        return len(self.true)

    def select(self, true: int | None = None, predicted: int | None = None) -> np.ndarray:
        """Positions of the mistakes with this true and/or predicted class, most confident
        first (the order they are stored in)."""
        keep = np.ones(len(self), dtype=bool)
        if true is not None:
            keep &= self.true == true
        if predicted is not None:
            keep &= self.top[:, 0] == predicted
        return np.flatnonzero(keep)


def collect_mistakes(
    images: np.ndarray, probs: np.ndarray, labels: np.ndarray, budget: int = GALLERY_BYTES
) -> Mistakes:
    """The misclassified images ranked by the model's confidence in its wrong answer; when
    they outweigh `budget` bytes, the most confident are kept."""
    probs = np.asarray(probs)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
    per_image = max(int(np.prod(images.shape[1:])), 1)
    kept = wrong[: max(budget // per_image, 1)]
    k = min(GALLERY_TOP_K, probs.shape[1])
    top = np.argsort(-probs[kept], axis=1, kind="stable")[:, :k]
    return Mistakes(
        images=np.asarray(images[kept], dtype=np.uint8),
        true=labels[kept],
        top=top.astype(np.int64),
        probs=np.take_along_axis(probs[kept], top, axis=1).astype(np.float32),
        index=kept.astype(np.int64),
        total=len(wrong),
    )


def write_mistakes(run_dir: Path, mistakes: Mistakes) -> None:
    arrays = {name: getattr(mistakes, name) for name in ("images", "true", "top", "probs", "index")}
    artifacts.save_npz_atomically(
        run_dir / artifacts.MISTAKES, {**arrays, "total": np.int64(mistakes.total)}
    )


def read_mistakes(run_dir: Path) -> Mistakes | None:
    """The stored gallery, None when there is none or it cannot be read."""
    try:
        with np.load(run_dir / artifacts.MISTAKES, allow_pickle=False) as raw:
            return Mistakes(
                images=raw["images"],
                true=raw["true"],
                top=raw["top"],
                probs=raw["probs"],
                index=raw["index"],
                total=int(raw["total"]),
            )
    except (OSError, KeyError, ValueError):
        return None
