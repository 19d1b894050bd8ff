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
from studio.evaluation.caption_report import current_caption_report
from studio.evaluation.compare import accuracy_difference
from studio.evaluation.report import current_report
from studio.runs.artifacts import run_task
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
            read = current_caption_report if run_task(run) == "caption" else current_report
            report = read(store.run_dir(run.id), run.model_sha256)
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


def mixed_tasks(runs: Sequence[Run]) -> str | None:
    """Why runs of different tasks cannot be compared, or None when they share one."""
    tasks = {run_task(r) for r in runs}
    if len(tasks) < 2:
        return None
    captioners = [run_name(r) for r in runs if run_task(r) == "caption"]
    return (
        f"These runs cannot be compared: {', '.join(captioners)} "
        f"{'captions' if len(captioners) == 1 else 'caption'} images and the others classify "
        "them. A captioner is scored by its token accuracy, BLEU-4 and CIDEr-D of whole "
        "captions, a classifier by its accuracy: no curve or score of one has a counterpart "
        "in the other. Select runs of one task."
    )


def _score(value: Any, digits: int = 3) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:.{digits}f}"


def _best(epochs: Sequence[dict], metric: str) -> float | None:
    values = [v for r in epochs if (v := _number(r.get(metric))) is not None]
    return max(values, default=None)


def _test_scores(item: Compared) -> dict[str, Any]:
    if item.report:
        return item.report.get("scores") or {}
    return item.run.test or {}


def caption_summary_rows(
    items: Sequence[Compared], now: float | None = None
) -> list[dict[str, str]]:
    """One row per captioning run, in the order selected: best validation BLEU-4 and CIDEr-D,
    the test scores, and BLEU-4 differences to the first run."""
    if not items:
        return []
    first_val = _best(items[0].epochs, "val_bleu4")
    first_test = _number(_test_scores(items[0]).get("bleu4"))
    rows = []
    for index, item in enumerate(items):
        val = _best(item.epochs, "val_bleu4")
        test = _test_scores(item)
        bleu4 = _number(test.get("bleu4"))
        speed = images_per_s(item.epochs)
        if index == 0:
            val_delta = test_delta = "(reference)"
        else:
            val_delta = DASH if val is None or first_val is None else f"{val - first_val:+.3f}"
            test_delta = (
                DASH if bleu4 is None or first_test is None else f"{bleu4 - first_test:+.3f}"
            )
        rows.append(
            {
                "Run": run_name(item.run),
                "Status": status_text(item.run),
                "Best val B4": _score(val),
                "Best val CIDEr": _score(_best(item.epochs, "val_cider")),
                "Δ val B4 vs first": val_delta,
                "Test B4": _score(bleu4),
                "Test CIDEr": _score(test.get("cider")),
                "Δ test B4 vs first": test_delta,
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
