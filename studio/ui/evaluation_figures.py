"""Plotly figures of an evaluation report (`studio.evaluation`): the confusion matrix, the
reliability diagram and two runs' per-class differences. No Streamlit, so tests need no
browser."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

# Class names on the axes stay readable up to this many classes; beyond, hover tells them.
LABELLED_UP_TO = 40


def confusion_values(report: dict[str, Any], normalise: bool, grouped: bool) -> tuple:
    """(matrix, class names) as drawn: counts or rows as shares of the true class, in the
    report's confusion order when `grouped` (confused classes side by side)."""
    names = report["class_names"]
    matrix = np.asarray(report["confusion"], dtype=np.float64)
    order = report["order"] if grouped else list(range(len(names)))
    matrix = matrix[np.ix_(order, order)]
    if normalise:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    return matrix, [names[i] for i in order]


def confusion_figure(
    report: dict[str, Any], normalise: bool = False, grouped: bool = True
) -> go.Figure:
    """Heatmap, true class down the side, predicted along the top, as most tools draw it."""
    matrix, names = confusion_values(report, normalise, grouped)
    counts, _ = confusion_values(report, False, grouped)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(names)
    hover = [
        [
            f"true {names[i]}<br>predicted {names[j]}<br>{int(counts[i, j])} images "
            f"({100 * share[i, j]:.1f}% of {names[i]})"
            for j in range(n)
        ]
        for i in range(n)
    ]
    heatmap = go.Heatmap(
        z=matrix,
        x=names,
        y=names,
        colorscale="Blues",
        hovertext=hover,
        hoverinfo="text",
        colorbar={"title": "share of row" if normalise else "images"},
        zmin=0,
        zmax=1 if normalise else None,
        xgap=1 if n <= LABELLED_UP_TO else 0,
        ygap=1 if n <= LABELLED_UP_TO else 0,
    )
    if n <= 12:
        heatmap.update(texttemplate="%{z:.0%}" if normalise else "%{z:d}", textfont={"size": 11})
    fig = go.Figure(heatmap)
    side = max(420, min(900, 16 * n + 160))
    labelled = n <= LABELLED_UP_TO
    fig.update_layout(
        height=side,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "predicted", "side": "top", "showticklabels": labelled, "tickangle": -45},
        yaxis={"title": "true", "autorange": "reversed", "showticklabels": labelled},
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def reliability_figure(report: dict[str, Any]) -> go.Figure:
    """Accuracy per confidence bin against the diagonal a calibrated model would follow."""
    cal = report["calibration"]
    bins = [b for b in cal["bins"] if b["count"]]
    width = cal["bins"][0]["upper"] - cal["bins"][0]["lower"]
    fig = go.Figure()
    fig.add_bar(
        x=[(b["lower"] + b["upper"]) / 2 for b in bins],
        y=[b["accuracy"] for b in bins],
        width=width * 0.95,
        name="accuracy in bin",
        marker_color="#0072B2",
        customdata=[[b["count"], b["confidence"]] for b in bins],
        hovertemplate="confidence %{customdata[1]:.2f}<br>accuracy %{y:.2f}"
        "<br>%{customdata[0]} images<extra></extra>",
    )
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name="perfectly calibrated",
        line={"dash": "dash", "color": "#7f7f7f"},
    )
    fig.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title=f"Expected calibration error {100 * cal['ece']:.1f} points",
        xaxis={"title": "confidence of the top class", "range": [0, 1]},
        yaxis={"title": "share correct", "range": [0, 1]},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def deltas_figure(rows: list[dict[str, Any]], metric: str = "f1") -> go.Figure:
    """Per-class change B - A of `metric`, largest gains on top."""
    rows = sorted(rows, key=lambda r: r[f"delta_{metric}"])
    values = [100 * r[f"delta_{metric}"] for r in rows]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[r["class"] for r in rows],
            orientation="h",
            marker_color=["#009E73" if v >= 0 else "#D55E00" for v in values],
            hovertemplate="%{y}: %{x:+.1f} points<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(300, min(1600, 18 * len(rows) + 120)),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": f"{metric} of B minus A (points)", "zeroline": True},
        yaxis={"type": "category", "showticklabels": len(rows) <= 60},
    )
    return fig
