"""Evaluate: where a finished run's model fails (per class, confusions, mistakes, calibration)."""

import streamlit as st

from studio.runs.naming import run_choice
from studio.ui.common import finished_runs_or_stop, get_store
from studio.ui.evaluation_panel import evaluation_view

store = get_store()
st.title("Evaluate", anchor=False)

runs = finished_runs_or_stop(store, "to see where it gets things wrong", ":material/analytics:")

by_id = {r.id: r for r in runs}
wanted = st.query_params.get("run")
if wanted in by_id:
    st.session_state["evaluate_run"] = wanted
if st.session_state.get("evaluate_run") not in by_id:
    st.session_state["evaluate_run"] = runs[0].id
run_id = st.selectbox(
    "Run", list(by_id), format_func=lambda i: run_choice(by_id[i]), key="evaluate_run"
)
st.query_params["run"] = run_id
evaluation_view(store, by_id[run_id], runs)
