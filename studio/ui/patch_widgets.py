"""Widgets of the Patches page: patch pickers that follow clicks on the figures."""

from __future__ import annotations

import streamlit as st

from studio.ui import patch_figures as pf

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
