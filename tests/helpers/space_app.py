"""An exported Space folder's `app.py` running on its own, as Hugging Face would start it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.studio_server import free_port


@contextmanager
def running_space(exported: Path, tmp_path: Path) -> Iterator:
    """A gradio_client Client of the Space in `exported`, started alone (its log in
    tmp_path/space.log); the app is stopped after."""
    gradio_client = pytest.importorskip("gradio_client")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "STUDIO", "GRADIO"))}
    env["GRADIO_SERVER_PORT"] = str(port)
    log = open(tmp_path / "space.log", "wb")  # noqa: SIM115 - closed below
    # -E: PYTHONPATH is ignored; cwd is the export, so `import studio` cannot succeed.
    proc = subprocess.Popen(
        [sys.executable, "-E", "-s", "app.py"],
        cwd=exported,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 240
        client = None
        while client is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Space did not start: {(tmp_path / 'space.log').read_text()}")
            try:
                client = gradio_client.Client(url, verbose=False)
            except Exception:
                time.sleep(1)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
