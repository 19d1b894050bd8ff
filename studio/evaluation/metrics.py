"""The evaluation report of a classifier, from its test-set probabilities alone (no keras).

scikit-learn computes the per-class precision, recall, F1 and the confusion matrix; SciPy's
hierarchical clustering orders the classes so that classes the model confuses sit together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

TOP_KS = (1, 3, 5)
CALIBRATION_BINS = 15
CONFUSED_PAIRS = 10


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of images whose true class is among the k most probable (1.0 when k >= classes,
    as Keras' TopKCategoricalAccuracy counts it)."""
    if k >= probs.shape[1]:
        return 1.0
    # Classes tied with the true class do not push it out, as tf.math.in_top_k counts ties.
    true_p = probs[np.arange(len(labels)), labels]
    better = (probs > true_p[:, None]).sum(axis=1)
    return float(np.mean(better < k))


def cross_entropy(probs: np.ndarray, labels: np.ndarray, label_smoothing: float = 0.0) -> float:
    """Mean categorical cross-entropy with the run's label smoothing (the training loss's
    label term: for a DeiT student, its distillation term is left out)."""
    n, c = probs.shape
    log_p = np.log(np.clip(probs, 1e-12, 1.0))
    target = np.full((n, c), label_smoothing / c)
    target[np.arange(n), labels] += 1.0 - label_smoothing
    return float(-(target * log_p).sum(axis=1).mean())


def calibration(probs: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error of the top-1 confidence (Guo et al. 2017: equal-width bins,
    weighted by their share of images) and the reliability diagram's bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin b holds (edges[b], edges[b+1]]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        member = which == b
        count = int(member.sum())
        row: dict[str, Any] = {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": count,
            "confidence": None,
            "accuracy": None,
        }
        if count:
            row["confidence"] = float(confidence[member].mean())
            row["accuracy"] = float(correct[member].mean())
            ece += count / len(labels) * abs(row["accuracy"] - row["confidence"])
        rows.append(row)
    return {"ece": float(ece), "bins": rows}


def confusion_order(confusion: np.ndarray) -> list[int]:
    """Class indices ordered so that often-confused classes are neighbours.

    Similarity of two classes is their mutual confusion (row-normalised, both directions
    averaged); average-linkage clustering with optimal leaf ordering lays the leaves out.
    With nothing confused, the classes keep their order.
    """
    c = confusion.shape[0]
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    np.fill_diagonal(rates, 0.0)
    similarity = (rates + rates.T) / 2
    if c < 3 or similarity.max() <= 0:
        return list(range(c))
    distance = similarity.max() - similarity
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    tree = hierarchy.optimal_leaf_ordering(hierarchy.linkage(condensed, "average"), condensed)
    return [int(i) for i in hierarchy.leaves_list(tree)]


def confused_pairs(
    confusion: np.ndarray, class_names: Sequence[str], limit: int = CONFUSED_PAIRS
) -> list[dict]:
    """The (true, predicted) pairs with the most test images, most first; `share` is the
    fraction of the true class's images that went to the predicted class."""
    support = confusion.sum(axis=1)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:limit]
    pairs = []
    for i, j in zip(*np.unravel_index(flat, off.shape), strict=True):
        count = int(off[i, j])
        if count == 0:
            break
        pairs.append(
            {
                "true": class_names[i],
                "predicted": class_names[j],
                "count": count,
                "share": count / int(support[i]),
            }
        )
    return pairs


def classification_report(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    label_smoothing: float = 0.0,
) -> dict[str, Any]:
    """Everything `evaluate` reports, JSON-ready: top-k, loss, per-class rows with macro and
    weighted averages, the confusion matrix (rows: true class, columns: predicted), a class
    order for drawing it, the most-confused pairs and calibration."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    c = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(labels), c):
        raise ValueError(
            f"probabilities of shape {probs.shape} do not match {len(labels)} labels "
            f"and {c} classes"
        )
    if len(labels) == 0:
        raise ValueError("there are no test images to evaluate on (data.test_fraction is 0?)")
    predicted = probs.argmax(axis=1)
    indices = list(range(c))
    confusion = confusion_matrix(labels, predicted, labels=indices)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    per_class = [
        {
            "class": name,
            "index": i,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            labels, predicted, labels=indices, average=average, zero_division=0
        )
        averages[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    accuracy = float(np.mean(predicted == labels))
    n = len(labels)
    return {
        "images": n,
        "loss": cross_entropy(probs, labels, label_smoothing),
        "accuracy": accuracy,
        # The binomial standard error: how far the accuracy may move on another test set
        # of the same size.
        "accuracy_se": math.sqrt(accuracy * (1 - accuracy) / n),
        **{f"top{k}": top_k_accuracy(probs, labels, k) for k in TOP_KS if k > 1},
        "per_class": per_class,
        **averages,
        "confusion": confusion.astype(int).tolist(),
        "order": confusion_order(confusion.astype(np.float64)),
        "confused_pairs": confused_pairs(confusion, class_names),
        "calibration": calibration(probs, labels),
    }
