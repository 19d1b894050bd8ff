"""`python -m studio space RUN OUT_DIR`: an allowlisted, standalone Space folder.

The slow test starts the exported `app.py` in a subprocess that cannot import the studio
(its own folder as working directory, PYTHONPATH ignored) and asks it through gradio_client.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main
from studio.inference.examples import write_examples
from studio.inference.local import predict_files
from studio.runs.artifacts import FINAL_MODEL
from studio.runs.store import RunStore
from studio.space.export import ALLOWLIST, allowed, folder_files
from tests.helpers.probe_images import write_bad_images, write_good_images
from tests.helpers.sample_run import make_sample_run
from tests.helpers.space_app import running_space


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("space-home")
    store = RunStore(home)
    run = make_sample_run(store, test={"loss": 2.1, "accuracy": 0.25, "top5": 0.7})
    write_examples(store, run.id)  # in-process, so the export needs no subprocess for them
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


@pytest.fixture
def cli(home, monkeypatch, run_cli):
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return run_cli


def front_matter(readme: str) -> dict[str, str]:
    block = readme.split("---\n")[1]
    fields = {}
    for line in block.splitlines():
        if ":" in line and not line.startswith(" "):
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip().strip('"')
    return fields


def test_export_holds_only_allowlisted_files(exported):
    files = folder_files(exported)
    assert all(allowed(f) for f in files), files
    for required in ("README.md", "app.py", "requirements.txt", "model.keras", "labels.json"):
        assert required in files
    assert "vit_runtime/images.py" in files and "vit_runtime/layers/patches.py" in files
    assert any(f.startswith("examples/") for f in files)
    assert not any(n in f for f in files for n in ("checkpoint", "config.json", "worker.log"))
    assert not any(p.name.startswith(".") for p in exported.parent.iterdir())  # no staging left


def test_model_and_labels_are_the_runs_with_the_checksum(exported, home, run_id):
    run = RunStore(home).get(run_id)
    labels = json.loads((exported / "labels.json").read_text())
    assert labels["model_sha256"] == run.model_sha256
    assert labels["class_names"] == [str(d) for d in range(10)] and labels["input_size"] == 32
    assert (exported / FINAL_MODEL).read_bytes() == (
        RunStore(home).run_dir(run_id) / FINAL_MODEL
    ).read_bytes()


def test_requirements_are_pinned_to_the_installed_versions(exported):
    pins = dict(
        line.split("==") for line in (exported / "requirements.txt").read_text().splitlines()
    )
    for name in ("keras", "numpy", "pillow", "gradio"):
        assert pins[name] == importlib.metadata.version(name)
    backend = "tensorflow-cpu" if "tensorflow-cpu" in pins else "tensorflow"
    assert pins[backend] == importlib.metadata.version(backend)


def test_readme_has_space_front_matter_and_a_model_card(exported, run_id):
    readme = (exported / "README.md").read_text()
    meta = front_matter(readme)
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == importlib.metadata.version("gradio")
    assert meta["app_file"] == "app.py"
    assert meta["license"] == "apache-2.0"
    assert meta["title"] and meta["emoji"]
    assert len(meta["short_description"]) <= 60
    for words in (run_id, "digits", "spt-lsa", "1 of 1", "25.0 %", "70.0 %", "2.1000"):
        assert words in readme, words
    assert 'api_name="/predict"' in readme


def test_the_runtime_copies_import_nothing_of_the_studio(exported):
    for path in exported.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+studio\b", text, re.MULTILINE), path
        assert "studio.layers" not in text and "studio.datasets" not in text, path


def test_a_tampered_model_is_not_exported(cli, home, run_id, tmp_path):
    store = RunStore(home)
    path = store.run_dir(run_id) / FINAL_MODEL
    original = path.read_bytes()
    path.write_bytes(original[:-10] + b"0123456789")
    try:
        code, _, err = cli("space", run_id, str(tmp_path / "out"))
    finally:
        path.write_bytes(original)
    assert code == 2 and "does not match the checksum" in err
    assert not (tmp_path / "out").exists()


def test_a_fine_tuned_vit_b16_run_is_refused_with_the_reason(cli, home, run_id, tmp_path):
    import shutil

    from studio.config import make_config

    store = RunStore(home)
    other = store.create_run(make_config("finetune", "digits", "vit-b16").to_dict())
    for name in (FINAL_MODEL, "labels.json"):  # a real model file, so only the family differs
        shutil.copyfile(store.run_dir(run_id) / name, store.run_dir(other.id) / name)
    store.update(other.id, model_sha256=store.get(run_id).model_sha256)
    store.finish(other.id, "completed")
    try:
        code, _, err = cli("space", other.id, str(tmp_path / "out"))
    finally:
        store.delete(other.id)
    assert code == 2
    assert "is a vit-b16 run: Space export works for the Vanilla ViT" in err
    assert "ViT + SPT + LSA runs only" in err and "python -m studio predict" in err
    assert not (tmp_path / "out").exists()


def test_a_non_empty_folder_is_never_overwritten_unless_it_is_an_export(cli, run_id, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    code, _, err = cli("space", run_id, str(mine))
    assert code == 2 and "not empty" in err
    code, _, err = cli("space", run_id, str(mine), "--overwrite")
    assert code == 2 and "thesis.tex" in err
    assert (mine / "thesis.tex").read_text() == "precious"

    again = tmp_path / "again"
    assert cli("space", run_id, str(again))[0] == 0
    code, out, _ = cli("space", run_id, str(again), "--overwrite", "--title", "Digits demo")
    assert code == 0 and "exported" in out
    assert json.loads((again / "labels.json").read_text())["title"] == "Digits demo"


def test_allowlist_matches_nothing_hidden_or_outside():
    assert allowed("vit_runtime/layers/encoder.py") and allowed("examples/00-3.png")
    for name in (".git/config", "examples/.x.png", "secrets.txt", "checkpoint.keras", "a/app.py"):
        assert not allowed(name), name
    assert "model.keras" in ALLOWLIST


def test_the_exported_app_runs_alone_and_answers_like_the_studio(exported, home, run_id, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    with running_space(exported, tmp_path) as client:
        images = [*write_good_images(tmp_path / "good").values()][:4]
        images += sorted(exported.glob("examples/*.png"))[:2]
        _, expected = predict_files(RunStore(home), run_id, images, k=5)
        for path, rows in zip(images, expected, strict=True):
            labels, timing = client.predict(
                image=gradio_client.handle_file(str(path)), top_k=5, api_name="/predict"
            )
            assert labels["label"] == rows[0][0]
            assert [c["label"] for c in labels["confidences"]] == [name for name, _ in rows]
            np.testing.assert_allclose(
                [c["confidence"] for c in labels["confidences"]], [p for _, p in rows], atol=1e-6
            )
            assert timing.endswith("ms")
        bad, phrase = write_bad_images(tmp_path / "bad")["truncated"]
        with pytest.raises(gradio_client.exceptions.AppError, match=phrase):
            client.predict(image=gradio_client.handle_file(str(bad)), api_name="/predict")
        assert not any(p.suffix == ".pyi" for p in Path(exported).rglob("*"))


def test_the_exported_app_refuses_a_tampered_model(exported, tmp_path):
    import shutil

    copy = tmp_path / "space"
    shutil.copytree(exported, copy)
    data = bytearray((copy / FINAL_MODEL).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / FINAL_MODEL).write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, "-E", "-s", "app.py"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "does not match the sha256 in labels.json" in proc.stderr
    assert "Traceback" not in proc.stderr
