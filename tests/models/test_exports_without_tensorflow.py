"""Exports on a Keras backend other than TensorFlow (`make test` runs tests/models under JAX):
the .keras copy is exported and checked, the formats TensorFlow writes are refused in words."""

from __future__ import annotations

import keras
import pytest

from studio.export.formats import FORMATS
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="on TensorFlow every format exports (tests/models/test_exports.py)",
)


def test_keras_exports_and_tensorflow_formats_say_why(tmp_path):
    from studio.export.producer import export_run

    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="vit")
    keras_result, onnx_result = export_run(
        store, run.id, [FORMATS["keras"], FORMATS["onnx"]], images=4
    )
    assert keras_result["passed"] and keras_result["parity"]["max_abs_diff"] == 0.0
    assert not onnx_result["passed"] and onnx_result["file"] is None
    assert onnx_result["reason"] == (
        "cannot be produced here: TensorFlow's converters write it and this process runs "
        f"Keras on {keras.backend.backend()} (export with KERAS_BACKEND=tensorflow)"
    )
