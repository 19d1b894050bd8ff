"""Streamlit plumbing shared by the pages: the run store and small display helpers."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio.runs import paths
from studio.runs.artifacts import usable_runs
from studio.runs.migrations import StoreError
from studio.runs.store import Run, RunStore
from studio.ui.quick_start import quick_start
from studio.ui.text import md_text

# Live views re-read the store this often; SQLite in WAL mode answers in a millisecond.
REFRESH_S = 1.5


@st.cache_resource(show_spinner=False)
def _store_at(home: str) -> RunStore:
    return RunStore(Path(home))


def get_store() -> RunStore:
    """The run store under STUDIO_HOME, opened once per server process.

    A store this version cannot read stops the page with the reason (the exception alone
    would show as its type name); so does one damaged or replaced since it was opened, which
    is looked at again on every run of a page.
    """
    try:
        store = _store_at(str(paths.studio_home()))
        store.check()
        return store
    except StoreError as err:
        st.error(md_text(err), icon=":material/database:")
        st.stop()


def cache_dir() -> Path:
    """Downloaded and decoded datasets, shared with the workers."""
    return paths.dataset_cache_dir(get_store().home)


def uploads_dir() -> Path:
    """Where uploaded zips are extracted, one folder per distinct archive."""
    return paths.uploads_dir(get_store().home)


def human_size(n: float) -> str:
    """A byte count as people read it: 812 bytes, 3.4 KB, 150.0 MB, 1.2 GB."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def show_status(level: str, text: str) -> None:
    """st.info / success / warning / error by name, of plain text (a run's reason quotes
    paths and names)."""
    show = {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error}
    show[level](md_text(text))


def finished_runs_or_stop(
    store: RunStore,
    then: str,
    icon: str,
    select_key: str | None = None,
    task: str | None = "classify",
) -> list[Run]:
    """The runs of `task` (None: any) whose model may be used; with none, offers to train a
    quick one and stops.

    `then` ends the sentence "... it opens here ...", e.g. "to try it"; `select_key` is the
    page's run picker, set to the new run once it is done.
    """
    runs = usable_runs(store, task)
    if not runs:
        quick_start(store, then, icon, select_key)
        st.stop()
    return runs
