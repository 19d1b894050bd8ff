"""`python -m studio space RUN OUT_DIR` for a caption run: the Space carries the tokenizer and
the caption search, runs alone and captions as `predict RUN IMAGE --beam N` does.

Started as in test_space_export.py: its own folder as working directory, PYTHONPATH ignored,
so nothing of the studio can be imported.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from studio.cli import main
from studio.inference.examples import write_examples
from studio.inference.local import caption_files
from studio.runs.artifacts import TOKENIZER
from studio.runs.store import RunStore
from studio.space.export import allowed, folder_files
from tests.helpers.caption_run import make_caption_run
from tests.helpers.probe_images import write_bad_images, write_good_images
from tests.helpers.space_app import running_space


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("caption-space-home")
    store = RunStore(home)
    run = make_caption_run(store, test={"bleu4": 0.125, "cider": 0.5})
    write_examples(store, run.id)
    return home


@pytest.fixture(scope="module")
def run_id(home):
    return RunStore(home).list_runs()[0].id


@pytest.fixture(scope="module")
def exported(home, run_id, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "space"
    env = os.environ.get("STUDIO_HOME")
    os.environ["STUDIO_HOME"] = str(home)
    try:
        assert main(["space", run_id, str(out)]) == 0
    finally:
        if env is None:
            os.environ.pop("STUDIO_HOME")
        else:
            os.environ["STUDIO_HOME"] = env
    return out


def test_a_caption_space_carries_the_tokenizer_and_the_search(exported, home, run_id):
    files = folder_files(exported)
    assert all(allowed(f) for f in files), files
    for name in (TOKENIZER, "vit_runtime/tokenizer.py", "vit_runtime/captioning.py"):
        assert name in files
    assert "vit_runtime/layers/captions.py" in files
    assert len([f for f in files if f.startswith("examples/")]) == 8
    labels = json.loads((exported / "labels.json").read_text())
    store = RunStore(home)
    assert labels["task"] == "caption" and labels["model_sha256"] == store.get(run_id).model_sha256
    assert (exported / TOKENIZER).read_bytes() == (store.run_dir(run_id) / TOKENIZER).read_bytes()
    assert labels["beam_width"] == 3 and labels["max_beam_width"] == 8
    pins = dict(line.split("==") for line in (exported / "requirements.txt").read_text().split())
    for name in ("keras-hub", "tokenizers", "keras", "gradio"):
        assert pins[name] == importlib.metadata.version(name)
    for path in exported.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+studio\b", text, re.MULTILINE), path
        assert "studio.layers" not in text and "studio.text" not in text, path
    readme = (exported / "README.md").read_text()
    assert 'api_name="/caption"' in readme and "image-to-text" in readme
    assert "0.125" in readme and "top-k" not in readme


def test_the_exported_caption_app_runs_alone_and_answers_like_the_studio(
    exported, home, run_id, tmp_path
):
    gradio_client = pytest.importorskip("gradio_client")
    with running_space(exported, tmp_path) as client:
        api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert list(api) == ["/caption"]
        images = [*write_good_images(tmp_path / "good").values()][:3]
        images += sorted(exported.glob("examples/*.png"))[:2]
        for beam in (1, 3):
            _, expected = caption_files(RunStore(home), run_id, images, beam)
            got = [
                client.predict(
                    image=gradio_client.handle_file(str(path)), beam_width=beam, api_name="/caption"
                )
                for path in images
            ]
            assert got == expected
        bad, phrase = write_bad_images(tmp_path / "bad")["not_an_image"]
        with pytest.raises(gradio_client.exceptions.AppError, match=phrase):
            client.predict(image=gradio_client.handle_file(str(bad)), api_name="/caption")
        with pytest.raises(gradio_client.exceptions.AppError, match="greater than maximum value 8"):
            client.predict(
                image=gradio_client.handle_file(str(images[0])), beam_width=9, api_name="/caption"
            )


def test_the_exported_caption_app_refuses_a_changed_tokenizer(exported, tmp_path):
    copy = tmp_path / "space"
    shutil.copytree(exported, copy)
    (copy / TOKENIZER).write_text((copy / TOKENIZER).read_text().replace("circle", "square"))
    proc = subprocess.run(
        [sys.executable, "-E", "-s", "app.py"], cwd=copy, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "tokenizer.json does not match the sha256 in labels.json" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_caption_run_without_its_tokenizer_is_not_exported(
    home, run_id, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("STUDIO_HOME", str(home))
    path = RunStore(home).run_dir(run_id) / TOKENIZER
    kept = path.read_bytes()
    path.unlink()
    try:
        assert main(["space", run_id, str(tmp_path / "out")]) == 2
    finally:
        path.write_bytes(kept)
    assert f"has no {TOKENIZER}: its words are unknown" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
