"""The Gradio demo through gradio_client: same answers as the CLI, refusals with messages.

The Blocks from `build_demo` is launched in this process (as on the studio's server, only
standalone) and its inference worker is a real subprocess that imports keras.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

from studio.cli import main
from studio.demo import API_NAME, CAPTION_API_NAME
from studio.demo.app import MAX_UPLOAD, build_demo
from studio.runs.artifacts import FINAL_MODEL
from studio.runs.store import RunStore
from tests.conftest import SHARED_DATA
from tests.helpers.probe_images import write_bad_images, write_good_images
from tests.helpers.sample_run import make_sample_run

gradio_client = pytest.importorskip("gradio_client")
AppError = gradio_client.exceptions.AppError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo-home")
    store = RunStore(home)
    run = make_sample_run(store)
    spare = make_sample_run(store, seed=1)  # for the tampering test
    folder = tmp_path_factory.mktemp("probe")
    good, bad = write_good_images(folder / "good"), write_bad_images(folder / "bad")
    photos = sorted((SHARED_DATA / "photos").glob("*"))[:4] if SHARED_DATA.is_dir() else []
    blocks = build_demo(store, max_batch_size=8)
    _, url, _ = blocks.launch(
        server_name="127.0.0.1",
        server_port=_free_port(),
        prevent_thread_lock=True,
        quiet=True,
        share=False,
        max_file_size=MAX_UPLOAD,
    )
    client = gradio_client.Client(url, verbose=False)
    yield SimpleNamespace(
        home=home,
        store=store,
        run=run.id,
        spare=spare.id,
        good=[*good.values(), *photos],
        bad=bad,
        blocks=blocks,
        client=client,
        url=url,
    )
    blocks.inference_client.close()
    blocks.close()


def ask(demo, path, run=None, top_k=5):
    handle = gradio_client.handle_file(str(path)) if path is not None else None
    return demo.client.predict(run=run or demo.run, image=handle, top_k=top_k, api_name=API_NAME)


def cli_json(demo, monkeypatch, capsys, paths, top_k=5) -> list[list[dict]]:
    monkeypatch.setenv("STUDIO_HOME", str(demo.home))
    code = main(["predict", demo.run, *map(str, paths), "--top-k", str(top_k), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return [p["top_k"] for p in json.loads(out)["predictions"]]


def assert_same(labels: dict, expected: list[dict]) -> None:
    got = [(c["label"], c["confidence"]) for c in labels["confidences"]]
    assert [name for name, _ in got] == [row["label"] for row in expected]
    assert labels["label"] == expected[0]["label"]
    # Logits of one image can differ in the last float32 bit with the batch it ran in.
    np.testing.assert_allclose(
        [p for _, p in got], [row["probability"] for row in expected], atol=1e-6
    )


def test_the_api_is_documented_under_predict_and_share_links_are_off(demo):
    api = demo.client.view_api(return_format="dict", print_info=False)
    endpoint = api["named_endpoints"][API_NAME]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["run", "image", "top_k"]
    # UI-only events stay private; a caption run's endpoint is the other public one.
    assert list(api["named_endpoints"]) == [API_NAME, CAPTION_API_NAME]
    assert not demo.blocks.share


def test_predictions_through_gradio_client_equal_the_cli(demo, monkeypatch, capsys):
    expected = cli_json(demo, monkeypatch, capsys, demo.good)
    for path, rows in zip(demo.good, expected, strict=True):
        labels, timing = ask(demo, path)
        assert_same(labels, rows)
        assert timing.endswith(")") and " ms (decode " in timing and "batch of" in timing


def test_concurrent_requests_all_get_their_own_answer(demo, monkeypatch, capsys):
    paths = demo.good * 3
    expected = cli_json(demo, monkeypatch, capsys, paths, top_k=3)
    # One client (one session) per caller, like different people: a gradio_client session
    # shared by threads may see its event stream closed under it.
    clients = [gradio_client.Client(demo.url, verbose=False) for _ in range(6)]

    answers: dict[int, dict] = {}

    def caller(k: int) -> None:
        for i in range(k, len(paths), len(clients)):
            handle = gradio_client.handle_file(str(paths[i]))
            answers[i] = clients[k].predict(run=demo.run, image=handle, top_k=3, api_name=API_NAME)[
                0
            ]

    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(caller, range(len(clients))))
    for client in clients:
        client.close()
    answers = [answers[i] for i in range(len(paths))]
    for labels, rows in zip(answers, expected, strict=True):
        assert_same(labels, rows)


@pytest.mark.parametrize("kind", ["not_an_image", "empty", "truncated", "huge"])
def test_bad_images_are_refused_with_the_decoders_reason(demo, kind):
    path, phrase = demo.bad[kind]
    with pytest.raises(AppError, match=phrase) as info:
        ask(demo, path)
    assert "Traceback" not in str(info.value)


def test_missing_inputs_unknown_runs_and_bad_top_k_get_messages(demo):
    image = demo.good[0]
    with pytest.raises(AppError, match="No image"):
        ask(demo, None)
    with pytest.raises(AppError, match="no run matches"):
        ask(demo, image, run="no-such-run")
    with pytest.raises(AppError, match="greater than maximum value 10"):  # the slider says
        ask(demo, image, top_k=11)


def test_a_model_tampered_with_after_loading_is_refused(demo):
    image = demo.good[0]
    ask(demo, image, run=demo.spare)  # loaded and cached by the worker
    path = demo.store.run_dir(demo.spare) / FINAL_MODEL
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[-64] ^= 0xFF
    path.write_bytes(bytes(tampered))
    try:
        with pytest.raises(AppError, match="does not match the checksum"):
            ask(demo, image, run=demo.spare)
    finally:
        path.write_bytes(original)
    labels, _ = ask(demo, image, run=demo.spare)
    assert labels["confidences"]


def test_the_worker_is_started_again_after_it_dies(demo):
    worker = demo.blocks.inference_client.worker
    ask(demo, demo.good[0])
    pid, starts = worker.pid, worker.starts
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    labels, _ = ask(demo, demo.good[0])
    assert labels["confidences"]
    assert worker.starts == starts + 1 and worker.pid != pid


def test_examples_are_test_images_of_the_runs_dataset(demo):
    from studio.demo.app import DemoHandlers

    handlers = DemoHandlers(demo.store, demo.blocks.inference_client)
    update, paths = handlers.examples(demo.run)
    # One example per class: digits has ten.
    assert len(paths) == 10 and all(p.endswith(".png") for p in paths)
    assert update.visible is not False
    labels, _ = ask(demo, paths[0])
    assert labels["confidences"]
