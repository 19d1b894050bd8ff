"""The export formats, one row each: what is written, how, which runtime checks it.

No keras: the UI and the CLI's argument checks read this table. The producer
(`studio.export.producer`) and the runtimes (`studio.export.parity`) follow it.

Tolerances are on class probabilities (softmax of the logits), as max |p_export - p_keras|
over a batch of the run's test images. `.keras` is reloaded by Keras itself, so it must agree
exactly; the others run other kernels (TensorFlow's graph, onnxruntime, LiteRT's XNNPACK) in
float32, whose summation order differs: about 1e-7 on the studio's models, so 1e-4 leaves room
for larger models and still catches any wrong weight, layer or preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = "all"


@dataclass(frozen=True)
class Format:
    """One export format.

    Args:
        name: the CLI's `--format` value and the folder under the run's `exports/`.
        label: for people.
        filename: the exported file (or folder, `is_dir`) inside that folder.
        produced_by: how the studio writes it, in words.
        runtime: what runs it for the parity check (and where it is deployed).
        tolerance: the largest max |probability difference| that passes.
        needs_tensorflow: written by TensorFlow's converters (Keras' TensorFlow backend).
        cannot: variant name -> why this format cannot be produced for it.
    """

    name: str
    label: str
    filename: str
    produced_by: str
    runtime: str
    tolerance: float
    needs_tensorflow: bool = True
    is_dir: bool = False
    cannot: dict[str, str] = field(default_factory=dict)

    def refusal(self, variant: str) -> str | None:
        """Why this format cannot be produced for `variant`, or None when it can."""
        return self.cannot.get(variant)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "keras",
            "Keras (.keras)",
            "model.keras",
            "a copy of the run's model.keras, its SHA-256 checked against the run store",
            "Keras (keras.saving.load_model, safe_mode on)",
            tolerance=1e-6,
            needs_tensorflow=False,
        ),
        Format(
            "savedmodel",
            "TensorFlow SavedModel",
            "saved_model",
            "Keras' model.export(format='tf_saved_model') of the model in inference mode",
            "TensorFlow (tf.saved_model.load, serving_default signature)",
            tolerance=1e-4,
            is_dir=True,
        ),
        Format(
            "onnx",
            "ONNX",
            "model.onnx",
            # Keras' own format='onnx' hands tf2onnx the traced function as is, and tf2onnx
            # turns the model's constant tensors (the Normalization's mean and variance) into
            # extra graph inputs that no caller can feed; freezing the graph first folds them.
            "tf2onnx from the frozen inference graph of the model (TensorFlow)",
            "onnxruntime (CPU execution provider)",
            tolerance=1e-4,
        ),
        Format(
            "litert",
            "LiteRT (.tflite)",
            "model.tflite",
            "Keras' model.export(format='litert'): TFLite converter, float32, no quantization",
            "LiteRT interpreter (ai-edge-litert), serving_default signature",
            tolerance=1e-4,
        ),
    )
}


class UnknownFormat(ValueError):
    """A --format value that names no format."""


def resolve(value: str) -> list[Format]:
    """The formats `value` names: one name, several separated by commas, or `all`."""
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    if not names:
        raise UnknownFormat(f"--format {value!r}: name a format ({choices()})")
    if ALL in names:
        return list(FORMATS.values())
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise UnknownFormat(f"--format {unknown[0]!r} is not a format: use {choices()}")
    return [FORMATS[n] for n in dict.fromkeys(names)]


def choices() -> str:
    return ", ".join(FORMATS) + f" or {ALL}"
