"""The export parity check against a hand-made case: a linear classifier written as an ONNX
graph by hand, run by onnxruntime, against the same arithmetic in numpy. Broken exports (a
perturbed weight, a file that is no model, a graph taking other inputs) must fail it.

No keras or TensorFlow here: the check itself, the format table and the stored results."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from studio.export.formats import FORMATS, UnknownFormat, resolve
from studio.export.parity import check, compare
from studio.export.results import read_results, summary_line
from studio.inference.predict import softmax
from studio.runs.artifacts import EXPORT_RESULT

SIZE, CLASSES = 4, 3


def linear_onnx(path, weights, bias, size=SIZE):
    """images (N, size, size, 3) -> flatten -> images @ weights + bias: logits (N, CLASSES)."""
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["images", "flat_shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["product"]),
            helper.make_node("Add", ["product", "bias"], ["logits"]),
        ],
        "linear",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[
            numpy_helper.from_array(np.array([-1, size * size * 3], np.int64), "flat_shape"),
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
            numpy_helper.from_array(bias.astype(np.float32), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.01, (SIZE * SIZE * 3, CLASSES))
    bias = rng.normal(0, 0.1, CLASSES)
    images = rng.integers(0, 256, (40, SIZE, SIZE, 3)).astype(np.float32)
    # The reference: the same classifier computed by hand, in float64.
    reference = softmax(images.reshape(len(images), -1).astype(np.float64) @ weights + bias)
    return tmp_path, weights, bias, images, reference


def test_a_faithful_export_passes_with_its_figures(case):
    folder, weights, bias, images, reference = case
    path = linear_onnx(folder / "model.onnx", weights, bias)
    parity, runtime = check("onnx", path, images, reference, FORMATS["onnx"].tolerance)
    assert parity.passed and parity.reason is None
    assert parity.images == 40 and parity.top1_agreement_pct == 100.0
    assert parity.max_abs_diff < 1e-5  # float32 against float64: rounding only
    assert runtime.name == "onnxruntime" and runtime.input_name == "images"
    assert runtime.input_shape == [None, SIZE, SIZE, 3] and runtime.input_dtype == "float32"


def test_a_perturbed_weight_is_caught(case):
    folder, weights, bias, images, reference = case
    broken = weights.copy()
    broken[5, 1] += 0.05  # one weight of 144, about five of its standard deviations
    path = linear_onnx(folder / "broken.onnx", broken, bias)
    parity, _ = check("onnx", path, images, reference, FORMATS["onnx"].tolerance)
    assert not parity.passed
    assert parity.max_abs_diff > FORMATS["onnx"].tolerance
    assert "exceeds the tolerance" in parity.reason


def test_a_file_that_is_no_model_fails_in_words(case):
    folder, _, _, images, reference = case
    path = folder / "model.onnx"
    path.write_bytes(b"PK\x03\x04 this is a zip, not an ONNX graph")
    parity, runtime = check("onnx", path, images, reference, 1e-4)
    assert not parity.passed and runtime is None
    assert parity.reason.startswith("onnxruntime cannot load it") and "\n" not in parity.reason


def test_a_graph_for_other_images_is_refused(case):
    folder, _, bias, images, reference = case
    other = np.zeros((8 * 8 * 3, CLASSES))
    path = linear_onnx(folder / "model.onnx", other, bias, size=8)
    parity, _ = check("onnx", path, images, reference, 1e-4)
    assert not parity.passed
    assert "[None, 8, 8, 3]" in parity.reason and "(N, 4, 4, 3)" in parity.reason


def test_compare_rules():
    ref = softmax(np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]]))
    assert compare(ref, ref, 1e-6).passed
    near = ref + np.array([[5e-5, -5e-5, 0.0], [0.0, 0.0, 0.0]])
    assert compare(ref, near, 1e-4).passed and not compare(ref, near, 1e-5).passed
    swapped = ref[:, ::-1]
    result = compare(ref, swapped, 1e-4)
    assert not result.passed and result.top1_agreement_pct == 0.0
    shape = compare(ref, ref[:, :2], 1e-4)
    assert not shape.passed and shape.max_abs_diff is None and "shape (2, 2)" in shape.reason
    nan = ref.copy()
    nan[1, 0] = np.nan
    assert compare(ref, nan, 1e-4).reason == "non-finite outputs on 1 images"


def test_format_names():
    assert [f.name for f in resolve("all")] == ["keras", "savedmodel", "onnx", "litert"]
    assert [f.name for f in resolve("ONNX, litert,onnx")] == ["onnx", "litert"]
    with pytest.raises(UnknownFormat, match="'pdf' is not a format: use keras, savedmodel"):
        resolve("onnx,pdf")
    with pytest.raises(UnknownFormat, match="name a format"):
        resolve(" , ")


def test_stored_results_are_read_and_half_written_ones_ignored(tmp_path):
    exports = tmp_path / "exports"
    (exports / "onnx").mkdir(parents=True)
    result = {
        "format": "onnx",
        "passed": True,
        "reason": None,
        "size_bytes": 739273,
        "parity": {
            "images": 64,
            "max_abs_diff": 2.5e-7,
            "top1_agreement_pct": 100.0,
            "tolerance": 1e-4,
        },
    }
    (exports / "onnx" / EXPORT_RESULT).write_text(json.dumps(result))
    (exports / ".partial-litert-123").mkdir()
    (exports / ".partial-litert-123" / EXPORT_RESULT).write_text(json.dumps(result))
    (exports / "keras").mkdir()
    (exports / "keras" / EXPORT_RESULT).write_text("{not json")
    assert list(read_results(tmp_path)) == ["onnx"]
    assert summary_line(result) == (
        "ok  739.3 KB  max |Δp| 2.5e-07 (tolerance 1e-04)  top-1 agreement 100.0% on 64 images"
    )
    failed = {"passed": False, "reason": "cannot be produced", "parity": {"max_abs_diff": None}}
    assert summary_line(failed) == "FAILED: cannot be produced"
