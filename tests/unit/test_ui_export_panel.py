"""The export panel: stored parity checks shown as a table, failures in words, and the
export run as a child process whose refusals come back as one line."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from studio.runs.artifacts import EXPORT_RESULT, EXPORTS
from studio.runs.store import RunStore
from studio.ui.export_panel import run_export
from tests.helpers.tiny import tiny_config

ONNX = {
    "format": "onnx",
    "label": "ONNX",
    "passed": True,
    "reason": None,
    "file": "exports/onnx/model.onnx",
    "size_bytes": 739273,
    "parity": {
        "images": 64,
        "max_abs_diff": 2.5e-7,
        "top1_agreement_pct": 100.0,
        "tolerance": 1e-4,
        "image_source": "64 test images of digits",
    },
    "runtime": {"name": "onnxruntime", "version": "1.31.1"},
    "input": {"name": "images", "shape": [None, 32, 32, 3], "dtype": "float32"},
    "precision": "float32",
    "trained_precision": "mixed_bfloat16",
    "float32_vs_trained": {"max_abs_diff": 0.0064, "top1_agreement_pct": 100.0},
}
LITERT = {
    "format": "litert",
    "label": "LiteRT (.tflite)",
    "passed": False,
    "reason": "LiteRT (.tflite) export failed (ConverterError: op not supported)",
    "file": None,
    "size_bytes": None,
    "parity": {"images": 64, "max_abs_diff": None, "tolerance": 1e-4},
}


def _panel(home: str, run_id: str) -> None:
    from studio.runs.store import RunStore
    from studio.ui.export_panel import export_panel

    export_panel(RunStore(home), run_id)


def test_stored_results_are_shown_with_failures_in_words(studio_home):
    store = RunStore()
    run = store.create_run(tiny_config("vit").to_dict())
    for result in (ONNX, LITERT):
        folder = store.run_dir(run.id) / EXPORTS / result["format"]
        folder.mkdir(parents=True)
        (folder / EXPORT_RESULT).write_text(json.dumps(result))
    at = AppTest.from_function(_panel, args=(str(studio_home), run.id), default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Format"]) == ["ONNX", "LiteRT (.tflite)"]
    assert list(table["Check"]) == ["passed", "FAILED"]
    assert table["Runtime"][0] == "onnxruntime 1.31.1" and table["Size"][0] == "739.3 KB"
    assert "ConverterError: op not supported" in at.warning[0].value
    captions = " ".join(c.value for c in at.caption)
    assert "64 test images of digits" in captions and "mixed_bfloat16" in captions


def test_an_unexported_run_says_so(studio_home):
    run = RunStore().create_run(tiny_config("vit").to_dict())
    at = AppTest.from_function(_panel, args=(str(studio_home), run.id), default_timeout=60).run()
    assert "Not exported yet." in [c.value for c in at.caption]


def test_the_child_process_refusal_comes_back_as_one_line(studio_home):
    store = RunStore()
    run = store.create_run(tiny_config("vit").to_dict())
    results, error = run_export(store, run.id, "onnx")
    assert results == []
    assert error.startswith("the export ended with code 2: run ") and "is queued" in error
