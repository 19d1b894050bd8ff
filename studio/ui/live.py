"""The live view of one run: status, progress, Stop / Resume and curves that update on their own.

Everything shown is read from the run store on each refresh, so a closed tab or a restarted
studio loses nothing: the next visit draws the run where it is.
"""

from __future__ import annotations

import streamlit as st

from studio.runs.artifacts import run_task
from studio.runs.checkpoints import cannot_resume
from studio.runs.last_words import retry_batch_size
from studio.runs.launcher import LaunchError, resume
from studio.runs.naming import run_name
from studio.runs.store import ACTIVE, Run, RunNotFound, RunStore
from studio.ui.caption_view import caption_examples
from studio.ui.charts import has_step_points, pace_figure, run_figure
from studio.ui.common import REFRESH_S, show_status
from studio.ui.run_view import live_progress, run_facts, where_next
from studio.ui.runinfo import (
    DASH,
    can_resume,
    can_stop,
    default_watched,
    elapsed_seconds,
    format_duration,
    queue_position,
    status_line,
)
from studio.ui.text import md_text

# The watched run lives in a plain key, never in a widget's key: a browser message that
# was sent before a rerun (a fragment's tick, say) carries the widget's old value and
# would silently overwrite a run the script had just chosen, such as one just started.
WATCHED = "watched_run"


def watch(run_id: str) -> None:
    """Show this run in the Train page's live view from the next rerun on."""
    st.session_state[WATCHED] = run_id


def run_picker(runs: list[Run]) -> str:
    """The "Watching" selectbox; returns the id of the run to draw."""
    by_id = {r.id: r for r in runs}
    watched = st.session_state.get(WATCHED)
    if watched not in by_id:
        watched = default_watched(runs).id
        watch(watched)
    ids = list(by_id)
    # One widget per watched run: when the script picks another run, a new widget shows it,
    # and a stale value sent for the old widget has nothing left to overwrite. No on_change:
    # Streamlit would run it for that stale value too.
    choice = st.selectbox(
        "Watching",
        ids,
        index=ids.index(watched),
        # Labels must not change while a run trains (no status here): the widget keeps
        # its choice by label, and a changed label would snap it back to the first run.
        format_func=lambda rid: run_name(by_id[rid]),
        key=f"watching:{watched}",
    )
    if choice != watched:
        watch(choice)
    return choice


def rerun_when_runs_change(store: RunStore, runs: list[Run]) -> None:
    """Redraw the page when a run appears or goes (started from the CLI or another tab).

    The live panel polls only while its run trains; without this, a page showing a finished
    run, or none, would never learn of a new one.
    """
    known = sorted(r.id for r in runs)

    @st.fragment(run_every=REFRESH_S * 2)
    def watch_store() -> None:
        if sorted(r.id for r in store.list_runs()) != known:
            st.rerun()

    watch_store()


def run_panel(store: RunStore, run_id: str, on_runs_page: bool = False) -> None:
    """Draw a run; while it is queued or running the panel refreshes itself every REFRESH_S.

    `on_runs_page`: the Runs page shows its export panel below, so no link to it here."""
    try:
        status = store.get(run_id).status
    except RunNotFound:
        st.info("This run no longer exists.")
        return
    # A finished run is drawn once, so its chart keeps the user's zoom and costs nothing.
    panel = st.fragment(run_every=REFRESH_S if status in ACTIVE else None)(_panel)
    panel(store, run_id, status, on_runs_page)


def _resume(store: RunStore, run_id: str, **how) -> None:
    """Resume (or retry, or start fresh) and redraw; a refusal is shown, not raised."""
    try:
        resume(store, run_id, **how)
    except LaunchError as exc:
        st.error(md_text(exc))
    else:
        st.rerun()


def _actions(store: RunStore, run: Run) -> None:
    """Only the action that applies is offered: Stop while it trains, Resume once it stopped."""
    if run.status in ACTIVE and st.button(
        "Stop", key=f"stop-{run.id}", icon=":material/stop:", disabled=not can_stop(run)
    ):
        store.request_stop(run.id)
        st.rerun()
    if can_resume(run) and st.button(
        "Resume", key=f"resume-{run.id}", icon=":material/play_arrow:", type="primary"
    ):
        _resume(store, run.id)
    smaller = retry_batch_size(run.reason) if run.status == "failed" else None
    if smaller and st.button(
        f"Retry at batch {smaller}",
        key=f"retry-{run.id}",
        icon=":material/replay:",
        help="Continue from the last checkpoint at half the batch size; the learning-rate "
        "schedule keeps its place by epoch",
    ):
        _resume(store, run.id, batch_size=smaller)
    if cannot_resume(run.reason) and st.button(
        "Start fresh",
        key=f"fresh-{run.id}",
        icon=":material/restart_alt:",
        help="Discard its checkpoints and recorded epochs and train again from epoch 0",
    ):
        _resume(store, run.id, fresh=True)


def _panel(store: RunStore, run_id: str, drawn_status: str, on_runs_page: bool) -> None:
    store.reconcile()
    try:
        run = store.get(run_id, with_latest=True)
    except RunNotFound:
        st.info("This run no longer exists.")
        return
    if run.status != drawn_status:
        # Queued -> running -> ended: redraw the whole page, so run pickers outside this
        # fragment show the new status and an ended run stops polling.
        st.rerun()

    head, buttons = st.columns([5, 2], vertical_alignment="center")
    with head:
        st.subheader(md_text(run_name(run)), anchor=False)
        st.caption(f"Run `{run.id}` · preset {run.preset} · {run.epochs_total} epochs")
    # A read-only store offers no action: each would be refused (the page says why).
    with buttons, st.container(horizontal=True, horizontal_alignment="right"):
        if not store.read_only:
            _actions(store, run)

    position = queue_position(run, store.list_runs()) if run.status == "queued" else None
    status = status_line(run, position)
    show_status(status.level, status.text)
    rows = store.metrics(run.id)
    epoch_row = run.latest.get("epoch") or {}
    step_row = run.latest.get("step") or {}
    # Before its first row, the worker's log says where the seconds go.
    progress = live_progress(store, run, rows)
    st.progress(progress.fraction, text=progress.text)
    where_next(store, run, on_runs_page)

    task = run_task(run)
    loss = step_row.get("loss") if step_row.get("epoch", 0) > run.epochs_done else None
    loss = loss if loss is not None else epoch_row.get("loss")
    cols = st.columns(4)
    cols[0].metric("Train loss", DASH if loss is None else f"{loss:.4g}")
    if task == "caption":
        best = run.latest.get("best_val_bleu4")
        cider = epoch_row.get("val_cider")
        cols[1].metric("Val CIDEr-D", DASH if cider is None else f"{cider:.3f}")
        cols[2].metric("Best val BLEU-4", DASH if best is None else f"{best:.3f}")
    else:
        best = run.latest.get("best_val_accuracy")
        val_acc = epoch_row.get("val_accuracy")
        cols[1].metric("Val accuracy", DASH if val_acc is None else f"{val_acc:.1%}")
        cols[2].metric("Best val accuracy", DASH if best is None else f"{best:.1%}")
    cols[3].metric("Training time", format_duration(elapsed_seconds(run)))

    if rows:
        smoothing = 0.0
        if has_step_points(rows):
            # Step rows are running averages of a few batches: noisy enough to want this.
            smoothing = st.slider(
                "Smoothing of the training curve",
                0.0,
                0.95,
                0.0,
                0.05,
                key=f"smoothing-{run.id}",
                width=260,
            )
        figure = run_figure(
            rows,
            run.steps_per_epoch,
            run.epochs_total,
            revision=run.id,
            smoothing=smoothing,
            task=task,
        )
        st.plotly_chart(figure, key=f"curves-{run.id}", config={"displaylogo": False})
        if task == "caption":
            caption_examples(store, run)
        pace = pace_figure(rows, run.steps_per_epoch, run.epochs_total, revision=run.id)
        if pace is not None:
            st.plotly_chart(pace, key=f"pace-{run.id}", config={"displaylogo": False})
    elif run.status in ACTIVE:
        st.caption("The curves appear with the first training step.")
        if task == "caption":
            caption_examples(store, run)
    else:
        st.caption("This run recorded no metrics.")
    run_facts(store, run)
