"""The inference worker's caption op: a caption run's captions at any beam width, equal to
the in-process search; its model and tokenizer kept loaded and checked; refusals as replies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.inference.captioning import generate
from studio.inference.client import InferenceClient, Refused
from studio.inference.loading import load_captioner
from studio.runs.artifacts import FINAL_MODEL, TOKENIZER, model_info
from studio.runs.store import RunStore
from studio.text.tokenizer import END, START
from tests.helpers.caption_run import caption_images, make_caption_run
from tests.helpers.sample_run import make_sample_run, sample_images


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("caption-worker") / "home")
    run = make_caption_run(store)
    client = InferenceClient(store.home)
    yield store, run, client
    client.close()


def _expected(store, run_id, images, beam):
    model, tokenizer = load_captioner(model_info(store, run_id))
    return tokenizer.decode_batch(generate(model, images, beam, None, START, END))


@pytest.mark.parametrize("beam", [1, 3])
def test_concurrent_captions_equal_the_in_process_search(setup, beam):
    store, run, client = setup
    images = caption_images(6, seed=beam)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda image: client.caption(run.id, image, beam), images))
    assert [a.text for a in answers] == _expected(store, run.id, images, beam)
    assert all(a.model_s > 0 and 1 <= a.batch_size <= 6 for a in answers)
    assert client.worker.request({"op": "ping"})["models"] == 1  # loaded once, kept
    assert client.worker.starts == 1


def test_wrong_runs_widths_and_images_are_refused_with_reasons(setup):
    store, run, client = setup
    image = caption_images(1)[0]
    classifier = make_sample_run(store)
    with pytest.raises(Refused, match="classifies images; it writes no captions"):
        client.caption(classifier.id, sample_images(1)[0], 3)
    with pytest.raises(Refused, match="writes captions; it has no classes to rank"):
        client.predict(run.id, image)
    for beam in (0, 65):
        with pytest.raises(Refused, match=f"beam_width={beam} must be a whole number from 1"):
            client.caption(run.id, image, beam)
    with pytest.raises(Refused, match=r"expected uint8 images shaped \(N, 16, 16, 3\)"):
        client.caption(run.id, image[:8], 3)
    assert client.worker.starts == 1


def test_a_changed_tokenizer_or_model_is_checked_again(setup):
    store, run, client = setup
    image = caption_images(1)[0]
    first = client.caption(run.id, image, 2).text
    folder = store.run_dir(run.id)
    tokenizer, model = (folder / TOKENIZER).read_bytes(), (folder / FINAL_MODEL).read_bytes()
    try:
        (folder / TOKENIZER).write_text("{not a tokenizer")
        with pytest.raises(Refused, match="is not a tokenizer file"):
            client.caption(run.id, image, 2)
        (folder / TOKENIZER).write_bytes(tokenizer)
        tampered = bytearray(model)
        tampered[-64] ^= 0xFF
        (folder / FINAL_MODEL).write_bytes(bytes(tampered))
        with pytest.raises(Refused, match="does not match the checksum"):
            client.caption(run.id, image, 2)
    finally:
        (folder / TOKENIZER).write_bytes(tokenizer)
        (folder / FINAL_MODEL).write_bytes(model)
    assert client.caption(run.id, image, 2).text == first


def test_a_caption_runs_examples_are_its_test_images_named_by_a_true_caption(setup):
    _, run, client = setup
    files = client.examples(run.id)
    assert len(files) == 8 and all(f.suffix == ".png" for f in files)
    assert all(f.stem[3:].startswith("a-") for f in files), [f.name for f in files]
