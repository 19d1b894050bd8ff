"""The demo's Blocks: how its predictions are queued and processed (no server, no worker)."""

from __future__ import annotations

import inspect

import gradio as gr
import pytest

from studio.demo import API_NAME
from studio.demo.app import PREDICT_CONCURRENCY, build_demo, in_one_thread
from studio.inference.client import InferenceClient
from studio.runs.store import RunStore


class NoWorker:
    """Building the Blocks must not start a worker."""

    home = None

    def request(self, message: dict) -> dict:
        raise AssertionError(f"unexpected request {message}")

    def close(self) -> None:
        pass


@pytest.fixture
def blocks(tmp_path):
    store = RunStore(tmp_path / "home")
    demo = build_demo(store, InferenceClient(store.home, worker=NoWorker()))
    yield demo
    demo.inference_client.close()


def _predictions(blocks) -> list:
    return [fn for fn in blocks.fns.values() if fn.concurrency_id == "predict"]


def test_every_prediction_event_shares_one_queue_and_skips_the_thread_hops(blocks):
    predictions = _predictions(blocks)
    # The Classify button (the API), image change, slider release, and the run change.
    assert len(predictions) == 4
    for fn in predictions:
        assert fn.concurrency_limit == PREDICT_CONCURRENCY == 16
        assert fn.preprocess is False and fn.postprocess is False
        assert not fn.batch  # batches are made by the inference client, across events
    api = [fn for fn in predictions if fn.api_name == API_NAME.lstrip("/")]
    assert len(api) == 1
    assert list(inspect.signature(api[0].fn).parameters) == ["run", "image", "top_k"]


def test_the_queue_summarises_its_analytics_every_hundred_events_not_every_event(blocks):
    # Gradio's default (1) rebuilds a pandas frame of up to 10,000 events per request.
    assert blocks._queue.ANAYLTICS_CACHE_FREQUENCY >= 100


def test_components_still_pre_and_postprocess_in_the_handlers_thread():
    seen = []

    def handler(run, image, top_k=5):
        """Doc."""
        seen.append((run, image, top_k))
        return {"cat": 0.75, "dog": 0.25}, "1.0 ms (batch of 1)"

    run = gr.Dropdown(choices=["r1"], allow_custom_value=True, render=False)
    image = gr.Image(type="filepath", render=False)
    image.preprocess = lambda payload: payload["path"] if payload else None
    k = gr.Slider(1, 10, value=5, step=1, render=False)
    labels, timing = gr.Label(render=False), gr.Textbox(render=False)
    call = in_one_thread(handler, [run, image, k], [labels, timing])

    assert inspect.signature(call) == inspect.signature(handler)  # the API's parameters
    assert call.__doc__ == "Doc."
    label, text = call("r1", {"path": "/tmp/x.png", "meta": {"_type": "gradio.FileData"}}, 3)
    assert seen == [("r1", "/tmp/x.png", 3)]
    # The Label's own serialized form, as Gradio's postprocessing would send it.
    assert label == {
        "label": "cat",
        "confidences": [
            {"label": "cat", "confidence": 0.75},
            {"label": "dog", "confidence": 0.25},
        ],
    }
    assert text == "1.0 ms (batch of 1)"
    with pytest.raises(gr.Error, match="greater than maximum value 10"):
        call("r1", None, 11)
    assert len(seen) == 1  # refused before the handler ran


def test_clearing_answers_empty_outputs():
    call = in_one_thread(
        lambda run, image, top_k: (None, ""),
        [gr.Dropdown(render=False), gr.Textbox(render=False), gr.Number(render=False)],
        [gr.Label(render=False), gr.Textbox(render=False)],
    )
    assert call(None, None, 5) == ({}, "")
