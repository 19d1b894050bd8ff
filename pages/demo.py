"""Demo: try a finished run in the embedded Gradio demo, call its API, export it as a Space."""

import sys
from pathlib import Path

import streamlit as st

from studio.demo.snippets import cli_snippet, client_snippet, demo_src, server_root
from studio.inference import ModelUnavailable, demo_runs, model_info
from studio.ui.common import get_store
from studio.ui.runinfo import MODEL_LABELS

store = get_store()
st.title("Demo", anchor=False)

runs = demo_runs(store)
if not runs:
    st.info(
        "No finished run yet. Train one on the Train page (or "
        "`python -m studio train --dataset digits --wait`), then come back to try it.",
        icon=":material/image_search:",
    )
    st.stop()


def describe(run_id: str) -> str:
    run = next(r for r in runs if r.id == run_id)
    test = (run.test or {}).get("accuracy")
    score = f" · test top-1 {100 * test:.1f}%" if test is not None else ""
    return f"{run.id} · {run.dataset} · {MODEL_LABELS.get(run.variant, run.variant)}{score}"


ids = [r.id for r in runs]
if st.session_state.get("demo_run") not in ids:
    st.session_state["demo_run"] = ids[0]
run_id = st.selectbox("Run", ids, format_func=describe, key="demo_run")
try:
    info = model_info(store, run_id)
except ModelUnavailable as err:
    st.error(f"This run cannot be used: {err}", icon=":material/gpp_bad:")
    st.stop()

base_path = st.get_option("server.baseUrlPath") or ""
mount = sys.modules.get("studio.demo.mount")
if mount is not None and mount.is_mounted():
    st.iframe(demo_src(run_id, base_path), height=720)
    st.caption(
        "Upload or paste an image, or click an example: the top classes and the time it took "
        "appear on the right. Images are decoded exactly as in training, so the numbers equal "
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
    st.code(client_snippet(server_root(st.context.url, base_path), run_id), language="python")
    st.caption("Endpoint `/predict`: inputs run, image, top_k; outputs the label chart and time.")
with cli:
    st.code(cli_snippet(run_id), language="bash")

with space:
    st.write(
        "A folder with a standalone Gradio app (`python app.py`), the model, its labels, "
        "pinned requirements and a model card: ready for a Hugging Face Space."
    )
    default_dir = str(store.home / "spaces" / run_id)
    out_dir = st.text_input("Export folder", value=default_dir, key=f"space_dir_{run_id}")
    overwrite = st.checkbox("Replace a previous export in that folder", key="space_overwrite")
    exports = st.session_state.setdefault("space_exports", {})
    if st.button("Export Space folder", icon=":material/folder_zip:", key="space_export"):
        from studio.space.export import SpaceExportError, export_space

        with st.spinner("Exporting (the first export of a run also picks example images)..."):
            try:
                done = export_space(store, run_id, Path(out_dir), overwrite=overwrite)
            except SpaceExportError as err:
                st.error(str(err), icon=":material/error:")
            else:
                exports[run_id] = str(done.folder)
    folder = exports.get(run_id)
    if folder and Path(folder, "app.py").is_file():
        from studio.space.export import folder_files, zip_folder

        st.success(f"Exported to `{folder}`: {', '.join(folder_files(Path(folder)))}")
        st.download_button(
            "Download the Space folder (zip)",
            zip_folder(Path(folder)),
            file_name=f"{Path(folder).name}.zip",
            mime="application/zip",
            icon=":material/download:",
            on_click="ignore",
        )
        with st.form("space_push", border=True):
            st.write("Push it to the Hugging Face Hub")
            repo_id = st.text_input("Space", placeholder="USER/NAME")
            token = st.text_input(
                "Token (optional)",
                type="password",
                help="Leave empty to use HF_TOKEN or the login of `hf auth login`. "
                "The token is only sent to huggingface.co, never shown or stored.",
            )
            private = st.checkbox("Private Space")
            if st.form_submit_button("Push to Hugging Face", icon=":material/cloud_upload:"):
                from studio.space.push import PushError, push_space

                with st.spinner(f"Pushing to {repo_id}..."):
                    try:
                        url = push_space(
                            Path(folder), repo_id, token=token or None, private=private or None
                        )
                    except PushError as err:
                        st.error(str(err), icon=":material/error:")
                    else:
                        st.success(f"Pushed: [{url}]({url})", icon=":material/check_circle:")

st.caption(f"Model file sha256 `{info.sha256[:16]}...` checked against the run store.")
