"""The demo's client for captions: concurrent requests share batches per run and beam width,
never with predictions; the Demo page's caption snippet."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from studio.demo import CAPTION_API_NAME
from studio.demo.snippets import caption_snippet, cli_snippet, client_snippet, endpoint_note
from studio.inference.client import Caption, InferenceClient, Prediction, Refused


class SlowWorker:
    """Stands in for the worker process: answers after a delay and records each batch."""

    def __init__(self, delay_s: float = 0.15) -> None:
        self.delay_s = delay_s
        self.batches: list[tuple] = []
        self.lock = threading.Lock()

    def request(self, message: dict) -> dict:
        with self.lock:  # one request at a time, like the real worker
            time.sleep(self.delay_s)
            images = message["images"]
            beam = message.get("beam_width")
            self.batches.append((message["op"], message["run"], beam, len(images)))
            if message["run"] == "classifier" and message["op"] == "caption":
                return {"ok": False, "error": "run classifier classifies images"}
            firsts = [int(image[0, 0, 0]) for image in images]
            if message["op"] == "caption":
                captions = [f"image {v} beam {beam}" for v in firsts]
                return {"ok": True, "captions": captions, "model_s": self.delay_s}
            return {"ok": True, "probs": np.asarray(firsts, float)[:, None], "model_s": 0.0}

    def close(self) -> None:
        pass


def _image(value: int) -> np.ndarray:
    return np.full((4, 4, 3), value, dtype=np.uint8)


def test_captions_share_batches_per_run_and_beam_width_never_with_predictions():
    worker = SlowWorker()
    client = InferenceClient(home=None, max_batch_size=8, worker=worker)

    def call(i: int):
        if i % 4 == 3:
            return client.predict("run-a", _image(i))
        return client.caption("run-a", _image(i), beam_width=1 + i % 2)

    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(16)))
    finally:
        client.close()
    for i, result in enumerate(results):
        if i % 4 == 3:
            assert isinstance(result, Prediction) and int(result.probs[0]) == i
        else:
            assert isinstance(result, Caption) and result.text == f"image {i} beam {1 + i % 2}"
    assert sum(n for *_, n in worker.batches) == 16
    assert max(n for *_, n in worker.batches) > 1  # requests waiting together shared a batch
    for op, _, beam, _ in worker.batches:
        assert (op == "caption") == (beam is not None)


def test_a_refused_caption_batch_reaches_its_callers_only():
    worker = SlowWorker(delay_s=0.05)
    client = InferenceClient(home=None, max_batch_size=8, worker=worker)

    def call(i: int):
        run = "classifier" if i % 2 else "captioner"
        try:
            return run, client.caption(run, _image(i), beam_width=3)
        except Refused as err:
            return run, err

    try:
        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(call, range(6)))
    finally:
        client.close()
    for run, outcome in outcomes:
        assert isinstance(outcome, Refused) == (run == "classifier")


def test_the_demo_page_shows_the_caption_endpoint_for_a_caption_run():
    snippet = client_snippet("http://127.0.0.1:8501", "0007-shapes", task="caption")
    assert snippet == caption_snippet("http://127.0.0.1:8501", "0007-shapes")
    assert f'api_name="{CAPTION_API_NAME}"' in snippet and 'run="0007-shapes"' in snippet
    assert "beam_width=" in snippet and "top_k" not in snippet
    compile(snippet, "snippet", "exec")  # it is Python as shown
    assert 'api_name="/predict"' in client_snippet("http://x", "r")  # classifiers unchanged
    assert "--beam" in cli_snippet("0007-shapes", task="caption")
    assert "beam_width" in endpoint_note("caption") and "top_k" in endpoint_note()
