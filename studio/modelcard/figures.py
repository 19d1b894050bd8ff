"""The model card's pictures as PNG bytes: training curves and the confusion matrix.

Matplotlib's Agg renderer through `Figure` objects (never pyplot's global state), so it runs
headless and from several Streamlit sessions at once.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 110
# Above this many classes the matrix cells carry no numbers and the ticks get smaller.
ANNOTATE_UP_TO = 20


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    return out.getvalue()


def curves_png(rows: list[dict[str, Any]]) -> bytes | None:
    """Loss and top-1 accuracy per epoch, training and validation; None without epoch rows."""
    if not rows:
        return None
    epochs = [r["epoch"] for r in rows]
    fig = Figure(figsize=(9, 3.4))
    panels = (("loss", "loss", 1.0), ("accuracy", "top-1 accuracy (%)", 100.0))
    for ax, (metric, title, scale) in zip(fig.subplots(1, 2), panels, strict=True):
        for key, label, style in ((metric, "train", "-o"), (f"val_{metric}", "validation", "-s")):
            points = [
                (e, r[key] * scale)
                for e, r in zip(epochs, rows, strict=True)
                if r.get(key) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return _png(fig)


def confusion_png(report: dict[str, Any]) -> bytes:
    """The test confusion matrix, rows normalised to recall, classes in the report's order
    (often-confused classes side by side); counts in the cells for small matrices."""
    order = report.get("order") or list(range(len(report["class_names"])))
    counts = np.asarray(report["confusion"], dtype=float)[np.ix_(order, order)]
    names = [report["class_names"][i] for i in order]
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(names)
    side = min(max(4.0, 0.38 * n + 2.0), 22.0)
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    size = 9 if n <= ANNOTATE_UP_TO else max(4, 9 - n // 20)
    ax.set_xticks(range(n), names, rotation=90, fontsize=size)
    ax.set_yticks(range(n), names, fontsize=size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion on the test split ({int(counts.sum())} images)")
    if n <= ANNOTATE_UP_TO:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    colour = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(
                        j,
                        i,
                        f"{int(counts[i, j])}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=colour,
                    )
    return _png(fig)
