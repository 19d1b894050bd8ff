"""The Compare section's tables: one summary row per run and the config fields that differ.
No Streamlit here; cells are already words, so a missing value reads "—", never "None"."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.config.diff import config_diff
from studio.evaluation.compare import accuracy_difference
from studio.evaluation.report import current_report
from studio.runs.naming import run_name
from studio.runs.store import Run, RunNotFound, RunStore
from studio.ui.runinfo import elapsed_seconds, format_duration, status_text

DASH = "—"


@dataclass
class Compared:
    """What the summary needs of one run: the run, its epoch rows, its current evaluation
    report (None when it has none of its current model)."""

    run: Run
    epochs: Sequence[dict]
    report: dict[str, Any] | None = None


def compared_runs(store: RunStore, runs: Sequence[Run]) -> list[Compared]:
    """Each run's epoch rows and, for a completed run, its evaluation report when that is
    of the model the run holds now (a stale one would compare the wrong model)."""
    items = []
    for stale in runs:
        try:  # the Compare section refreshes while a run trains: its status and time move on
            run = store.get(stale.id)
        except RunNotFound:  # deleted meanwhile, elsewhere: what the page already has
            run = stale
        report = None
        if run.status == "completed" and run.model_sha256 and not run.files_missing:
            report = current_report(store.run_dir(run.id), run.model_sha256)
        items.append(Compared(run, store.metrics(run.id, kind="epoch"), report))
    return items


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f} %"


def _points(delta: float) -> str:
    return f"{100 * delta:+.1f} pts"


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def best_val(epochs: Sequence[dict]) -> float | None:
    values = [v for r in epochs if (v := _number(r.get("val_accuracy"))) is not None]
    return max(values, default=None)


def images_per_s(epochs: Sequence[dict]) -> float | None:
    """The median epoch speed, leaving out the first epoch (it includes graph tracing)
    unless it is the only one."""
    speeds = [(r["epoch"], v) for r in epochs if (v := _number(r.get("images_per_s")))]
    later = [s for e, s in speeds if e >= 2] or [s for _, s in speeds]
    return statistics.median(later) if later else None


def _test_delta(first: Compared, other: Compared) -> str:
    """Test top-1 of `other` minus the first run's; with the 95 % noise band when both have
    a current evaluation report, since only that says whether the gap means anything."""
    if first.report and other.report:
        diff = accuracy_difference(first.report, other.report)
        verdict = "beyond noise" if diff["beyond_noise"] else "within noise"
        return f"{_points(diff['delta'])}, {verdict} (±{100 * diff['noise95']:.1f})"
    a, b = _test_acc(first), _test_acc(other)
    return DASH if a is None or b is None else f"{_points(b - a)}, noise unknown"


def _test_acc(item: Compared) -> float | None:
    if item.report:
        return item.report["accuracy"]
    return (item.run.test or {}).get("accuracy")


def summary_rows(items: Sequence[Compared], now: float | None = None) -> list[dict[str, str]]:
    """One row per run, in the order selected; differences are to the first."""
    if not items:
        return []
    first = items[0]
    first_val = best_val(first.epochs)
    rows = []
    for index, item in enumerate(items):
        val = best_val(item.epochs)
        speed = images_per_s(item.epochs)
        if index == 0:
            val_delta = test_delta = "(reference)"
        else:
            val_delta = DASH if val is None or first_val is None else _points(val - first_val)
            test_delta = _test_delta(first, item)
        rows.append(
            {
                "Run": run_name(item.run),
                "Status": status_text(item.run),
                "Best val acc": _pct(val),
                "Δ val vs first": val_delta,
                "Test acc": _pct(_test_acc(item)),
                "Δ test vs first": test_delta,
                "Duration": format_duration(elapsed_seconds(item.run, now)),
                "Images/s": DASH if speed is None else f"{speed:,.0f}",
            }
        )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false and [128, 64] as a config file spells them


def diff_rows(runs: Sequence[Run]) -> list[dict[str, str]]:
    """One row per config field whose values differ, a column per run (its label)."""
    labels = [run_name(r) for r in runs]
    configs: list[Mapping[str, Any]] = [r.config for r in runs]
    return [
        {"Field": name, **{label: _cell(v) for label, v in zip(labels, values, strict=True)}}
        for name, values in config_diff(configs)
    ]
