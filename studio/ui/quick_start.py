"""A fresh studio's one click: train a quick digits model here, watch it, then use it.

Shown where a page needs a finished run and there is none (Demo, Evaluate, Patches). The run
is queued through the same launcher as the Train page's Start, so it is an ordinary run (on
the Train and Runs pages too). A quick run already queued or training, started here in any
tab or on the Train page, is shown instead of queueing another.
"""

from __future__ import annotations

import streamlit as st

from studio.config import make_config
from studio.runs.artifacts import usable_runs
from studio.runs.launcher import submit
from studio.runs.store import ACTIVE, Run, RunStore
from studio.ui.run_view import live_progress
from studio.ui.runinfo import status_line
from studio.ui.text import md_text

QUICK_DATASET = "digits"
QUICK_PRESET = "cpu-quick"
BUTTON = "Train a quick model (digits, about a minute)"
REFRESH_S = 1.5


def _is_quick(run: Run) -> bool:
    return run.dataset == QUICK_DATASET and run.preset == QUICK_PRESET


def quick_run(store: RunStore) -> Run | None:
    """The newest quick digits run still queued or training, if any."""
    active = [r for r in store.list_runs() if _is_quick(r) and r.status in ACTIVE]
    return max(active, key=lambda r: r.seq) if active else None


def _last_quick(store: RunStore) -> Run | None:
    """The newest quick digits run whatever its state (to say why it did not finish)."""
    runs = [r for r in store.list_runs() if _is_quick(r)]
    return max(runs, key=lambda r: r.seq) if runs else None


def quick_start(
    store: RunStore,
    then: str,
    icon: str = ":material/rocket_launch:",
    select_key: str | None = None,
) -> None:
    """The empty state: a button that trains a quick model, its progress while it trains,
    and a rerun of the page, with the new run chosen, once it is done.

    `then` ends the sentence "... and it opens here ...", e.g. "to try it". `select_key`, when
    given, is the page's run picker key, set to the new run.
    """
    st.info(
        "No finished run yet. Train a quick model here: a small Vision Transformer on the "
        f"built-in handwritten digits (no download), and it opens here {then} when done. "
        "Bigger runs (CIFAR-10, flowers, your own images) start on the Train page.",
        icon=icon,
    )
    _progress(store, select_key)


def _open(run_id: str, select_key: str | None) -> None:
    st.query_params["run"] = run_id
    if select_key:
        st.session_state[select_key] = run_id
    st.rerun()


@st.fragment(run_every=REFRESH_S)
def _progress(store: RunStore, select_key: str | None) -> None:
    ready = usable_runs(store)
    if ready:  # finished here or in another tab: the page can draw it now
        _open(ready[0].id, select_key)
    run = quick_run(store)
    if run is None:
        last = _last_quick(store)
        if last is not None and last.status != "completed":
            line = status_line(last)
            st.warning(f"The last quick run ({last.id}) did not finish: {md_text(line.text)}")
        if st.button(BUTTON, type="primary", icon=":material/play_arrow:", key="quick_start"):
            config = make_config(QUICK_PRESET, QUICK_DATASET).to_dict()
            submit(store, config)
            st.rerun()  # the button gives way to the run's progress
        st.caption(
            "Or from a terminal: `python -m studio train --dataset digits --preset "
            "cpu-quick --wait`."
        )
        return
    run = store.get(run.id, with_latest=True)
    # The Train page's words for where it is: the start-up phase with seconds, then epochs.
    progress = live_progress(store, run, store.metrics(run.id))
    st.progress(progress.fraction, text=f"Run {run.id}: {progress.text}")
    st.caption(
        "It trains in the background: leave this page or close the tab and it goes on "
        "(the Train page shows its curves)."
    )
