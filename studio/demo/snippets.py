"""The text the Demo page shows: where the demo lives and how to call it. No Streamlit here."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from studio.demo import (
    API_NAME,
    CAPTION_API_NAME,
    DEFAULT_BEAM_WIDTH,
    GRADIO_PATH,
    MAX_BEAM_WIDTH,
)


def server_root(page_url: str | None, base_path: str = "") -> str:
    """`http://host:port[/base]` of the studio, from the page's own URL."""
    parts = urlsplit(page_url or "")
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    base = "/" + base_path.strip("/") if base_path and base_path.strip("/") else ""
    return (origin or "http://127.0.0.1:8501") + base


def demo_src(run_id: str, base_path: str = "") -> str:
    """The iframe's same-origin path: the mounted demo with the run preselected."""
    base = "/" + base_path.strip("/") if base_path and base_path.strip("/") else ""
    return f"{base}{GRADIO_PATH}/?run={quote(run_id)}&embed=1"


def client_snippet(root: str, run_id: str, task: str = "classify") -> str:
    """How to call the demo's endpoint for the run from Python (a caption run's: /caption)."""
    if task == "caption":
        return caption_snippet(root, run_id)
    return f"""from gradio_client import Client, handle_file

client = Client("{root}{GRADIO_PATH}/")
labels, timing = client.predict(
    run="{run_id}",
    image=handle_file("path/to/image.png"),
    top_k=5,
    api_name="{API_NAME}",
)
print(labels["label"], labels["confidences"], timing)"""


def caption_snippet(root: str, run_id: str) -> str:
    return f"""from gradio_client import Client, handle_file

client = Client("{root}{GRADIO_PATH}/")
caption = client.predict(
    run="{run_id}",
    image=handle_file("path/to/image.png"),
    beam_width={DEFAULT_BEAM_WIDTH},  # 1: greedy search
    api_name="{CAPTION_API_NAME}",
)
print(caption)"""


def endpoint_note(task: str = "classify") -> str:
    """One line under the snippet: the endpoint's inputs and outputs."""
    if task == "caption":
        return (
            f"Endpoint `{CAPTION_API_NAME}`: inputs run, image, beam_width (1 to "
            f"{MAX_BEAM_WIDTH}, 1 is greedy search); output the caption."
        )
    return f"Endpoint `{API_NAME}`: inputs run, image, top_k; outputs the label chart and time."


def cli_snippet(run_id: str, task: str = "classify") -> str:
    if task == "caption":
        return (
            f"python -m studio predict {run_id} path/to/image.png --beam {DEFAULT_BEAM_WIDTH} "
            "[--json]\n"
            f"python -m studio space {run_id} OUT_DIR [--push USER/NAME]"
        )
    return (
        f"python -m studio predict {run_id} path/to/image.png --top-k 5 [--json]\n"
        f"python -m studio space {run_id} OUT_DIR [--push USER/NAME]"
    )
