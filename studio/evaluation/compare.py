"""Two evaluation reports side by side: per-class differences (B minus A)."""

from __future__ import annotations

import math
from typing import Any

METRICS = ("precision", "recall", "f1")


class NotComparable(ValueError):
    """Two reports whose classes differ; the message names the difference."""


def per_class_deltas(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per class: each metric of A and B and `delta_<metric>` = B - A, in A's class
    order. Raises NotComparable when the runs were tested on different classes."""
    names_a = [row["class"] for row in a["per_class"]]
    names_b = [row["class"] for row in b["per_class"]]
    if sorted(names_a) != sorted(names_b):
        only_a = sorted(set(names_a) - set(names_b))[:5]
        only_b = sorted(set(names_b) - set(names_a))[:5]
        raise NotComparable(
            f"the runs were tested on different classes (only in the first: "
            f"{', '.join(only_a) or '-'}; only in the second: {', '.join(only_b) or '-'})"
        )
    rows_b = {row["class"]: row for row in b["per_class"]}
    rows = []
    for row_a in a["per_class"]:
        row_b = rows_b[row_a["class"]]
        row: dict[str, Any] = {"class": row_a["class"], "support": row_a["support"]}
        for metric in METRICS:
            row[f"{metric}_a"] = row_a[metric]
            row[f"{metric}_b"] = row_b[metric]
            row[f"delta_{metric}"] = row_b[metric] - row_a[metric]
        rows.append(row)
    return rows


def accuracy_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Top-1 of B minus A, and whether it exceeds what chance gives: the 95 % half-width of
    the difference of two independent binomial estimates (1.96 x the root of the summed
    variances). Two runs tested on the same images are not independent, so this errs on the
    cautious side."""
    delta = b["accuracy"] - a["accuracy"]
    noise = 1.96 * math.hypot(a["accuracy_se"], b["accuracy_se"])
    return {
        "accuracy_a": a["accuracy"],
        "accuracy_b": b["accuracy"],
        "delta": delta,
        "noise95": noise,
        "beyond_noise": abs(delta) > noise,
    }
