"""`python -m studio predict`: top-k through the run's own preprocessing; refusals with reasons.

A tiny untrained ViT stands in for a trained run (tests.helpers.sample_run writes it exactly as
the trainer does: `.keras` file, checksum in the store, labels.json).
"""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from studio.datasets.images import decode_image
from studio.inference.local import predict_files
from studio.runs.artifacts import FINAL_MODEL
from studio.runs.store import RunStore
from tests.helpers.probe_images import write_bad_images, write_good_images
from tests.helpers.sample_run import make_sample_run


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("predict-home")


@pytest.fixture(scope="module")
def run_id(home):
    return make_sample_run(RunStore(home)).id


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    return write_good_images(folder / "good"), write_bad_images(folder / "bad")


@pytest.fixture
def cli(home, monkeypatch, run_cli):
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return run_cli


def test_predict_json_gives_ranked_top_k_equal_to_the_model_itself(cli, run_id, images, home):
    good, _ = images
    paths = [str(p) for p in good.values()]
    code, out, _ = cli("predict", run_id, *paths, "--top-k", "3", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["run"] == run_id and len(report["model_sha256"]) == 64
    assert [p["image"] for p in report["predictions"]] == paths

    # An independent computation: the shared decoder, the model called eagerly, softmax.
    model = keras.saving.load_model(RunStore(home).run_dir(run_id) / FINAL_MODEL, safe_mode=True)
    for path, prediction in zip(paths, report["predictions"], strict=True):
        x = decode_image(path, size=32)[None].astype("float32")
        logits = keras.ops.convert_to_numpy(model(x, training=False))[0].astype("float64")
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        expected = np.argsort(-probs, kind="stable")[:3]
        got = prediction["top_k"]
        assert [row["label"] for row in got] == [str(i) for i in expected]
        np.testing.assert_allclose([row["probability"] for row in got], probs[expected], atol=1e-6)


def test_predict_text_output_lists_classes_with_percentages(cli, run_id, images):
    good, _ = images
    code, out, _ = cli("predict", run_id, str(good["rgb_png"]))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith(str(good["rgb_png"])) and run_id in lines[0]
    assert len(lines) == 1 + 5 and all(line.strip().endswith("%") for line in lines[1:])


@pytest.mark.parametrize("kind", ["not_an_image", "empty", "truncated", "huge"])
def test_bad_images_are_refused_with_one_line_and_exit_2(cli, run_id, images, kind):
    path, phrase = images[1][kind]
    code, out, err = cli("predict", run_id, str(path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and phrase in err and str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_image_file_and_bad_top_k_are_refused(cli, run_id, tmp_path):
    code, _, err = cli("predict", run_id, str(tmp_path / "nope.png"))
    assert code == 2 and "file not found" in err
    code, _, err = cli("predict", run_id, str(tmp_path / "nope.png"), "--top-k", "0")
    assert code == 2 and "--top-k" in err


def _copy_run(home, run_id) -> str:
    """A second completed run with the same files, for tests that break one."""
    store = RunStore(home)
    source = store.get(run_id)
    copy = store.create_run(source.config)
    for name in ("model.keras", "labels.json"):
        shutil.copyfile(store.run_dir(run_id) / name, store.run_dir(copy.id) / name)
    store.update(copy.id, status="completed", model_sha256=source.model_sha256)
    return copy.id


def test_tampered_missing_and_foreign_models_are_refused(cli, home, run_id, images):
    store = RunStore(home)
    image = str(images[0]["rgb_png"])

    tampered = _copy_run(home, run_id)
    path = store.run_dir(tampered) / FINAL_MODEL
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = cli("predict", tampered, image)
    assert code == 2 and "does not match the checksum" in err

    missing = _copy_run(home, run_id)
    (store.run_dir(missing) / FINAL_MODEL).unlink()
    code, _, err = cli("predict", missing, image)
    assert code == 2 and "is missing" in err

    foreign = _copy_run(home, run_id)
    store.update(foreign, model_sha256=None)
    code, _, err = cli("predict", foreign, image)
    assert code == 2 and "no recorded checksum" in err

    code, _, err = cli("predict", "no-such-run", image)
    assert code == 2 and "no run matches" in err


def test_safe_mode_refuses_a_lambda_even_with_a_matching_checksum(cli, home, run_id, tmp_path):
    """A recorded checksum is not enough to run code: safe_mode still refuses lambdas."""
    marker = tmp_path / "code-ran"
    inputs = keras.Input((32, 32, 3))
    flat = keras.layers.Flatten()(inputs)
    # The marker's path is a constant inside the lambda's code, so it travels in the file.
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    outputs = keras.layers.Lambda(eval(f"lambda x: x[:, :10] * 0 + float({touch} or 0)"))(flat)
    evil = keras.Model(inputs, outputs)
    marker.unlink(missing_ok=True)

    store = RunStore(home)
    victim = _copy_run(home, run_id)
    path = store.run_dir(victim) / FINAL_MODEL
    evil.save(path)
    marker.unlink(missing_ok=True)
    from studio.runs.artifacts import sha256_file

    store.update(victim, model_sha256=sha256_file(path))
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(image)
    code, _, err = cli("predict", victim, str(image))
    assert code == 2 and "could not be loaded safely" in err
    assert not marker.exists()


def test_predict_files_decodes_before_loading_the_model(home, run_id, images, monkeypatch):
    """A bad image is refused before keras loads anything (fast failure, same reason)."""
    import studio.inference.local as inference

    def boom(*_):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(inference, "load_model", boom)
    path, phrase = images[1]["truncated"]
    with pytest.raises(inference.ImageDecodeError, match=phrase):
        predict_files(RunStore(home), run_id, [images[0]["rgb_png"], path])
