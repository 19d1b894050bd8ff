"""The demo mounted in the studio's own server (`streamlit run app.py`, as `make run` starts it).

One port serves the pages and /gradio/; predictions answer (so Gradio's queue started, which
needs its lifespan entered from st.App's); the server process never loads TensorFlow (the
inference worker does), and the worker ends with the server.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request

import numpy as np
import psutil
import pytest

from studio.demo import API_NAME, GRADIO_PATH
from studio.inference.local import predict_files
from studio.runs.store import RunStore
from tests.helpers.probe_images import write_good_images
from tests.helpers.sample_run import make_sample_run
from tests.helpers.studio_server import StudioDidNotStart, running_studio

gradio_client = pytest.importorskip("gradio_client")


def _workers(pid: int) -> list[psutil.Process]:
    """The inference workers among a process's children."""
    return [
        child
        for child in psutil.Process(pid).children(recursive=True)
        if "studio.inference.worker" in " ".join(child.cmdline())
    ]


def _loads_tensorflow(process: psutil.Process) -> bool:
    return any("tensorflow" in m.path or "_pywrap_tf" in m.path for m in process.memory_maps())


def _alive(process: psutil.Process) -> bool:
    return process.is_running() and process.status() != psutil.STATUS_ZOMBIE


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not hasattr(psutil.Process, "memory_maps"):
        pytest.skip("psutil cannot list a process's loaded libraries on this platform")
    home = tmp_path_factory.mktemp("mount-home")
    run = make_sample_run(RunStore(home))
    try:
        with running_studio(home, timeout_s=90) as (proc, url):
            yield proc, url, home, run.id
    except StudioDidNotStart as exc:
        pytest.fail(str(exc))


def test_mounted_demo_answers_like_the_cli_and_keeps_keras_out_of_the_server(server, tmp_path):
    proc, url, home, run_id = server
    with urllib.request.urlopen(f"{url}{GRADIO_PATH}/config", timeout=10) as reply:
        config = json.loads(reply.read())
    assert any(d.get("api_name") == API_NAME.lstrip("/") for d in config["dependencies"])

    images = list(write_good_images(tmp_path).values())[:3]
    client = gradio_client.Client(f"{url}{GRADIO_PATH}/", verbose=False)
    answers = [
        client.predict(
            run=run_id, image=gradio_client.handle_file(str(p)), top_k=3, api_name=API_NAME
        )[0]
        for p in images
    ]
    _, expected = predict_files(RunStore(home), run_id, images, k=3)
    for labels, rows in zip(answers, expected, strict=True):
        assert [c["label"] for c in labels["confidences"]] == [name for name, _ in rows]
        np.testing.assert_allclose(
            [c["confidence"] for c in labels["confidences"]], [p for _, p in rows], atol=1e-6
        )

    workers = _workers(proc.pid)
    assert len(workers) == 1
    assert _loads_tensorflow(workers[0])
    assert not _loads_tensorflow(psutil.Process(proc.pid)), "the Streamlit server loaded TensorFlow"

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while _alive(workers[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(workers[0]), "the inference worker outlived the server"
