"""The Demo page's Hugging Face Space tab: export a run's Space folder, download it, push it.

The export runs in the Streamlit server (`studio.space` imports no keras); the run's example
images, which need its dataset, come from the shared inference worker.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio.inference.client import shared_client
from studio.runs.paths import spaces_dir
from studio.runs.store import RunStore
from studio.space.export import SpaceExportError, export_space, folder_files, zip_folder
from studio.space.push import PushError, push_space
from studio.ui.text import code, md_text


def space_tab(store: RunStore, run_id: str) -> None:
    """Export (with an overwrite switch), then a zip download and a push form."""
    st.write(
        "A folder with a standalone Gradio app (`python app.py`), the model, its labels, "
        "pinned requirements and a model card: ready for a Hugging Face Space."
    )
    default_dir = str(spaces_dir(store.home) / run_id)
    out_dir = st.text_input("Export folder", value=default_dir, key=f"space_dir_{run_id}")
    overwrite = st.checkbox("Replace a previous export in that folder", key="space_overwrite")
    exports = st.session_state.setdefault("space_exports", {})
    if st.button("Export Space folder", icon=":material/folder_zip:", key="space_export"):
        with st.spinner("Exporting (the first export of a run also picks example images)..."):
            try:
                done = export_space(
                    store,
                    run_id,
                    Path(out_dir),
                    overwrite=overwrite,
                    examples=shared_client(store.home).examples,
                )
            except SpaceExportError as err:
                st.error(md_text(err), icon=":material/error:")
            else:
                exports[run_id] = str(done.folder)
    folder = exports.get(run_id)
    if folder and Path(folder, "app.py").is_file():
        _download_and_push(Path(folder))


def _download_and_push(folder: Path) -> None:
    st.success(f"Exported to {code(str(folder))}: {md_text(', '.join(folder_files(folder)))}")
    st.download_button(
        "Download the Space folder (zip)",
        zip_folder(folder),
        file_name=f"{folder.name}.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
    )
    with st.form("space_push", border=True):
        st.write("Push it to the Hugging Face Hub")
        repo_id, token, private = hub_push_fields("Space", "Private Space")
        if st.form_submit_button("Push to Hugging Face", icon=":material/cloud_upload:"):
            with st.spinner(f"Pushing to {repo_id}..."):
                try:
                    url = push_space(folder, repo_id, token=token, private=private)
                except PushError as err:
                    st.error(md_text(err), icon=":material/error:")
                else:
                    st.success(f"Pushed: [{url}]({url})", icon=":material/check_circle:")


def hub_push_fields(kind: str, private_label: str) -> tuple[str, str | None, bool | None]:
    """A push form's repository, token and privacy fields (inside an st.form): the token is a
    password field, used for this push only; None where left empty."""
    repo_id = st.text_input(kind, placeholder="USER/NAME")
    token = st.text_input(
        "Token (optional)",
        type="password",
        help="Leave empty to use HF_TOKEN or the login of `hf auth login`. "
        "The token is only sent to huggingface.co, never shown or stored.",
    )
    private = st.checkbox(private_label)
    return repo_id, token or None, private or None
