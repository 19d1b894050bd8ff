"""decode -> model -> softmax -> top-k: the one prediction path of the CLI and the demo.

`python -m studio predict` runs it in-process (`studio.inference.local`). The demo's Gradio
handler decodes with the same `decode_for_model` and the inference worker (a separate
process: the Streamlit server never imports keras) runs the same `predict_probs`, so the CLI
and the demo agree on the same file. Nothing here imports keras.
"""

from __future__ import annotations

import numpy as np

from studio.datasets.images import Source, decode_image

DEFAULT_TOP_K = 5


def decode_for_model(source: Source, input_size: int, *, wait: bool = True) -> np.ndarray:
    """The run's own preprocessing: the shared decoder, square-resized to the input size.

    The model resizes to its `image_size` itself, exactly as in training. `wait=False`: raise
    DecoderBusy rather than wait while other decodes hold the memory budget (the demo).
    """
    return decode_image(source, size=input_size, wait=wait)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (the models output logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ranked(probs: np.ndarray, class_names: tuple[str, ...] | list[str], k: int) -> list:
    """[(class name, probability)] of the k most likely classes, most likely first.

    Ties keep the class order, so the answer never depends on the sort implementation.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = max(1, min(int(k), len(probs)))
    order = np.argsort(-probs, kind="stable")[:k]
    return [(class_names[i], float(probs[i])) for i in order]


def predict_probs(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 images (N, H, W, 3) at the input size.

    `predict_on_batch` runs the compiled predict function: on a CPU it is about 30x faster
    than calling the model eagerly, and it does not compile again per batch size.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    logits = model.predict_on_batch(x.astype(np.float32))
    return softmax(np.asarray(logits))
