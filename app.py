"""ViT Studio: `make run`, then open http://127.0.0.1:8501. This file only routes pages."""

from pathlib import Path

import streamlit as st

if __name__ == "__main__":  # each session runs this file as its page script
    # A file, not ":material/...": Streamlit fetches a material icon from a font host.
    st.set_page_config(
        page_title="ViT Studio",
        page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
        layout="wide",
    )
    # Live panels re-run a fragment every 1.5 s, and Streamlit's header would flash its own
    # "Running... Stop" each time, beside the run's Stop button, which it has nothing to do with.
    st.html("<style>[data-testid='stStatusWidget'] {visibility: hidden;}</style>")

    pages = [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("pages/runs.py", title="Runs", icon=":material/table_chart:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
        st.Page("pages/patches.py", title="Patches", icon=":material/grid_view:"),
        st.Page("pages/demo.py", title="Demo", icon=":material/image_search:"),
    ]
    st.navigation(pages, position="top").run()
else:
    # `streamlit run app.py` finds the st.App below and imports this file once as the server
    # (module "app"): the Gradio demo is mounted beside the pages on the same port, its
    # lifespan entered from st.App's (see studio/demo/mount.py and ../shared/DESIGN.md).
    from starlette.middleware import Middleware
    from streamlit.runtime.pages_manager import PagesManager

    from studio.demo.mount import DemoMount
    from studio.ui.upload_gate import UploadGate

    # `pages/` beside app.py would also switch on Streamlit's older folder-based navigation,
    # which a tab reopened on /runs after a restart would get instead of st.navigation's.
    PagesManager.uses_pages_directory = False

    demo = DemoMount()
    # Streamlit reads an upload whole into memory: the gate bounds how many bytes at once.
    app = st.App(
        __file__,
        routes=demo.routes,
        lifespan=demo.lifespan,
        middleware=[Middleware(UploadGate)],
    )
