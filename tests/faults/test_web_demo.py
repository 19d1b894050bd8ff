"""The demo's web surface: its file routes serve nothing outside the allowed folders, and
sixteen predictions at once never crash and never hold more decoding memory than the budget.

The mounted FastAPI app is driven in-process (no server, no worker): file routes need
neither, and predictions go to a stand-in client.
"""

from __future__ import annotations

import io
import os
import threading
import urllib.parse
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from studio.datasets import images
from studio.datasets.decode_budget import MemoryBudget
from studio.demo.app import DemoHandlers
from studio.runs.artifacts import examples_root
from studio.runs.store import RunStore

SECRET = "SECRET-RUN-FOLDER-CONTENT"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from studio.demo.mount import DemoMount

    home = tmp_path_factory.mktemp("web") / "home"
    store = RunStore(home)
    examples = examples_root(home) / "run-1"
    examples.mkdir(parents=True)
    (examples / "cat.png").write_bytes(b"\x89PNG allowed example")
    secret = home / "runs" / "run-1" / "labels.json"
    secret.parent.mkdir(parents=True)
    secret.write_text(SECRET)
    (examples / "link.png").symlink_to(secret)  # a link planted inside an allowed folder
    (examples / "up").symlink_to(home / "runs", target_is_directory=True)
    mount = DemoMount(store)
    try:
        with TestClient(mount.app) as client:
            yield client, home, examples, secret
    finally:
        # Leave no mounted demo or shared client behind for the tests that follow.
        from studio.demo import mount as mounting
        from studio.inference.client import close_shared

        mounting._mounted.remove(mount)
        close_shared()


def _attempts(home, examples, secret) -> list[str]:
    inside = str(examples)
    return [
        str(secret),
        str(examples / "link.png"),
        str(examples / "up" / "run-1" / "labels.json"),
        f"{inside}/../../../runs/run-1/labels.json",
        urllib.parse.quote(f"{inside}/../../../runs/run-1/labels.json", safe=""),
        urllib.parse.quote(urllib.parse.quote(f"{inside}/../../../runs/run-1/labels.json")),
        f"{inside}/..%2f..%2f..%2fruns%2frun-1%2flabels.json",
        f"{inside}/..\\..\\..\\runs\\run-1\\labels.json",
        f"{inside}/%2e%2e/%2e%2e/%2e%2e/runs/run-1/labels.json",
        f"{inside}/cat.png/../../../../runs/run-1/labels.json",
        f"{inside}%00/cat.png",
        f"{inside}/cat.png%00../../../runs/run-1/labels.json",
        str(home / "studio.db"),
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "file:///etc/passwd",
        "//etc/passwd",
        os.path.relpath(secret),
        "studio/demo/app.py",
    ]


ROUTES = ["/file=", "/gradio_api/file=", "/file/", "/gradio_api/file/", "/static/", "/assets/"]


def test_file_routes_serve_the_examples_and_nothing_else(site):
    client, home, examples, secret = site
    ok = client.get(f"/gradio_api/file={examples / 'cat.png'}")
    assert ok.status_code == 200 and b"allowed example" in ok.content
    tried = 0
    for route in ROUTES:
        for path in _attempts(home, examples, secret):
            reply = client.get(route + path)
            tried += 1
            assert SECRET not in reply.text, (route, path, reply.status_code)
            assert "root:x:" not in reply.text, (route, path)
            assert "import gradio" not in reply.text, (route, path)
            assert reply.status_code != 500, (route, path)
    assert tried == len(ROUTES) * 19


def test_an_upload_named_with_a_path_lands_in_gradios_cache_only(site):
    client, home, _, _ = site
    name = "../../../../runs/run-1/evil.png"
    reply = client.post("/gradio_api/upload", files=[("files", (name, b"\x89PNG x", "image/png"))])
    assert reply.status_code == 200, reply.text
    (stored,) = reply.json()
    assert not (home / "runs" / "run-1" / "evil.png").exists()
    assert not os.path.realpath(stored).startswith(os.path.realpath(home))
    assert os.path.basename(stored) == "evil.png"


class _Model:
    """The inference worker's stand-in: ten classes, the batch size of one."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def predict(self, run_id, pixels):
        with self.lock:
            self.calls += 1
        assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
        return SimpleNamespace(probs=np.full(10, 0.1), model_s=0.0, batch_size=1)


def _handlers(monkeypatch) -> tuple[DemoHandlers, _Model]:
    info = SimpleNamespace(
        run=SimpleNamespace(id="run-1", model_sha256="0" * 64),
        labels=SimpleNamespace(input_size=32, class_names=[str(i) for i in range(10)]),
    )
    monkeypatch.setattr("studio.demo.app.model_info", lambda store, run: info)
    model = _Model()
    return DemoHandlers(store=None, client=model), model


def _big_png(tmp_path, i: int) -> str:
    # 2000x2000 RGB: about 60 MB of decoding memory each by the decoder's own estimate.
    path = tmp_path / f"big-{i}.png"
    Image.new("RGB", (2000, 2000), (i, 100, 200)).save(path, compress_level=1)
    return str(path)


def _burst(handlers, paths) -> list:
    outcomes: list = [None] * len(paths)
    start = threading.Barrier(len(paths))

    def one(i):
        start.wait()
        try:
            outcomes[i] = handlers.predict("run-1", paths[i], 3)
        except gr.Error as err:
            outcomes[i] = err
        except BaseException as err:  # anything else is the failure this test looks for
            outcomes[i] = ("crash", err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_sixteen_predictions_at_once_stay_in_budget_and_the_rest_hear_busy(tmp_path, monkeypatch):
    handlers, model = _handlers(monkeypatch)
    one_image = 2000 * 2000 * 15
    budget = MemoryBudget(3 * one_image)  # room for three decodes at once
    monkeypatch.setattr(images, "DECODING", budget)
    paths = [_big_png(tmp_path, i) for i in range(16)]

    outcomes = _burst(handlers, paths)
    crashes = [o for o in outcomes if isinstance(o, tuple) and o and o[0] == "crash"]
    assert not crashes, crashes
    answered = [o for o in outcomes if isinstance(o, tuple)]
    busy = [o for o in outcomes if isinstance(o, gr.Error)]
    assert len(answered) + len(busy) == 16 and answered  # at least the first gets through
    for err in busy:
        assert err.title == "Busy, try again" and "try again in a moment" in err.message
    assert budget.peak <= budget.total and budget.in_use == 0
    assert model.calls == len(answered)

    # While the budget is spent elsewhere, every one of them is refused at once, in words.
    with budget.reserve(budget.total):
        outcomes = _burst(handlers, paths)
    assert all(isinstance(o, gr.Error) and o.title == "Busy, try again" for o in outcomes)


def test_a_refused_format_or_an_oversized_image_is_a_message_not_a_crash(tmp_path, monkeypatch):
    handlers, _ = _handlers(monkeypatch)
    tga = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tga, format="TGA")
    with pytest.raises(gr.Error, match="TGA images are not accepted"):
        handlers.predict("run-1", tga.getvalue(), 3)
    with pytest.raises(gr.Error, match="not an image: an SVG drawing"):
        handlers.predict("run-1", b"<svg xmlns='http://www.w3.org/2000/svg'/>", 3)
    with pytest.raises(gr.Error, match="empty file"):
        handlers.predict("run-1", b"", 3)
