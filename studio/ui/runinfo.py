"""What the pages say about a run: progress, ETA, status line, table rows. No Streamlit here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from studio.config.variants import VARIANTS, variant_label
from studio.runs.naming import dataset_label
from studio.runs.store import ACTIVE, RESUMABLE, Run
from studio.ui.forms import FIELDS


def format_duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `1h02m`; a dash for nothing."""
    if seconds is None or seconds < 0:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class Progress:
    """Where a run stands: a 0..1 fraction and the words for the progress bar."""

    fraction: float
    text: str
    eta_s: float | None = None


def recent_speed(rows: list[dict], batch_size: int) -> float | None:
    """Images/s between the last two step rows of the current epoch.

    The worker's own figure averages from the start of the epoch, so in the first epoch it
    includes graph tracing and reads far too slow; the latest interval does not.
    """
    steps = [r for r in rows if r["kind"] == "step"]
    if len(steps) < 2 or steps[-1]["epoch"] != steps[-2]["epoch"]:
        return None
    last, before = steps[-1], steps[-2]
    seconds = last["time"] - before["time"]
    if seconds <= 0 or last["step"] <= before["step"]:
        return None
    return (last["step"] - before["step"]) * batch_size / seconds


def run_progress(run: Run, rows: list[dict] | None = None, phase: str | None = None) -> Progress:
    """Progress of a run from its latest step and epoch rows (`store.get(..., with_latest=True)`).

    With the run's metric rows, speed and ETA come from the most recent steps; `phase` (from
    `startup_phase`) names what a worker does before its first row.
    """
    total = max(run.epochs_total, 1)
    spe = run.steps_per_epoch
    step_row = run.latest.get("step")
    epoch_row = run.latest.get("epoch")
    if run.status == "completed":
        return Progress(1.0, f"Epoch {run.epochs_done}/{run.epochs_total} · done")
    if run.status == "queued":
        return Progress(run.epochs_done / total, "Waiting to start…")
    done = run.epochs_done
    epoch, step = done, None
    if step_row and step_row["epoch"] > done:
        epoch, step = step_row["epoch"], step_row["step"]
    fraction = done / total
    if step is not None and spe:
        fraction = (epoch - 1 + min(step, spe) / spe) / total
    parts = [f"Epoch {epoch}/{run.epochs_total}" if epoch else f"Epoch 0/{run.epochs_total}"]
    if step is not None:
        parts.append(f"step {step}/{spe}" if spe else f"step {step}")
    batch = run.config.get("train", {}).get("batch_size", 1)
    speed = recent_speed(rows, batch) if rows and step is not None else None
    if speed is None and _honest(epoch_row):
        speed = epoch_row.get("images_per_s")
    eta = None
    if run.status == "running":
        if speed:
            parts.append(f"{speed:,.0f} img/s")
        eta = _eta_seconds(run, fraction, speed)
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        elif not step_row:
            parts.append(phase or "starting the worker…")
        else:
            parts.append("estimating the time left…")
    return Progress(min(max(fraction, 0.0), 1.0), " · ".join(parts), eta)


def _honest(epoch_row: dict | None) -> bool:
    """The first epoch's timings include tracing the training graph; later ones do not."""
    return bool(epoch_row) and epoch_row.get("epoch", 0) >= 2


def _eta_seconds(run: Run, fraction: float, speed: float | None) -> float | None:
    remaining_epochs = (1.0 - fraction) * run.epochs_total
    epoch_row = run.latest.get("epoch")
    # A whole epoch's time includes validation, so it predicts better than raw step speed.
    if _honest(epoch_row) and epoch_row.get("epoch_seconds"):
        return remaining_epochs * epoch_row["epoch_seconds"]
    if speed and run.steps_per_epoch:
        batch = run.config.get("train", {}).get("batch_size", 1)
        return remaining_epochs * run.steps_per_epoch * batch / speed
    return None


@dataclass
class StatusLine:
    """A status message and how loudly to show it: info, success, warning or error."""

    level: str
    text: str


def status_line(run: Run, queue_position: int | None = None) -> StatusLine:
    """The run's status with its reason, in words a person reads at a glance."""
    if run.damage:
        return StatusLine(
            "error",
            f"Damaged: {run.damage}. It cannot be trained, resumed or evaluated; delete it on "
            "the Runs page.",
        )
    if run.files_missing:
        return StatusLine(
            "warning",
            f"{run.status.capitalize()}, but its files are missing: its folder was deleted or "
            "moved by hand. Put it back to use its model or resume it.",
        )
    reason = f": {run.reason}" if run.reason else ""
    if run.reason and run.reason.lower().startswith(run.status):
        # "Stopped: stopped by the user ..." says it twice (seen in a screenshot).
        reason = run.reason[len(run.status) :]
    if run.status == "running":
        if run.stop_requested:
            return StatusLine("warning", "Stopping at the next batch…")
        return StatusLine("info", f"Running on {run.device}" if run.device else "Running")
    if run.status == "queued":
        if run.stop_requested:
            return StatusLine("warning", "Stopping…")
        if queue_position:
            ahead = "1 run" if queue_position == 1 else f"{queue_position} runs"
            return StatusLine("info", f"Queued: waiting for {ahead} ahead of it to finish")
        return StatusLine("info", "Queued: starting…")
    if run.status == "completed":
        test = run.test or {}
        extra = ""
        if test.get("bleu4") is not None:
            extra = f" · test BLEU-4 {test['bleu4']:.3f}"
            if test.get("cider") is not None:
                extra += f", CIDEr-D {test['cider']:.3f}"
        elif test.get("accuracy") is not None:
            extra = f" · test accuracy {test['accuracy']:.1%}"
            if test.get("top5") is not None:
                extra += f", top-5 {test['top5']:.1%}"
        return StatusLine("success", f"Completed{extra}")
    if run.status == "stopped":
        return StatusLine(
            "warning", f"Stopped{reason}. Resume continues from the last finished epoch."
        )
    if run.status == "interrupted":
        return StatusLine(
            "warning", f"Interrupted{reason}. Resume continues from the last finished epoch."
        )
    return StatusLine("error", f"Failed{reason}")


def queue_position(run: Run, runs: list[Run]) -> int | None:
    """How many queued runs are ahead of a queued run; None for a run that is not queued."""
    if run.status != "queued":
        return None
    return sum(1 for r in runs if r.status in ACTIVE and r.queue_seq < run.queue_seq)


def can_stop(run: Run) -> bool:
    return run.status in ACTIVE and not run.stop_requested


def can_resume(run: Run) -> bool:
    return (
        run.status in RESUMABLE
        and run.epochs_done < run.epochs_total
        and not run.damage
        and not run.files_missing
    )


def status_text(run: Run) -> str:
    """The Status cell: a damaged run, or one whose folder is gone, says so."""
    if run.damage:
        return "damaged"
    return f"{run.status} · files missing" if run.files_missing else run.status


def troubles(run: Run) -> list[str]:
    """What is wrong with a run's stored state, in words, with what to do."""
    found = []
    if run.damage:
        found.append(f"Run {run.id} is damaged: {run.damage}. Delete it to tidy up.")
    if run.files_missing:
        found.append(
            f"Run {run.id}: its files are missing (its folder was deleted or moved by hand). "
            "Put the folder back, or delete the run."
        )
    return found


def elapsed_seconds(run: Run, now: float | None = None) -> float:
    """Training time so far: finished epochs plus the epoch in progress for a running run."""
    seconds = run.train_seconds or 0.0
    if run.status == "running":
        epoch_row = run.latest.get("epoch")
        since = epoch_row["time"] if epoch_row else run.started_at
        if since:
            seconds += max(0.0, (now or time.time()) - since)
    return seconds


# The Runs table's columns of captioning runs' scores, shown when it lists one.
CAPTION_COLUMNS = ("Best val B4", "Test B4", "Test CIDEr")


def table_row(
    run: Run, now: float | None = None, captions: bool = False, accuracy: bool = True
) -> dict[str, Any]:
    """One row of the Runs table; `accuracy` has the classifiers' accuracy columns, `captions`
    the captioners' score columns (a table of both leaves each run's other pair empty)."""
    test = run.test or {}
    best = run.latest.get("best_val_accuracy")
    row = {
        "Run": run.id,
        "Status": status_text(run),
        "Dataset": dataset_label(run.dataset),
        "Model": variant_label(run.variant),
        "Preset": run.preset,
        "Epochs": f"{run.epochs_done}/{run.epochs_total}",
    }
    if accuracy:
        row["Best val acc"] = None if best is None else 100 * best
        row["Test acc"] = None if test.get("accuracy") is None else 100 * test["accuracy"]
    if captions:
        scores = (run.latest.get("best_val_bleu4"), test.get("bleu4"), test.get("cider"))
        row |= dict(zip(CAPTION_COLUMNS, scores, strict=True))
    return row | {
        "Duration": format_duration(elapsed_seconds(run, now)),
        "Started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at)),
    }


def default_watched(runs: list[Run]) -> Run | None:
    """The run a freshly opened Train page shows: a running one, else queued, else the newest."""
    for status in ("running", "queued"):
        active = [r for r in runs if r.status == status]
        if active:
            return max(active, key=lambda r: r.seq)
    return max(runs, key=lambda r: r.seq) if runs else None


# -- what a run is: its config in groups, its start-up phase ------------------------------

DASH = "—"  # how every page shows a value that is missing
CONFIG_GROUPS = (
    ("data", "Data"),
    ("model", "Model"),
    ("augment", "Augmentation"),
    ("train", "Training"),
    ("distill", "Distillation"),
    ("caption", "Caption decoder"),
)
# Config fields only classifiers read, as the form's field table says.
_CLASSIFIER_ONLY = {spec.name for spec in FIELDS if spec.task == "classify"}
# A pretrained backbone brings its own architecture: of the model fields only these apply.
_PRETRAINED_MODEL_FIELDS = {"variant", "pretrained", "freeze_backbone", "head_dropout"}


def shown(value: Any) -> str:
    """A config or fact value as text; a dash for a missing one, never `None`."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v) for v in value) or DASH
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def field_used(variant: str, group: str, name: str, task: str = "classify") -> bool:
    """Whether a config field matters to a `task` run of this variant (an unknown variant
    keeps all of its task's)."""
    if group == "caption":
        return task == "caption"
    if task == "caption" and f"{group}.{name}" in _CLASSIFIER_ONLY:
        return False
    spec = VARIANTS.get(variant)
    if spec is None:
        return True
    if group == "distill":
        return spec.distills
    if group == "model" and spec.pretrained:
        return name in _PRETRAINED_MODEL_FIELDS
    return not (group == "model" and name in ("pretrained", "freeze_backbone"))


def config_groups(
    config: dict[str, Any], variant: str, task: str = "classify"
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(field, value text)]) of the fields a `task` run of this variant uses,
    groups in order."""
    groups = []
    for key, title in CONFIG_GROUPS:
        section = config.get(key)
        if not isinstance(section, dict):
            continue
        fields = [
            (name, shown(value))
            for name, value in section.items()
            if field_used(variant, key, name, task)
        ]
        if fields:
            groups.append((title, fields))
    return groups


def split_sizes(report: dict[str, Any] | None) -> dict[str, int]:
    """Images per split (`train`, `val`, `test`) from a run's dataset report: a classifier's
    class counts, or a captioning set's `counts` of images and captions."""
    report = report or {}
    sizes = {}
    if report.get("task") == "caption":
        counts = report.get("counts") or {}
        for split in ("train", "val", "test"):
            entry = counts.get(split) if isinstance(counts, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("images"), int):
                sizes[split] = entry["images"]
        return sizes
    counts = report.get("class_counts") or {}
    for split in ("train", "val", "test"):
        per_class = counts.get(split)
        if isinstance(per_class, dict):
            sizes[split] = sum(v for v in per_class.values() if isinstance(v, int))
    return sizes


# What a worker does after each phase line it writes (studio.runs.phases).
_AFTER_PHASE = {
    "python-up": "importing TensorFlow and Keras",
    "handed-over": "loading data and building the model",
    "framework-imported": "loading data and building the model",
    "fit-begins": "compiling the first training step",
    "first-step": "writing the first metrics",
}
_ATTEMPT_STARTS = ("python-up", "handed-over")


def startup_phase(marks: list[tuple[str, float]], now: float | None = None) -> str | None:
    """`Compiling the first training step · 12s (34s since start)` from worker.log's phase
    lines, for the latest attempt (a resumed run's log holds earlier ones); None once the first
    metric row is written or when the log says nothing yet."""
    begin = max((i for i, (name, _) in enumerate(marks) if name in _ATTEMPT_STARTS), default=0)
    attempt = marks[begin:]
    if not attempt or attempt[-1][0] not in _AFTER_PHASE:
        return None
    now = time.time() if now is None else now
    name, since = attempt[-1]
    doing = _AFTER_PHASE[name]
    text = f"{doing[:1].upper()}{doing[1:]}… {format_duration(now - since)}"
    if len(attempt) > 1:
        text += f" ({format_duration(now - attempt[0][1])} since the worker started)"
    return text
