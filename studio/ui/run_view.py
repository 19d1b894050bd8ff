"""A run's own view beyond its curves: what it is (config, size, data, device) and where to go
next from it (Evaluate, Patches, Demo, Compare, Train again, Export), one click each; only
the pages that can take a run of its task are offered."""

from __future__ import annotations

import shlex
from pathlib import Path

import streamlit as st

from studio.config.variants import VARIANTS
from studio.evaluation.caption_report import current_caption_report
from studio.runs import artifacts, phases
from studio.runs.artifacts import run_task
from studio.runs.naming import run_name
from studio.runs.store import Run, RunStore
from studio.ui.runinfo import (
    DASH,
    Progress,
    config_groups,
    run_progress,
    shown,
    split_sizes,
    startup_phase,
)
from studio.ui.text import md_text

# How many other runs the Compare popover offers (same dataset first, then the newest).
COMPARE_CHOICES = 8
# The pages (and the Runs page's export panel) that can take a finished run of each task.
# Captioning runs are trained, watched, compared and trained again; evaluating, attention
# maps, the demo and exports read class probabilities today.
NEXT_STEPS = {
    "classify": frozenset({"evaluate", "patches", "demo", "export"}),
    "caption": frozenset({"demo"}),
}


def offers(run: Run, step: str) -> bool:
    """Whether `step` (`evaluate`, `patches`, `demo`, `export`) can take this run's task."""
    return step in NEXT_STEPS.get(run_task(run), frozenset())


def usable(run: Run) -> bool:
    """Its model may be opened: completed, with a checksum, its files in place."""
    return (
        run.status == "completed"
        and bool(run.model_sha256)
        and not run.damage
        and not run.files_missing
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _parameters(model_path: str, sha256: str) -> int | None:
    del sha256  # part of the cache key only: a retrained model has other weights
    return artifacts.parameter_count(Path(model_path))


def startup_marks(store: RunStore, run: Run) -> list[tuple[str, float]]:
    """The worker's phase lines from the run's log (read only before its first metric row)."""
    return phases.read(store.run_dir(run.id) / artifacts.WORKER_LOG)


def live_progress(store: RunStore, run: Run, rows: list[dict] | None = None) -> Progress:
    """The run's progress line; before its first step row, the start-up phase it is in, from
    its worker.log, with seconds (`run` read with its latest rows)."""
    phase = None
    if run.status == "running" and not run.latest.get("step"):
        phase = startup_phase(startup_marks(store, run))
    return run_progress(run, rows, phase)


def run_facts(store: RunStore, run: Run) -> None:
    """An expander with the run's facts and its config, grouped, only the fields it uses."""
    folder = store.run_dir(run.id)
    with st.expander("What this run is: settings, size, data, device", icon=":material/info:"):
        params = None
        if usable(run):
            params = _parameters(str(folder / artifacts.FINAL_MODEL), run.model_sha256)
        report = artifacts.read_dataset_report(folder) or {}
        sizes = split_sizes(report)
        device = device_parts(run.device)
        asked = run.config.get("train", {}).get("precision")
        task = run_task(run)
        facts = {
            "Parameters": DASH if params is None else f"{params:,}",
            "Dataset": shown(report.get("source") or run.dataset),
            "Split sizes": " · ".join(f"{k} {v:,}" for k, v in sizes.items()) or DASH,
        }
        if task == "caption":
            facts |= caption_facts(store, run)
        facts |= {
            "Backend": shown(device.get("backend")),
            "Device": shown(device.get("device")),
            "Precision": shown(device.get("precision") or asked),
            "Steps": shown(device.get("steps")),
        }
        st.markdown("  \n".join(f"**{k}:** {md_text(v)}" for k, v in facts.items()))
        board = folder / artifacts.TENSORBOARD
        if board.is_dir():
            st.caption("TensorBoard logs of this run; open them with:")
            st.code(f"tensorboard --logdir {shlex.quote(str(board))}", language="bash")
        groups = config_groups(run.config, run.variant, task)
        for column, (title, fields) in zip(st.columns(len(groups) or 1), groups, strict=False):
            with column:
                st.markdown(f"**{title}**")
                st.dataframe(
                    [{"field": name, "value": value} for name, value in fields],
                    hide_index=True,
                    width="stretch",
                )


def caption_facts(store: RunStore, run: Run) -> dict[str, str]:
    """A captioning run's test scores (from its report of the current model, else the store's
    copy) and the beams they were written with."""
    report = None
    if usable(run):
        report = current_caption_report(store.run_dir(run.id), run.model_sha256)
    scores = (report or {}).get("scores") or run.test or {}
    bleu4, cider = scores.get("bleu4"), scores.get("cider")
    images = scores.get("images")
    beams = (report or {}).get("beam_width") or run.config.get("caption", {}).get("beam_width")
    on = f" ({images:,} test images, beam width {beams})" if isinstance(images, int) else ""
    return {
        "Test BLEU-4": DASH if bleu4 is None else f"{bleu4:.3f}{on}",
        "Test CIDEr-D": DASH if cider is None else f"{cider:.3f}",
    }


def device_parts(device: str | None) -> dict[str, str]:
    """The trainer's info line (`tensorflow on CPU, mixed_bfloat16, no XLA`) in its parts;
    an older or unexpected line is kept whole as the device."""
    if not device:
        return {}
    head, *rest = device.split(", ", 2)
    backend, on, where = head.partition(" on ")
    if not on:
        return {"device": device}
    names = ("backend", "device", "precision", "steps")
    return dict(zip(names, [backend, where, *rest], strict=False))


def where_next(store: RunStore, run: Run, on_runs_page: bool) -> None:
    """One link per next step that applies to this run."""
    ok = usable(run)
    with st.container(horizontal=True, key=f"next-{run.id}"):
        if ok and offers(run, "evaluate"):
            st.page_link(
                "pages/evaluate.py",
                label="Evaluate",
                icon=":material/analytics:",
                query_params={"run": run.id},
                help="Per class, confusions, mistakes, calibration",
            )
        spec = VARIANTS.get(run.variant)
        if ok and offers(run, "patches") and spec is not None and spec.attention_maps:
            st.page_link(
                "pages/patches.py",
                label="Patches",
                icon=":material/grid_view:",
                query_params={"run": run.id},
                help="Its patches and what it attends to",
            )
        if ok and offers(run, "demo"):
            st.page_link(
                "pages/demo.py",
                label="Demo",
                icon=":material/image_search:",
                query_params={"run": run.id},
                help="Try it on your own images",
            )
        others = _comparable(store, run)
        if others:
            with st.popover("Compare with…", icon=":material/compare_arrows:"):
                for other in others:
                    st.page_link(
                        "pages/runs.py",
                        label=md_text(run_name(other)),
                        query_params={"compare": f"{run.id},{other.id}"},
                    )
        if not run.damage:
            st.page_link(
                "pages/train.py",
                label="Train again with these settings",
                icon=":material/replay:",
                query_params={"from": run.id},
            )
        if ok and offers(run, "export") and not on_runs_page:
            st.page_link(
                "pages/runs.py",
                label="Export",
                icon=":material/file_export:",
                query_params={"run": run.id},
                help="As .keras, SavedModel, ONNX or LiteRT, on the Runs page",
            )


def _comparable(store: RunStore, run: Run) -> list[Run]:
    # A captioner's curves and scores are not a classifier's: only runs of its own task.
    task = run_task(run)
    others = [
        r for r in store.list_runs() if r.id != run.id and not r.damage and run_task(r) == task
    ]
    others.sort(key=lambda r: (r.dataset != run.dataset, -r.seq))
    return others[:COMPARE_CHOICES]
