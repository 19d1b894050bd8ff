"""Plotly figures built from run-store metric rows; no Streamlit here, so tests need no browser.

Rows are the dicts `RunStore.metrics` returns. Step rows carry the running training averages
inside an epoch; epoch rows carry the epoch's training and validation values. The x axis is
in epochs everywhere: step rows sit at fractional epochs, so a live curve grows smoothly and
joins the epoch points.

Rows the store could not read are not in them (`MetricRows.skipped` says why); the figures
say how many were left out, and any value that is not a finite number is not drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from studio.runs.store import CORE_METRICS, ROW_FIELDS

PANELS = (
    ("loss", "Loss"),
    ("accuracy", "Accuracy"),
    ("top5", "Top-5 accuracy"),
)
# A captioning run records no accuracy or top-5: its token accuracy, and validation BLEU-4
# and CIDEr-D of whole captions (scored at each epoch's end, so validation points only).
CAPTION_PANELS = (
    ("loss", "Loss"),
    ("token_accuracy", "Token accuracy"),
    ("bleu4", "Validation BLEU-4"),
    ("cider", "Validation CIDEr-D"),
)
# Fractions drawn as percentages from 0 to 100 %; loss and the caption scores start at 0.
PERCENT_METRICS = {"accuracy", "top5", "token_accuracy"}
# The least each caption score's axis spans, so near-zero scores read as near zero.
SCORE_SPANS = {"bleu4": 0.1, "cider": 0.5}


def panels_for(task: str) -> tuple[tuple[str, str], ...]:
    """The curves a run of `task` (`classify`, `caption`) has."""
    return CAPTION_PANELS if task == "caption" else PANELS


def _hover(metric: str) -> str:
    if metric in PERCENT_METRICS:
        return "%{y:.2%}"
    return "%{y:.4f}" if metric == "loss" else "%{y:.3f}"


TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
# Distinct, colour-blind-friendly hues for overlaid runs (Okabe-Ito, then Tableau).
RUN_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8c564b",
    "#7f7f7f",
)
# Below this many points a line is hard to see, so markers are drawn as well.
MARKERS_BELOW = 40


@dataclass
class Series:
    """One curve: x in epochs, y values, None where the metric was not recorded."""

    x: list[float]
    y: list[float | None]

    def __len__(self) -> int:
        return sum(v is not None for v in self.y)


def _finite(value: object) -> float | None:
    """A point's value, or None (a gap) for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def skipped_note(rows: Sequence[dict]) -> str | None:
    """Words for the metric rows the store left out of `rows`, or None when none were."""
    skipped = getattr(rows, "skipped", None)
    if not skipped:
        return None
    return (
        f"{len(skipped)} metric row(s) could not be read and are not drawn ({skipped[0]}"
        + (", ..." if len(skipped) > 1 else "")
        + ")"
    )


def _warn(fig: go.Figure, notes: Iterable[str]) -> None:
    text = "<br>".join(notes)
    if text:
        fig.add_annotation(
            text=f"⚠ {text}",
            xref="paper",
            yref="paper",
            x=0,
            y=-0.22,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            align="left",
            font={"color": "#b45309", "size": 12},
        )
        fig.update_layout(margin={"b": 60})


def train_series(rows: Sequence[dict], metric: str, steps_per_epoch: int | None = None) -> Series:
    """Training curve from step and epoch rows, ordered by fractional epoch.

    A step row at (epoch e, step s) sits at x = e - 1 + s / steps_per_epoch; an epoch row at
    x = e. Step rows of an epoch that already has its epoch row are dropped, since the epoch
    value supersedes them; this keeps a finished run's curve clean.
    """
    finished = {r["epoch"] for r in rows if r["kind"] == "epoch"}
    spe = steps_per_epoch or max((r["step"] for r in rows if r["kind"] == "step"), default=1)
    points: dict[float, float | None] = {}
    for row in rows:
        if row["kind"] == "epoch":
            x = float(row["epoch"])
        elif row["epoch"] in finished:
            continue
        else:
            x = row["epoch"] - 1 + min(row["step"], spe) / max(spe, 1)
        points[x] = _finite(row.get(metric))
    xs = sorted(points)
    return Series(xs, [points[x] for x in xs])


def val_series(rows: Sequence[dict], metric: str) -> Series:
    """Validation curve: one point per epoch row."""
    epoch_rows = sorted((r for r in rows if r["kind"] == "epoch"), key=lambda r: r["epoch"])
    return Series(
        [float(r["epoch"]) for r in epoch_rows],
        [_finite(r.get(f"val_{metric}")) for r in epoch_rows],
    )


def smoothed(series: Series, weight: float) -> Series:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points
    are not pulled towards zero; gaps stay gaps. `weight` 0 leaves the curve as it is."""
    if weight <= 0:
        return series
    out: list[float | None] = []
    average, norm = 0.0, 0.0
    for value in series.y:
        if value is None:
            out.append(None)
            continue
        average = weight * average + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out.append(average / norm)
    return Series(series.x, out)


def has_step_points(rows: Sequence[dict]) -> bool:
    """Whether a run's training curve shows per-step rows (those of an unfinished epoch)."""
    finished = {r["epoch"] for r in rows if r["kind"] == "epoch"}
    return any(r["kind"] == "step" and r["epoch"] not in finished for r in rows)


def epoch_range(epochs_total: int) -> list[float]:
    """An x range with room past the last epoch, so its marker is not cut in half."""
    return [0, epochs_total + max(0.04 * epochs_total, 0.12)]


def epoch_axis(epochs_total: int) -> dict:
    """An epoch x axis: `epoch_range`, and whole epochs as ticks where Plotly would put
    halves between few of them (0, 0.5, 1, ... in a seen screenshot)."""
    axis: dict = {"range": epoch_range(epochs_total)}
    if epochs_total <= 10:
        axis["dtick"] = 1
    return axis


def _mode(series: Series) -> str:
    return "lines+markers" if len(series) < MARKERS_BELOW else "lines"


def _base_figure(height: int, panels: Sequence[tuple[str, str]] = PANELS) -> go.Figure:
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[title for _, title in panels],
        horizontal_spacing=0.07 if len(panels) <= 3 else 0.05,
    )
    for col, (metric, _) in enumerate(panels, start=1):
        fig.update_xaxes(title_text="epoch", rangemode="tozero", row=1, col=col)
        if metric in PERCENT_METRICS:
            fig.update_yaxes(tickformat=".0%", range=[0, 1.02], row=1, col=col)
        elif metric in SCORE_SPANS:
            # An early BLEU-4 of 0.00001 would otherwise be drawn on a micro scale ("5µ").
            fig.update_yaxes(
                rangemode="tozero",
                tickformat=".2f",
                autorangeoptions={"include": [0, SCORE_SPANS[metric]]},
                row=1,
                col=col,
            )
        else:
            fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "xanchor": "left", "x": 0},
        hovermode="x unified",
    )
    return fig


def run_figure(
    rows: Sequence[dict],
    steps_per_epoch: int | None = None,
    epochs_total: int | None = None,
    revision: str | None = None,
    height: int = 330,
    smoothing: float = 0.0,
    task: str = "classify",
) -> go.Figure:
    """Train and validation curves of one run, side by side: loss, accuracy and top-5 of a
    classifier, loss, token accuracy, BLEU-4 and CIDEr-D of a captioner (`task`).

    `revision` keeps the user's zoom across live refreshes (Plotly's uirevision); pass the
    run id. `epochs_total` fixes the x range so the curve grows into a stable frame;
    `smoothing` (0..1) smooths the training curve, whose step points are noisy.
    """
    panels = panels_for(task)
    fig = _base_figure(height, panels)
    for col, (metric, _) in enumerate(panels, start=1):
        train = smoothed(train_series(rows, metric, steps_per_epoch), smoothing)
        val = val_series(rows, metric)
        for name, series, color in (("train", train, TRAIN_COLOR), ("validation", val, VAL_COLOR)):
            fig.add_trace(
                go.Scatter(
                    x=series.x,
                    y=series.y,
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    mode=_mode(series),
                    line={"color": color, "width": 2},
                    marker={"size": 6},
                    connectgaps=True,
                    hovertemplate=_hover(metric),
                ),
                row=1,
                col=col,
            )
        if epochs_total:
            fig.update_xaxes(**epoch_axis(epochs_total), row=1, col=col)
    if revision:
        fig.update_layout(uirevision=revision)
    _warn(fig, filter(None, [skipped_note(rows)]))
    return fig


def pace_figure(
    rows: Sequence[dict],
    steps_per_epoch: int | None = None,
    epochs_total: int | None = None,
    revision: str | None = None,
    height: int = 240,
) -> go.Figure | None:
    """Learning rate (epoch rows) and training images/s (step and epoch rows) over epochs;
    None while neither was recorded."""
    lr = val_series([{**r, "val_lr": r.get("lr")} for r in rows], "lr")
    speed = train_series(rows, "images_per_s", steps_per_epoch)
    if not len(lr) and not len(speed):
        return None
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["Learning rate", "Images/s"], horizontal_spacing=0.1
    )
    for col, series, fmt in ((1, lr, "%{y:.3g}"), (2, speed, "%{y:,.0f} img/s")):
        fig.add_trace(
            go.Scatter(
                x=series.x,
                y=series.y,
                mode=_mode(series),
                line={"color": TRAIN_COLOR, "width": 2},
                marker={"size": 6},
                connectgaps=True,
                showlegend=False,
                hovertemplate=fmt + "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="epoch", rangemode="tozero", row=1, col=col)
        if epochs_total:
            fig.update_xaxes(**epoch_axis(epochs_total), row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_yaxes(exponentformat="e", row=1, col=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    if revision:
        fig.update_layout(uirevision=revision)
    return fig


@dataclass
class RunCurves:
    """What the comparison figure needs of one run."""

    label: str
    rows: Sequence[dict]


def compare_figure(
    runs: Sequence[RunCurves], show_train: bool = False, height: int = 380, task: str = "classify"
) -> go.Figure:
    """Overlay several runs of one `task`: validation curves solid, training curves dashed, a
    colour per run; the legend names each line's run and which of the two it is."""
    panels = panels_for(task)
    fig = _base_figure(height, panels)
    for index, run in enumerate(runs):
        color = RUN_COLORS[index % len(RUN_COLORS)]
        for col, (metric, _) in enumerate(panels, start=1):
            curves = [("val", val_series(run.rows, metric), "solid")]
            if show_train:
                epoch_rows = [r for r in run.rows if r["kind"] == "epoch"]
                curves.append(("train", train_series(epoch_rows, metric), "dash"))
            for kind, series, dash in curves:
                fig.add_trace(
                    go.Scatter(
                        x=series.x,
                        y=series.y,
                        name=f"{run.label} · {'validation' if kind == 'val' else 'training'}",
                        legendgroup=f"{run.label}-{kind}",
                        showlegend=col == 1,
                        mode=_mode(series),
                        line={"color": color, "width": 2, "dash": dash},
                        marker={"size": 6},
                        connectgaps=True,
                        hovertemplate=_hover(metric),
                    ),
                    row=1,
                    col=col,
                )
    fig.update_layout(hovermode="closest")
    _warn(fig, (f"{run.label}: {note}" for run in runs if (note := skipped_note(run.rows))))
    return fig


SPLIT_COLORS = {"images": "#4c78a8", "train": "#4c78a8", "val": "#f58518", "test": "#54a24b"}


def class_counts_figure(rows: Sequence[dict], height: int = 170) -> go.Figure:
    """Images per class, stacked by split; `rows` as DatasetPreview.count_rows() gives them."""
    fig = go.Figure()
    splits = [k for k in (rows[0] if rows else {}) if k != "class"]
    for split in splits:
        fig.add_trace(
            go.Bar(
                x=[r["class"] for r in rows],
                y=[r[split] for r in rows],
                name=split,
                marker_color=SPLIT_COLORS.get(split),
                hovertemplate="%{x}: %{y:,} " + split + "<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        showlegend=len(splits) > 1,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        xaxis={"type": "category", "tickangle": -45 if len(rows) > 12 else 0},
        yaxis={"title": {"text": "images"}},
    )
    return fig


# `run` is the run's label as the pages show it, `time` an ISO 8601 local time with its UTC
# offset; `unix_time` keeps the raw seconds for scripts that compute with them.
CSV_COLUMNS = (
    "run",
    "run_id",
    *(f for f in ROW_FIELDS if f not in ("id", "run_id", "time")),
    "time",
    "unix_time",
    *CORE_METRICS,
)


def iso_time(seconds: object) -> str:
    """A store timestamp as `2026-11-29T13:39:31+00:00`; blank for anything else."""
    from datetime import datetime

    value = _finite(seconds)
    if value is None:
        return ""
    return datetime.fromtimestamp(value).astimezone().isoformat(timespec="seconds")


def metrics_csv(rows: Iterable[dict], labels: Mapping[str, str] | None = None) -> str:
    """Metric rows as CSV text, one row per store row: the fixed columns, then any other
    metric the runs recorded (top-3, loss parts, ...) in name order. `labels` names each
    run id as the pages do (the id stands in for a run it lacks)."""
    import csv

    rows = list(rows)
    labels = labels or {}
    extra = sorted({k for row in rows for k in row} - {*CSV_COLUMNS, "id"})
    columns = [*CSV_COLUMNS, *extra]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {k: ("" if row.get(k) is None else row.get(k)) for k in columns}
        run_id = row.get("run_id")
        cells["run"] = labels.get(run_id, run_id or "")
        cells["time"] = iso_time(row.get("time"))
        cells["unix_time"] = "" if row.get("time") is None else row["time"]
        writer.writerow(cells)
    return out.getvalue()
