"""The parity check: an exported model, run by its own runtime, against the `.keras` model.

Each runner loads the export the way a deployment would (onnxruntime, the LiteRT interpreter,
TensorFlow's serving signature, Keras for `.keras`), checks that its input is what the run's
model takes (float32 pixels on the 0..255 scale, (N, size, size, 3)), and returns logits. The
comparison is on probabilities. Runtimes are imported only when their format is checked.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.inference.predict import softmax

BATCH = 32


class ExportBroken(RuntimeError):
    """The exported model cannot be loaded or run by its runtime; the message says why."""


@dataclass(frozen=True)
class Parity:
    """How closely an export's probabilities follow the reference's on the same images."""

    images: int
    max_abs_diff: float | None  # None when the outputs are not comparable
    top1_agreement_pct: float | None
    tolerance: float
    passed: bool
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def compare(reference: np.ndarray, probs: np.ndarray, tolerance: float) -> Parity:
    """Probabilities (N, classes) of an export against the reference's, within `tolerance`.

    Passes when every probability is within `tolerance` of the reference's: then top-1 can
    only differ on images whose two best classes are within 2 * tolerance (reported).
    """
    reference = np.asarray(reference, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    n = int(reference.shape[0])
    if probs.shape != reference.shape:
        return Parity(
            n,
            None,
            None,
            tolerance,
            False,
            f"outputs of shape {probs.shape}, the .keras model's are {reference.shape}",
        )
    if not np.all(np.isfinite(probs)):
        bad = int(np.sum(~np.all(np.isfinite(probs), axis=-1)))
        return Parity(n, None, None, tolerance, False, f"non-finite outputs on {bad} images")
    diff = float(np.max(np.abs(probs - reference))) if n else 0.0
    agree = float(100.0 * np.mean(probs.argmax(-1) == reference.argmax(-1))) if n else 100.0
    passed = diff <= tolerance
    reason = None if passed else f"max |Δp| {diff:.2e} exceeds the tolerance {tolerance:.0e}"
    return Parity(n, diff, agree, tolerance, passed, reason)


# -- runtimes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """What ran an export: the package and its version, and the input it declared."""

    name: str
    version: str
    input_name: str
    input_shape: list[int | None]
    input_dtype: str


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def _check_input(runtime: Runtime, images: np.ndarray) -> None:
    """Refuse an export whose declared input is not the run model's (N, size, size, 3)."""
    expected = list(images.shape[1:])
    declared = runtime.input_shape[1:]
    if len(declared) != len(expected) or any(
        d is not None and d != e for d, e in zip(declared, expected, strict=True)
    ):
        raise ExportBroken(
            f"its input {runtime.input_name!r} has shape {runtime.input_shape}, the run's "
            f"model takes (N, {', '.join(map(str, expected))})"
        )
    if runtime.input_dtype != "float32":
        raise ExportBroken(
            f"its input {runtime.input_name!r} is {runtime.input_dtype}, the run's model takes "
            "float32 pixels on the 0..255 scale"
        )


def _batched(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    out = [np.asarray(fn(images[i : i + BATCH])) for i in range(0, len(images), BATCH)]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _single(outputs: dict, what: str) -> np.ndarray:
    if len(outputs) != 1:
        raise ExportBroken(f"{what} has {len(outputs)} outputs ({', '.join(outputs)}), not one")
    return np.asarray(next(iter(outputs.values())))


def run_keras(path: Path, images: np.ndarray) -> tuple[np.ndarray, Runtime]:
    import keras

    from studio.inference.loading import load_keras_file

    try:
        model = load_keras_file(path, compile=False)
    except Exception as err:
        raise ExportBroken(f"Keras cannot load it ({_first_line(err)})") from None
    spec = model.inputs[0]
    runtime = Runtime(
        "keras", keras.__version__, spec.name, list(spec.shape), str(spec.dtype).split(".")[-1]
    )
    _check_input(runtime, images)
    return _batched(model.predict_on_batch, images), runtime


def run_savedmodel(path: Path, images: np.ndarray) -> tuple[np.ndarray, Runtime]:
    import tensorflow as tf

    try:
        fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    except Exception as err:
        reason = f"TensorFlow cannot load its serving_default ({_first_line(err)})"
        raise ExportBroken(reason) from None
    specs = fn.structured_input_signature[1]
    if len(specs) != 1:
        raise ExportBroken(f"its serving signature takes {len(specs)} inputs, not one image")
    name, spec = next(iter(specs.items()))
    runtime = Runtime("tensorflow", tf.__version__, name, spec.shape.as_list(), spec.dtype.name)
    _check_input(runtime, images)
    return (
        _batched(lambda x: _single(fn(**{name: tf.constant(x)}), "the signature"), images),
        runtime,
    )


def run_onnx(path: Path, images: np.ndarray) -> tuple[np.ndarray, Runtime]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ExportBroken(f"onnxruntime cannot load it ({_first_line(err)})") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ExportBroken(f"its graph takes {len(inputs)} inputs ({names}), not one image")
    shape = [d if isinstance(d, int) else None for d in inputs[0].shape]
    dtype = {"tensor(float)": "float32"}.get(inputs[0].type, inputs[0].type)
    runtime = Runtime("onnxruntime", ort.__version__, inputs[0].name, shape, dtype)
    _check_input(runtime, images)
    return _batched(lambda x: session.run(None, {inputs[0].name: x})[0], images), runtime


def run_litert(path: Path, images: np.ndarray) -> tuple[np.ndarray, Runtime]:
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=str(path))
        signatures = interpreter.get_signature_list()
        runner = interpreter.get_signature_runner("serving_default")
    except Exception as err:
        raise ExportBroken(f"the LiteRT interpreter cannot load it ({_first_line(err)})") from None
    names = signatures["serving_default"]["inputs"]
    if len(names) != 1:
        raise ExportBroken(f"its serving signature takes {len(names)} inputs, not one image")
    detail = runner.get_input_details()[names[0]]
    shape = [None if d < 0 else int(d) for d in detail["shape_signature"]]
    dtype = np.dtype(detail["dtype"]).name
    runtime = Runtime("ai-edge-litert", _version("ai-edge-litert"), names[0], shape, dtype)
    _check_input(runtime, images)
    return _batched(lambda x: _single(runner(**{names[0]: x}), "the signature"), images), runtime


RUNNERS: dict[str, Callable[[Path, np.ndarray], tuple[np.ndarray, Runtime]]] = {
    "keras": run_keras,
    "savedmodel": run_savedmodel,
    "onnx": run_onnx,
    "litert": run_litert,
}


def check(
    fmt_name: str, path: Path, images: np.ndarray, reference: np.ndarray, tolerance: float
) -> tuple[Parity, Runtime | None]:
    """Run the export at `path` in its runtime on `images`; compare with `reference` probs.

    A runtime that cannot load or run the export fails the check with its reason (no raise).
    """
    images = np.asarray(images, dtype=np.float32)
    try:
        logits, runtime = RUNNERS[fmt_name](Path(path), images)
    except ExportBroken as err:
        return Parity(len(images), None, None, tolerance, False, str(err)), None
    except Exception as err:  # a runtime failing mid-run: said in words, not a traceback
        reason = f"its runtime failed on the test images ({type(err).__name__}: {_first_line(err)})"
        return Parity(len(images), None, None, tolerance, False, reason), None
    return compare(reference, softmax(logits), tolerance), runtime
