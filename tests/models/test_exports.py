"""`python -m studio export`: a tiny finished run written in every format, each export run by
its own runtime (Keras, TensorFlow's serving signature, onnxruntime, the LiteRT interpreter)
on the run's test images and matching the `.keras` model; broken exports caught by the check.

The SavedModel, ONNX and LiteRT files are written by TensorFlow's converters: under
KERAS_BACKEND=jax (`make test` runs tests/models again) this module skips.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

if keras.backend.backend() != "tensorflow":
    pytest.skip(
        "exports are written by TensorFlow's converters (SavedModel, tf2onnx, TFLite); "
        f"this run uses Keras on {keras.backend.backend()}",
        allow_module_level=True,
    )

from studio.export.formats import FORMATS
from studio.export.parity import check
from studio.export.producer import export_run, parity_images, predict
from studio.export.results import read_results
from studio.inference.loading import load_run_model
from studio.runs.artifacts import EXPORT_RESULT, EXPORTS, model_info
from studio.runs.store import RunStore
from studio.training import precision
from tests.helpers.sample_run import make_sample_run

IMAGES = 16


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("export-home"))


@pytest.fixture(scope="module")
def exported(store):
    """The tiny SPT + LSA run (augmentation and dropout in its graph) in every format."""
    run = make_sample_run(store)
    return run, export_run(store, run.id, images=IMAGES)


@pytest.fixture(scope="module")
def reference(store, exported):
    """The run's test images and the .keras model's probabilities on them."""
    run, _ = exported
    images, _ = parity_images(store, model_info(store, run.id), IMAGES)
    return images.astype(np.float32), predict(load_run_model(store, run.id), images)


def test_every_format_passes_its_parity_check(store, exported):
    run, results = exported
    assert [r["format"] for r in results] == list(FORMATS)
    run_dir = store.run_dir(run.id)
    for result in results:
        fmt = FORMATS[result["format"]]
        parity = result["parity"]
        assert result["passed"], result
        assert parity["max_abs_diff"] <= fmt.tolerance
        assert parity["top1_agreement_pct"] == 100.0 and parity["images"] == IMAGES
        assert parity["image_source"] == f"{IMAGES} test images of digits"
        # The export takes what the run's model takes: float32 (N, 32, 32, 3) pixels.
        assert result["input"]["shape"] == [None, 32, 32, 3]
        assert result["input"]["dtype"] == "float32"
        assert (run_dir / result["file"]).exists() and result["size_bytes"] > 0
    stored = read_results(run_dir)
    assert {name: r["passed"] for name, r in stored.items()} == dict.fromkeys(FORMATS, True)
    assert stored["keras"]["sha256"] == run.model_sha256
    assert stored["onnx"]["runtime"]["name"] == "onnxruntime"
    assert stored["litert"]["runtime"]["name"] == "ai-edge-litert"
    # Nothing half-written is left beside the exports.
    assert sorted(p.name for p in (run_dir / EXPORTS).iterdir()) == sorted(FORMATS)


def test_a_perturbed_onnx_export_is_caught(exported, store, reference, tmp_path):
    run, _ = exported
    images, probs = reference
    graph = onnx.load(str(store.run_dir(run.id) / EXPORTS / "onnx" / "model.onnx"))
    # The classifier's kernel: the float initializer with the most values of width 10.
    kernels = [i for i in graph.graph.initializer if list(i.dims)[-1:] == [10] and i.data_type == 1]
    kernel = max(kernels, key=lambda i: np.prod(i.dims))
    values = numpy_helper.to_array(kernel).copy()
    values[..., 3] += 0.5
    kernel.CopyFrom(numpy_helper.from_array(values, kernel.name))
    onnx.save(graph, str(tmp_path / "broken.onnx"))
    parity, _ = check("onnx", tmp_path / "broken.onnx", images, probs, FORMATS["onnx"].tolerance)
    assert not parity.passed and "exceeds the tolerance" in parity.reason


def test_a_savedmodel_of_other_weights_is_caught(exported, store, reference, tmp_path):
    from studio.export.producer import inference_model

    run, _ = exported
    images, probs = reference
    model = load_run_model(store, run.id)
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel, bias + np.linspace(0, 1, bias.shape[0], dtype=bias.dtype)])
    inference_model(model).export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    parity, runtime = check("savedmodel", tmp_path / "sm", images, probs, 1e-4)
    assert runtime.name == "tensorflow" and not parity.passed
    assert parity.max_abs_diff > 1e-2


def test_a_truncated_litert_file_fails_in_words(exported, store, reference, tmp_path):
    run, _ = exported
    images, probs = reference
    whole = (store.run_dir(run.id) / EXPORTS / "litert" / "model.tflite").read_bytes()
    (tmp_path / "model.tflite").write_bytes(whole[: len(whole) // 3])
    parity, _ = check("litert", tmp_path / "model.tflite", images, probs, 1e-4)
    assert not parity.passed and "\n" not in parity.reason
    assert parity.reason.startswith("the LiteRT interpreter cannot load it")


def test_deit_exports_its_averaged_heads(store):
    # DeiT's prediction is log(mean of two softmaxes): Log1p, which tf2onnx lacks.
    run = make_sample_run(store, variant="deit")
    results = export_run(store, run.id, [FORMATS["onnx"], FORMATS["litert"]], images=8)
    assert [r["passed"] for r in results] == [True, True], results


def test_a_pretrained_vit_b16_run_exports_to_onnx(store, tmp_path):
    pytest.importorskip("keras_hub")
    from tests.helpers.tiny import tiny_vit_preset

    # A random-weight keras-hub ViT saved as a local preset stands in for ViT-B/16.
    preset = tiny_vit_preset(tmp_path / "preset")
    run = make_sample_run(store, variant="vit-b16", **{"model.pretrained": preset})
    [result] = export_run(store, run.id, [FORMATS["onnx"]], images=8)
    assert result["passed"], result


def test_a_mixed_precision_run_is_exported_in_float32(store):
    with precision.policy("bfloat16"):
        run = make_sample_run(store, variant="vit", seed=1)
    [result] = export_run(store, run.id, [FORMATS["onnx"]], images=8)
    assert result["passed"], result
    assert (result["precision"], result["trained_precision"]) == ("float32", "mixed_bfloat16")
    gap = result["float32_vs_trained"]
    assert 0 < gap["max_abs_diff"] < 0.1  # bfloat16 keeps about 3 significant digits


def test_cli_export_prints_figures_and_json(store, exported, run_cli, monkeypatch):
    run, _ = exported
    monkeypatch.setenv("STUDIO_HOME", str(store.home))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # the verb sets it; put it back after
    code, out, _ = run_cli("export", run.id[:6], "--format", "keras", "--images", "4")
    assert code == 0
    assert out.splitlines()[-2].startswith("     keras: ok ")
    assert "max |Δp| 0.0e+00 (tolerance 1e-06)  top-1 agreement 100.0% on 4 images" in out
    code, out, _ = run_cli("export", run.id, "--format", "keras", "--images", "4", "--json")
    [result] = json.loads(out)["exports"]
    assert code == 0 and result["passed"] and result["path"].endswith("exports/keras/model.keras")
    stored = store.run_dir(run.id) / EXPORTS / "keras" / EXPORT_RESULT
    assert json.loads(stored.read_text())["parity"] == result["parity"]


def test_formats_that_cannot_be_produced_say_why_and_leave_no_file(store, monkeypatch):
    import dataclasses

    from studio.export import producer

    run = make_sample_run(store, variant="vit", seed=2)
    refused = dataclasses.replace(FORMATS["onnx"], cannot={"vit": "no reason but a test's"})

    def crash(*_args):
        raise RuntimeError("converter gave up\nwith a long traceback")

    monkeypatch.setitem(producer.WRITERS, "litert", crash)
    results = export_run(store, run.id, [refused, FORMATS["litert"]], images=4)
    assert [r["reason"] for r in results] == [
        "cannot be produced for a vit run: no reason but a test's",
        "LiteRT (.tflite) export failed (RuntimeError: converter gave up)",
    ]
    exports = store.run_dir(run.id) / EXPORTS
    for result in results:
        assert not result["passed"] and result["file"] is None
        # Only the stored verdict, nothing half-written, and nothing hidden left behind.
        assert [p.name for p in (exports / result["format"]).iterdir()] == [EXPORT_RESULT]
    assert sorted(p.name for p in exports.iterdir()) == ["litert", "onnx"]
