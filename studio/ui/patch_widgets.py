"""Widgets of the Patches page: patch pickers that follow clicks on the figures."""

from __future__ import annotations

import streamlit as st

from studio.runs.store import RunNotFound, RunStore
from studio.ui import patch_figures as pf
from studio.ui.image_picker import KEEP

RUN_KEY = "patches_run"  # the attention panel's run picker
_SIZED_FOR = "_patches_sized_for"  # the run whose sizes the inputs were last set to

PLOT_CONFIG = {"displaylogo": False, "displayModeBar": False}


def pick_patch(chart_key: str, row_key: str, col_key: str, side: int):
    """on_select callback: a clicked patch becomes the row/column inputs' value."""

    def callback() -> None:
        index = pf.patch_from_selection(st.session_state[chart_key].selection)
        if index is not None and 0 <= index < side * side:
            st.session_state[row_key], st.session_state[col_key] = divmod(index, side)

    return callback


def patch_inputs(grid: pf.Grid, row_key: str, col_key: str, label: str) -> tuple[int, int]:
    """Row and column inputs for a patch of `grid`, kept inside the grid when it shrinks."""
    for key, centre in zip((row_key, col_key), grid.centre(), strict=True):
        current = st.session_state.get(key)
        # Written back every run, even when unchanged: after a run that ended in st.stop()
        # before these inputs, Streamlit keeps their stale state and a re-created input would
        # show its minimum while returning the old value.
        valid = current is not None and 0 <= current < grid.side
        st.session_state[key] = int(current) if valid else centre
    with st.container(horizontal=True, vertical_alignment="bottom"):
        row = st.number_input(
            f"{label} row", min_value=0, max_value=grid.side - 1, step=1, key=row_key
        )
        col = st.number_input(
            f"{label} column", min_value=0, max_value=grid.side - 1, step=1, key=col_key
        )
    return int(row), int(col)


def size_inputs() -> tuple[int, int]:
    """The image size and patch size to draw, side by side (kept across pages)."""
    with st.container(horizontal=True):
        image_size = st.number_input(
            "Image size (px)",
            min_value=1,
            max_value=4096,
            value=72,
            step=1,
            key="patches_image_size",
            help="The side the image is resized to, like a model's image_size "
            f"({pf.IMAGE_SIZE_MIN}–{pf.IMAGE_SIZE_MAX} px here).",
            persist_state=KEEP,
        )
        patch_size = st.number_input(
            "Patch size (px)",
            min_value=1,
            max_value=4096,
            value=6,
            step=1,
            key="patches_patch_size",
            help="The side of a square patch; it must divide the image size.",
            persist_state=KEEP,
        )
    return int(image_size), int(patch_size)


def follow_run_sizes(store: RunStore) -> str | None:
    """Set the size inputs to the picked run's image and patch size when the pick changes.

    Called before `size_inputs`: the run picker sits lower on the page, and its value of the
    previous script run is already in the session. The inputs stay editable; another run
    sets them again. Returns a caption naming the run while the inputs show its sizes.
    """
    run_id = st.session_state.get(RUN_KEY)
    if run_id is None:
        st.session_state.pop(_SIZED_FOR, None)
        return None
    try:
        run = store.get(str(run_id))
    except RunNotFound:
        return None
    sizes = pf.run_sizes(run.config)
    if sizes is None:
        return None
    if st.session_state.get(_SIZED_FOR) != run.id:
        st.session_state["patches_image_size"], st.session_state["patches_patch_size"] = sizes
        st.session_state[_SIZED_FOR] = run.id
    shown = (st.session_state.get("patches_image_size"), st.session_state.get("patches_patch_size"))
    if shown != sizes:
        return None
    return (
        f"Sizes of run #{run.seq} ({run.variant}): its model sees {sizes[0]} px images cut "
        f"into {sizes[1]}-px patches."
    )
