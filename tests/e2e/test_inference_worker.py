"""One worker process answers the keras-free side for everything that needs keras or a
dataset: attention maps (computed once, then read from the run's cache) and example images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.inference.attention_maps import cached_result, image_sha256
from studio.inference.client import InferenceClient, Refused
from studio.runs.artifacts import attention_cache
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run


def _png(shape=(40, 30)) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "home")


@pytest.fixture
def client(store):
    client = InferenceClient(store.home)
    yield client
    client.close()


def test_attention_is_computed_by_the_worker_then_read_from_the_cache(store, client, tiny):
    run = make_sample_run(store, variant="spt-lsa", **{"model.depth": "2"})
    data = _png()
    assert cached_result(store, run, data) is None
    first = client.attention(run.id, data)
    assert first.scores.shape == (2, 2, 16, 16) and first.lsa
    cached = attention_cache(store, run, image_sha256(data))
    assert cached.is_file() and cached.parent == store.run_dir(run.id) / "attention"
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # nothing else left
    np.testing.assert_array_equal(cached_result(store, run, data).scores, first.scores)
    # Predictions use the model the attention request loaded, not a second copy.
    client.predict(run.id, first.pixels)
    assert client.worker.request({"op": "ping"})["models"] == 1

    with pytest.raises(Refused, match="the image cannot be used: not an image"):
        client.attention(run.id, b"this is text")
    queued = store.create_run(tiny("vit").to_dict())
    with pytest.raises(Refused, match="is queued; only completed runs have a final model"):
        client.attention(queued.id, data)
    assert client.worker.starts == 1  # every request went to the same process


def test_example_images_are_written_by_the_worker_once(store, client):
    run = make_sample_run(store)
    files = client.examples(run.id)
    assert len(files) == 10 and all(f.suffix == ".png" for f in files)
    assert [f.stem.split("-")[1] for f in files] == [str(d) for d in range(10)]  # a class each
    assert Image.open(files[0]).size == (32, 32)  # the run's input size, losslessly
    assert client.examples(run.id) == files
    assert client.worker.starts == 1
