"""The Gradio demo with a caption run, through gradio_client: the documented /caption endpoint
answers as `python -m studio predict RUN IMAGE --beam N` does; refusals come as messages.

The Blocks from `build_demo` is launched in this process (as in test_demo_gradio.py) and its
inference worker is a real subprocess that imports keras.
"""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest

from studio.cli import main
from studio.demo import API_NAME, CAPTION_API_NAME, MAX_BEAM_WIDTH
from studio.demo.app import MAX_UPLOAD, DemoHandlers, build_demo
from studio.runs.store import RunStore
from tests.helpers.caption_run import make_caption_run
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
    home = tmp_path_factory.mktemp("caption-demo-home")
    store = RunStore(home)
    classifier = make_sample_run(store)
    run = make_caption_run(store, test={"bleu4": 0.25, "cider": 0.5})
    folder = tmp_path_factory.mktemp("probe")
    good, bad = write_good_images(folder / "good"), write_bad_images(folder / "bad")
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
        classifier=classifier.id,
        good=list(good.values())[:4],
        bad=bad,
        blocks=blocks,
        client=client,
    )
    blocks.inference_client.close()
    blocks.close()


def ask(demo, path, run=None, beam_width=3):
    handle = gradio_client.handle_file(str(path)) if path is not None else None
    return demo.client.predict(
        run=run or demo.run, image=handle, beam_width=beam_width, api_name=CAPTION_API_NAME
    )


def cli_captions(demo, monkeypatch, capsys, paths, beam) -> list[str]:
    monkeypatch.setenv("STUDIO_HOME", str(demo.home))
    code = main(["predict", demo.run, *map(str, paths), "--beam", str(beam), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return [row["caption"] for row in json.loads(out)["captions"]]


def test_the_caption_endpoint_is_documented_beside_predict(demo):
    api = demo.client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == [API_NAME, CAPTION_API_NAME]
    endpoint = api["named_endpoints"][CAPTION_API_NAME]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["run", "image", "beam_width"]
    assert [r["component"] for r in endpoint["returns"]] == ["Textbox"]  # the caption alone
    assert "beam" in endpoint["description"]


@pytest.mark.parametrize("beam", [1, 4])
def test_captions_through_gradio_client_equal_the_cli(demo, monkeypatch, capsys, beam):
    expected = cli_captions(demo, monkeypatch, capsys, demo.good, beam)
    assert [ask(demo, path, beam_width=beam) for path in demo.good] == expected
    assert any(expected)  # the tiny model writes words


@pytest.mark.parametrize("kind", ["not_an_image", "truncated"])
def test_bad_images_are_refused_with_the_decoders_reason(demo, kind):
    path, phrase = demo.bad[kind]
    with pytest.raises(AppError, match=phrase) as info:
        ask(demo, path)
    assert "Traceback" not in str(info.value)


def test_wrong_runs_and_beam_widths_get_messages(demo):
    image = demo.good[0]
    with pytest.raises(AppError, match="classifies images, it writes no captions") as info:
        ask(demo, image, run=demo.classifier)
    assert "Traceback" not in str(info.value)
    with pytest.raises(AppError, match="writes captions; it has no classes to rank"):
        demo.client.predict(
            run=demo.run,
            image=gradio_client.handle_file(str(image)),
            top_k=5,
            api_name=API_NAME,
        )
    with pytest.raises(AppError, match=f"greater than maximum value {MAX_BEAM_WIDTH}"):
        ask(demo, image, beam_width=MAX_BEAM_WIDTH + 1)
    with pytest.raises(AppError, match="less than minimum value 1"):
        ask(demo, image, beam_width=0)
    with pytest.raises(AppError, match="No image"):
        ask(demo, None)
    with pytest.raises(AppError, match="no run matches"):
        ask(demo, image, run="no-such-run")


def test_both_kinds_of_run_are_listed_and_shown_as_their_task_asks(demo):
    handlers = DemoHandlers(demo.store, demo.blocks.inference_client)
    assert {value for _, value in handlers.choices()} == {demo.run, demo.classifier}
    assert "test BLEU-4 0.250" in handlers.on_run(demo.run)
    classify_in, classify_out, caption_in, caption_out, beam = handlers.on_task(demo.run)
    assert caption_in.visible and caption_out.visible
    assert not classify_in.visible and not classify_out.visible
    assert beam.value == 3  # the run's caption.beam_width
    assert not handlers.on_task(demo.classifier)[2].visible
    assert handlers.predict_or_clear(demo.run, str(demo.good[0]), 5) == (None, "")
    assert handlers.caption_or_clear(demo.classifier, str(demo.good[0]), 3) == ("", "")
    text, timing = handlers.caption(demo.run, str(demo.good[0]), 1)
    assert text == ask(demo, demo.good[0], beam_width=1)
    assert "greedy" in timing and "batch of" in timing
    update, paths = handlers.examples(demo.run)
    assert len(paths) == 8 and update.visible is not False
    assert isinstance(ask(demo, paths[0]), str)
