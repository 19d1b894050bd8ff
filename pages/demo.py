"""Demo: try a finished run in the embedded Gradio demo, call its API, export it as a Space."""

import sys

import streamlit as st

from studio.demo.snippets import cli_snippet, client_snippet, demo_src, endpoint_note, server_root
from studio.runs.artifacts import ModelUnavailable, model_info, run_task
from studio.runs.naming import run_choice
from studio.ui.common import finished_runs_or_stop, get_store
from studio.ui.space_panel import space_tab
from studio.ui.text import md_text

store = get_store()
st.title("Demo", anchor=False)

# Classifiers and captioners alike: the demo shows class bars or a caption for each.
runs = finished_runs_or_stop(store, "to try it", ":material/image_search:", "demo_run", task=None)


by_id = {r.id: r for r in runs}
ids = list(by_id)
if "run" in st.query_params:
    # A run's view links here with `?run=ID`: picked once, the picker takes over after.
    if st.query_params["run"] in by_id:
        st.session_state["demo_run"] = st.query_params["run"]
    del st.query_params["run"]
if st.session_state.get("demo_run") not in ids:
    st.session_state["demo_run"] = ids[0]
run_id = st.selectbox("Run", ids, format_func=lambda i: run_choice(by_id[i]), key="demo_run")
try:
    info = model_info(store, run_id)
except ModelUnavailable as err:
    st.error(f"This run cannot be used: {md_text(err)}", icon=":material/gpp_bad:")
    st.stop()
task = run_task(by_id[run_id])

base_path = st.get_option("server.baseUrlPath") or ""
mount = sys.modules.get("studio.demo.mount")
if mount is not None and mount.is_mounted():
    st.iframe(demo_src(run_id, base_path), height=720)
    answer = "its caption" if task == "caption" else "the top classes"
    st.caption(
        f"Upload or paste an image, or click an example: {answer} and the time it took "
        "appear on the right. Images are decoded exactly as in training, so the answers equal "
        "those of `python -m studio predict`."
    )
else:
    st.warning(
        "The demo server is not mounted in this process. Start the studio with `make run` "
        "(`streamlit run app.py`) to use it here; the command line below works anyway.",
        icon=":material/warning:",
    )

api, cli, space = st.tabs(["API (gradio_client)", "Command line", "Hugging Face Space"])
with api:
    root = server_root(st.context.url, base_path)
    st.code(client_snippet(root, run_id, task=task), language="python")
    st.caption(endpoint_note(task))
with cli:
    st.code(cli_snippet(run_id, task=task), language="bash")

with space:
    space_tab(store, run_id)

st.caption(f"Model file sha256 `{info.sha256[:16]}...` checked against the run store.")
