"""Write a finished run's model in the formats of `studio.export.formats`, each checked.

`export_run` loads the run's model (checksum checked), takes a batch of its test images,
and for each format writes the export into a hidden folder beside `exports/<format>/`, runs
it in its own runtime against the `.keras` model (`studio.export.parity`), stores the result
as `parity.json` next to it, and only then renames the folder into place: an export that
crashes half-way leaves nothing a reader would take for an export.

What is exported is the model in inference mode (augmentation and dropout off) taking the same
input as the run's model: float32 pixels on the 0..255 scale at the dataset's input size; the
resize and normalisation are inside. A run trained in mixed precision keeps float32 weights and
computes in bfloat16; it is exported computing in float32, which every runtime executes, and
the result says how far that is from the run's own model.

Imports keras and, for its formats, TensorFlow, tf2onnx, onnxruntime and ai-edge-litert.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import psutil

from studio.config.schema import RunConfig
from studio.export import parity
from studio.export.formats import FORMATS, Format
from studio.export.results import exports_dir, format_dir
from studio.inference.loading import load_keras_file, load_model
from studio.inference.predict import softmax
from studio.runs import artifacts
from studio.runs.artifacts import ModelInfo, model_info, sha256_file
from studio.runs.store import RunStore
from studio.training import precision
from studio.training.trainer import load_run_data

DEFAULT_IMAGES = 64
PARTIAL = ".partial-"
RETIRED = ".old-"
Progress = Callable[[str], None]


class ExportFailed(RuntimeError):
    """A format could not be produced; the message says why, in one line."""


# -- the model to export --------------------------------------------------------------------


def _float32_config(node: Any, key: str | None = None) -> tuple[Any, bool]:
    """`node` (a saved model config) with every mixed dtype policy made float32."""
    if isinstance(node, dict):
        changed = False
        if node.get("class_name") == "DTypePolicy":
            name = (node.get("config") or {}).get("name", "")
            if isinstance(name, str) and name.startswith("mixed_"):
                node = {**node, "config": {**node["config"], "name": "float32"}}
                changed = True
        out = {}
        for k, v in node.items():
            out[k], sub = _float32_config(v, k)
            changed |= sub
        return out, changed
    if isinstance(node, list):
        pairs = [_float32_config(v) for v in node]
        return [v for v, _ in pairs], any(c for _, c in pairs)
    if key == "dtype" and isinstance(node, str) and node.startswith("mixed_"):
        return "float32", True
    return node, False


def float32_model(path: Path, workdir: Path) -> keras.Model | None:
    """The model of a `.keras` file computing in float32, or None if it already does.

    Mixed precision keeps the weights in float32, so only the config's dtype policies change:
    the archive is copied with its config rewritten and loaded (safe_mode on).
    """
    with zipfile.ZipFile(path) as src:
        config, changed = _float32_config(json.loads(src.read("config.json")))
        if not changed:
            return None
        twin = Path(workdir) / "float32.keras"
        with zipfile.ZipFile(twin, "w") as dst:
            for item in src.infolist():
                data = json.dumps(config) if item.filename == "config.json" else src.read(item)
                dst.writestr(item, data)
    return load_keras_file(twin, compile=False)


def inference_model(model: keras.Model) -> keras.Model:
    """The model with `training=False` fixed inside, named input `images`.

    Keras' exporters call a model without `training`, and then its augmentation layers
    (RandomFlip, RandomZoom, ...) default to training mode: the export would augment.
    """
    shape = tuple(model.inputs[0].shape[1:])
    images = keras.Input(shape=shape, dtype="float32", name="images")
    return keras.Model(images, model(images, training=False), name="inference")


# -- the formats -----------------------------------------------------------------------------


def _write_keras(info: ModelInfo, model: keras.Model, path: Path) -> None:
    shutil.copyfile(info.path, path)
    copied = sha256_file(path)
    if copied != info.sha256:
        raise ExportFailed(
            f"the copy of {info.path.name} does not match the recorded checksum "
            f"({copied[:12]}... against {info.sha256[:12]}...)"
        )


def _write_savedmodel(info: ModelInfo, model: keras.Model, path: Path) -> None:
    inference_model(model).export(str(path), format="tf_saved_model", verbose=False)


def _write_litert(info: ModelInfo, model: keras.Model, path: Path) -> None:
    inference_model(model).export(str(path), format="litert", verbose=False)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_tf2onnx() -> Iterator[_Collect]:
    """tf2onnx logs each op it cannot convert and goes on, and TensorFlow warns about the v1
    APIs tf2onnx calls: collect the first, silence the second, print neither."""
    collect = _Collect()
    saved = []
    for name in ("tf2onnx", "tensorflow"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate, list(logger.handlers)))
        logger.handlers[:] = [collect]
        logger.propagate = False
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield collect
    finally:
        for logger, level, propagate, handlers in saved:
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers[:] = handlers


def _one_constant(ctx, node, value: float = 1.0):
    from tf2onnx import utils

    return ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(value, np.float32))


def _erfc(ctx, node, name, args):
    # Exact GELU (Keras' default) is 0.5 * x * erfc(-x / sqrt 2) in TensorFlow; tf2onnx has
    # Erf but no Erfc. erfc = 1 - erf.
    erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
    node.type = "Sub"
    ctx.replace_inputs(node, [_one_constant(ctx, node).output[0], erf.output[0]])


def _log1p(ctx, node, name, args):
    # DeiT's averaged heads take log(1 + x); tf2onnx has no Log1p.
    add = ctx.make_node("Add", [node.input[0], _one_constant(ctx, node).output[0]])
    node.type = "Log"
    ctx.replace_inputs(node, [add.output[0]])


ONNX_OPS = {"Erfc": (_erfc, []), "Log1p": (_log1p, [])}


def _write_onnx(info: ModelInfo, model: keras.Model, path: Path) -> None:
    import onnx
    import tensorflow as tf
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    shape = tuple(model.inputs[0].shape[1:])
    spec = tf.TensorSpec((None, *shape), tf.float32, name="images")
    function = tf.function(lambda images: model(images, training=False), autograph=False)
    with _quiet_tf2onnx() as log:
        with contextlib.suppress(ImportError):  # what Keras' own ONNX export does for numpy 2
            from keras.src.export.tf2onnx_lib import patch_tf2onnx

            patch_tf2onnx()
        frozen = convert_variables_to_constants_v2(function.get_concrete_function(spec))
        inputs = [t.name for t in frozen.inputs]
        outputs = [t.name for t in frozen.outputs]
        tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(),
            name="inference",
            input_names=inputs,
            output_names=outputs,
            custom_op_handlers=ONNX_OPS,
            tensors_to_rename={inputs[0]: "images", outputs[0]: "logits"},
            output_path=str(path),
        )
    unsupported = [m for m in log.messages if m.startswith("Unsupported ops")]
    if unsupported:
        raise ExportFailed(f"tf2onnx cannot convert some TensorFlow ops ({unsupported[0]})")
    graph = onnx.load(str(path))
    for value in (*graph.graph.input, *graph.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(graph, str(path))


WRITERS: dict[str, Callable[[ModelInfo, keras.Model, Path], None]] = {
    "keras": _write_keras,
    "savedmodel": _write_savedmodel,
    "onnx": _write_onnx,
    "litert": _write_litert,
}


# -- test images and reference ---------------------------------------------------------------


def parity_images(store: RunStore, info: ModelInfo, n: int) -> tuple[np.ndarray, str]:
    """Up to `n` of the run's test images (validation images if it has no test split).

    A dataset that cannot be loaded any more (a moved folder) gives seeded random pixels,
    and the returned description says so.
    """
    size = info.labels.input_size
    try:
        data = load_run_data(store, RunConfig.from_dict(info.run.config))
        split, x = ("test", data.x_test) if len(data.x_test) else ("validation", data.x_val)
        if len(x) and tuple(x.shape[1:]) == (size, size, 3):
            return np.asarray(x[:n]), f"{min(n, len(x))} {split} images of {data.name}"
        why = f"its images are {tuple(x.shape[1:])}, the model takes ({size}, {size}, 3)"
    except Exception as err:  # a moved folder, a missing download: the export goes on
        why = parity._first_line(err)
    pixels = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return pixels, f"{n} random images (the run's dataset could not be used: {why})"


def predict(model: keras.Model, images: np.ndarray) -> np.ndarray:
    logits = parity._batched(model.predict_on_batch, images.astype(np.float32))
    return softmax(logits)


# -- one format ------------------------------------------------------------------------------


def _versions(fmt: Format) -> dict[str, str]:
    packages = ["keras"]
    if fmt.needs_tensorflow:
        packages.append("tensorflow-cpu")
    packages += {"onnx": ["tf2onnx", "onnx"]}.get(fmt.name, [])
    return {p: parity._version(p) for p in packages}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def _alive(pid: int) -> bool:
    return pid == os.getpid() or psutil.pid_exists(pid)


def clean_leftovers(run_dir: Path) -> None:
    """Remove the hidden folders of exports whose process is gone (a crash, a kill)."""
    root = exports_dir(run_dir)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if not entry.name.startswith((PARTIAL, RETIRED)):
            continue
        pid = entry.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _publish(staged: Path, final: Path) -> None:
    """Put the staged folder in place of `final`: renames only, so readers see whole ones."""
    retired = final.with_name(f"{RETIRED}{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, retired)
    os.replace(staged, final)
    shutil.rmtree(retired, ignore_errors=True)


def export_format(
    fmt: Format,
    info: ModelInfo,
    model: keras.Model,
    images: np.ndarray,
    reference: np.ndarray,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write `model` as `fmt`, check it against `reference` probabilities, store the result."""
    run_dir = info.path.parent
    final = format_dir(run_dir, fmt)
    staged = final.with_name(f"{PARTIAL}{fmt.name}-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    target = staged / fmt.filename
    result: dict[str, Any] = {
        "format": fmt.name,
        "label": fmt.label,
        "run": info.run.id,
        "model_sha256": info.sha256,
        "file": None,
        "size_bytes": None,
        "sha256": None,
        "produced_by": fmt.produced_by,
        "versions": _versions(fmt),
        "created_at": time.time(),
        **extra,
    }
    started = time.perf_counter()
    refusal = fmt.refusal(info.run.variant)
    if refusal is not None:
        refusal = f"cannot be produced for a {info.run.variant} run: {refusal}"
    elif fmt.needs_tensorflow and keras.backend.backend() != "tensorflow":
        refusal = (
            f"cannot be produced here: TensorFlow's converters write it and this process runs "
            f"Keras on {keras.backend.backend()} (export with KERAS_BACKEND=tensorflow)"
        )
    try:
        if refusal is not None:
            raise ExportFailed(refusal)
        try:
            WRITERS[fmt.name](info, model, target)
        except ExportFailed:
            raise
        except Exception as err:  # a converter's refusal, in words rather than a traceback
            raise ExportFailed(
                f"{fmt.label} export failed ({type(err).__name__}: {parity._first_line(err)})"
            ) from None
    except ExportFailed as err:
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        check = parity.Parity(len(images), None, None, fmt.tolerance, False, str(err))
        runtime = None
    else:
        check, runtime = parity.check(fmt.name, target, images, reference, fmt.tolerance)
        result["file"] = str(final.relative_to(run_dir) / fmt.filename)
        result["size_bytes"] = _size(target)
        result["sha256"] = None if fmt.is_dir else sha256_file(target)
    result["passed"] = check.passed
    result["reason"] = check.reason
    result["parity"] = {**check.to_dict(), "image_source": extra.get("image_source")}
    result.pop("image_source", None)
    if runtime is not None:
        result["runtime"] = {"name": runtime.name, "version": runtime.version}
        result["input"] = {
            "name": runtime.input_name,
            "shape": runtime.input_shape,
            "dtype": runtime.input_dtype,
            "pixels": "0..255, RGB; resized and normalised inside the model",
        }
    result["seconds"] = round(time.perf_counter() - started, 2)
    (staged / artifacts.EXPORT_RESULT).write_text(json.dumps(result, indent=2))
    _publish(staged, final)
    return result


# -- a run -----------------------------------------------------------------------------------


def export_run(
    store: RunStore,
    ref: str,
    formats: list[Format] | None = None,
    images: int = DEFAULT_IMAGES,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Export a completed run to `formats` (all by default); one stored result per format.

    Raises ModelUnavailable (a run that is unfinished, unrecorded or changed) before any
    file is written. A format that fails is reported in its result, not raised.
    """
    say = progress or (lambda _message: None)
    formats = formats or list(FORMATS.values())
    info = model_info(store, ref)
    run_dir = store.run_dir(info.run.id)
    exports_dir(run_dir).mkdir(parents=True, exist_ok=True)
    clean_leftovers(run_dir)
    say(f"loading {info.run.id} and its test images")
    model = load_model(info)
    x, source = parity_images(store, info, images)
    reference = predict(model, x)
    results = []
    with tempfile.TemporaryDirectory(prefix="studio-export-") as work:
        portable = None
        if any(f.needs_tensorflow for f in formats):
            portable = float32_model(info.path, Path(work))
        portable_reference = reference if portable is None else predict(portable, x)
        trained = precision.model_policy(model)
        for fmt in formats:
            say(f"exporting {fmt.label}")
            extra: dict[str, Any] = {
                "image_source": source,
                "precision": trained,
                "trained_precision": trained,
            }
            if fmt.needs_tensorflow and portable is not None:
                gap = parity.compare(reference, portable_reference, 1.0)
                extra["precision"] = "float32"
                extra["float32_vs_trained"] = {
                    "max_abs_diff": gap.max_abs_diff,
                    "top1_agreement_pct": gap.top1_agreement_pct,
                }
                results.append(export_format(fmt, info, portable, x, portable_reference, extra))
            else:
                results.append(export_format(fmt, info, model, x, reference, extra))
    return results
