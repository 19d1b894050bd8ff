"""The demo's out-of-domain hint: the run's reference asked once per model, in the background,
and each prediction's hint only looked up (no worker, no keras)."""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image

from studio.demo.app import DemoHandlers
from studio.inference.attention_maps import Reference
from studio.inference.client import Prediction
from studio.runs.store import RunStore
from tests.helpers.finished_run import finished_run


class FakeClient:
    """Answers like the worker: digits-like test images, sure of their class."""

    def __init__(self) -> None:
        self.references = 0
        self.asked = threading.Event()

    def predict(self, run_id, pixels, timeout=None):
        probs = np.full(10, 0.44 / 9)
        probs[3] = 0.56
        return Prediction(probs, 0.001, 1)

    def reference(self, run_id):
        self.references += 1
        self.asked.set()
        rng = np.random.default_rng(0)
        grey = rng.uniform(0.1, 0.2, (32, 1))
        stats = np.hstack([grey, grey + 0.2, np.zeros((32, 1))])  # grey digits: no colour
        return Reference(rng.uniform(0.9, 1.0, 32), stats)

    def warm(self, run_id):
        pass


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def test_a_colour_photo_shown_to_a_digits_model_gets_a_hint_and_the_reference_is_asked_once(
    tmp_path,
):
    store = RunStore(tmp_path / "home")
    run, _ = finished_run(store)
    client = FakeClient()
    handlers = DemoHandlers(store, client)
    handlers.warm(run.id)  # the run was picked: its reference is asked in the background
    assert client.asked.wait(10)
    for _ in range(50):  # the background thread stores the answer right after asking
        if handlers._reference(store.get(run.id)) is not None:
            break
        threading.Event().wait(0.05)
    cup = png((200, 120, 40))
    labels, _ = handlers.predict(run.id, cup, 3)
    assert max(labels.values()) == 0.56
    hint = handlers.hint(run.id, cup)
    assert hint.startswith("**Heuristic:** This image looks unlike the run's classes")
    assert "colourfulness" in hint and "less sure of it" in hint
    handlers.predict(run.id, png((0, 0, 0)), 3)
    assert client.references == 1  # once per model file, never per prediction
    assert handlers.hint(run.id, None) == ""


def test_examples_cover_every_class_up_to_twenty():
    from studio.inference.examples import _pick, examples_wanted

    labels = np.repeat(np.arange(10), 5)[::-1]
    picks = _pick(labels, examples_wanted(10))
    assert sorted(labels[picks].tolist()) == list(range(10))
    assert examples_wanted(2) == 8 and examples_wanted(100) == 20
    hundred = np.repeat(np.arange(100), 3)
    assert len(set(hundred[_pick(hundred, examples_wanted(100))].tolist())) == 20
