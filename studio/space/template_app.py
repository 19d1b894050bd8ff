"""A Vision Transformer exported from ViT Studio, as a standalone Gradio app.

    pip install -r requirements.txt
    python app.py            # http://127.0.0.1:7860 (on Hugging Face Spaces: the app_file)

It needs nothing of the studio: `vit_runtime/` holds copies of the studio's image decoder and
of the custom Keras layers of its models. `model.keras` is loaded with safe_mode on, and only
if its sha256 equals the one in labels.json. Images are decoded exactly as in the studio (same
decoder, resized to the run's input size; the model resizes further itself), so a prediction
here equals `python -m studio predict RUN IMAGE` on the same file. Share links stay off.

A classifier (labels.json's task "classify") answers at /predict:

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")  # or "USER/NAME" for the Space
    labels, timing = client.predict(image=handle_file("x.png"), top_k=5, api_name="/predict")

A captioner (task "caption": `tokenizer.json` beside the model, its sha256 checked too, and
the studio's tokenizer and searches in `vit_runtime/`) answers at /caption, with beam_width
beams (1: greedy search):

    caption = client.predict(image=handle_file("x.png"), beam_width=3, api_name="/caption")
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "model.keras"
TOKENIZER_PATH = HERE / "tokenizer.json"
LABELS = json.loads((HERE / "labels.json").read_text())
TASK = LABELS.get("task", "classify")
os.environ.setdefault("KERAS_BACKEND", LABELS.get("keras_backend", "tensorflow"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue would rebuild a pandas summary of its last 10,000 events after every
# request (milliseconds of CPU each, under the GIL); every 100 events is enough.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_file(path: Path = MODEL_PATH, key: str = "model_sha256") -> None:
    """Refuse (before keras is even imported) a model, or a captioner's tokenizer, that is not
    the one the studio trained."""
    if not path.is_file():
        raise SystemExit(f"{path.name} is missing next to app.py")
    expected, actual = LABELS.get(key), sha256_file(path)
    if actual != expected:
        raise SystemExit(
            f"{path.name} does not match the sha256 in labels.json (expected "
            f"{str(expected)[:12]}..., found {actual[:12]}...): refusing to load it"
        )


check_model_file()
if TASK == "caption":
    check_model_file(TOKENIZER_PATH, "tokenizer_sha256")

import gradio as gr  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import vit_runtime  # noqa: E402, F401  (registers the custom layers before loading)
from vit_runtime.images import ImageDecodeError, decode_image  # noqa: E402

CLASS_NAMES = list(LABELS["class_names"])
INPUT_SIZE = int(LABELS["input_size"])
TITLE = LABELS.get("title") or "Vision Transformer"
MAX_TOP_K = min(10, len(CLASS_NAMES))
DEFAULT_TOP_K = min(5, MAX_TOP_K)
MAX_UPLOAD = "50mb"
MAX_BEAM_WIDTH = int(LABELS.get("max_beam_width", 8))
DEFAULT_BEAM_WIDTH = min(int(LABELS.get("beam_width", 3)), MAX_BEAM_WIDTH)

if TASK == "caption":
    import keras_hub  # noqa: F401  (the caption decoder's layers, for loading)
    from vit_runtime.captioning import generate
    from vit_runtime.tokenizer import END, START, CaptionTokenizer

    TOKENIZER = CaptionTokenizer.load(TOKENIZER_PATH)


def load_model(path: Path = MODEL_PATH):
    """The exported model with safe_mode on, checked once more right before loading."""
    check_model_file(path)
    return keras.saving.load_model(path, safe_mode=True, compile=False)


MODEL = load_model()
MODEL_LOCK = threading.Lock()


def softmax(logits) -> np.ndarray:
    """Row-wise softmax in float64, as in the studio (studio.inference.softmax)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ranked(probs, k: int) -> dict[str, float]:
    """The k most likely classes, most likely first; ties keep the class order."""
    order = np.argsort(-np.asarray(probs, dtype=np.float64), kind="stable")[:k]
    return {CLASS_NAMES[i]: float(probs[i]) for i in order}


def image_file_input(**kwargs) -> gr.Image:
    """A gr.Image whose handler receives the uploaded file untouched (path, or data-URL bytes).

    The decoder, not Gradio, reads the original bytes, as in the studio. (An instance
    override, not a subclass: Gradio writes a .pyi file beside every component class.)
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = _raw_image
    return image


def _raw_image(payload):
    if payload is None:
        return None
    url = payload.url or ""
    if url.startswith("data:"):
        try:
            return base64.b64decode(url.partition(",")[2], validate=True)
        except (binascii.Error, ValueError):
            raise gr.Error(
                "the image data URL is not valid base64", print_exception=False
            ) from None
    return payload.path


def predict(image, top_k: float | None = DEFAULT_TOP_K):
    """Top-k classes of one image as {class: probability}, and the time it took."""
    if image is None:
        raise gr.Error("No image: upload or paste one, or click an example.", print_exception=False)
    try:
        k = int(top_k if top_k is not None else DEFAULT_TOP_K)
    except (TypeError, ValueError):
        raise gr.Error(f"top_k={top_k!r} is not a whole number", print_exception=False) from None
    if not 1 <= k <= MAX_TOP_K:
        raise gr.Error(f"top_k={k} must be between 1 and {MAX_TOP_K}", print_exception=False)
    start = time.perf_counter()
    try:
        pixels = decode_image(image, size=INPUT_SIZE)
    except ImageDecodeError as err:
        raise gr.Error(f"This file cannot be used: {err.reason}.", print_exception=False) from None
    with MODEL_LOCK:
        logits = MODEL.predict_on_batch(pixels[None].astype(np.float32))
    probs = softmax(np.asarray(logits))[0]
    return ranked(probs, k), f"{1000 * (time.perf_counter() - start):.1f} ms"


def caption(image, beam_width: float | None = DEFAULT_BEAM_WIDTH):
    """(The caption of one image, written with beam_width beams (1: greedy search), the time
    it took). The time goes to a gr.State, so the API answers the caption alone."""
    if image is None:
        raise gr.Error("No image: upload or paste one, or click an example.", print_exception=False)
    try:
        beam = float(beam_width if beam_width is not None else DEFAULT_BEAM_WIDTH)
    except (TypeError, ValueError):
        beam = -1.0
    if beam != int(beam) or not 1 <= beam <= MAX_BEAM_WIDTH:
        raise gr.Error(
            f"beam_width={beam_width!r} must be a whole number from 1 to {MAX_BEAM_WIDTH}",
            print_exception=False,
        )
    start = time.perf_counter()
    try:
        pixels = decode_image(image, size=INPUT_SIZE)
    except ImageDecodeError as err:
        raise gr.Error(f"This file cannot be used: {err.reason}.", print_exception=False) from None
    with MODEL_LOCK:
        ids = generate(MODEL, pixels[None], int(beam), None, START, END)
    return TOKENIZER.decode(ids[0]), f"{1000 * (time.perf_counter() - start):.1f} ms"


def build_caption_demo(examples: list[str]) -> gr.Blocks:
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\n{LABELS.get('description', '')}")
        with gr.Row(equal_height=False):
            with gr.Column():
                image = image_file_input(label="Image", sources=["upload", "clipboard"], height=300)
                beam = gr.Slider(
                    1,
                    MAX_BEAM_WIDTH,
                    value=DEFAULT_BEAM_WIDTH,
                    step=1,
                    label="Beam width (1: greedy)",
                )
                button = gr.Button("Caption", variant="primary")
            with gr.Column():
                text = gr.Textbox(label="Caption", interactive=False, lines=2)
                timing = gr.Textbox(label="Time", interactive=False)
                took = gr.State("")
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[image], label="Examples")
        show = {"fn": lambda t: t, "inputs": took, "outputs": timing, "api_visibility": "private"}
        button.click(caption, [image, beam], [text, took], api_name="caption").then(**show)
        for event in (image.change, beam.release):
            event(
                lambda img, b: caption(img, b) if img is not None else ("", ""),
                [image, beam],
                [text, took],
                api_visibility="private",
                trigger_mode="always_last",
            ).then(**show)
    return demo


def build_demo() -> gr.Blocks:
    examples = sorted(str(p) for p in (HERE / "examples").glob("*.png"))
    if TASK == "caption":
        return build_caption_demo(examples)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\n{LABELS.get('description', '')}")
        with gr.Row(equal_height=False):
            with gr.Column():
                image = image_file_input(label="Image", sources=["upload", "clipboard"], height=300)
                top_k = gr.Slider(1, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, label="Top-k")
                button = gr.Button("Classify", variant="primary")
            with gr.Column():
                labels = gr.Label(label="Top classes")
                timing = gr.Textbox(label="Time", interactive=False)
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[image], label="Examples")
        button.click(predict, [image, top_k], [labels, timing], api_name="predict")
        image.change(
            lambda img, k: predict(img, k) if img is not None else (None, ""),
            [image, top_k],
            [labels, timing],
            api_visibility="private",
            trigger_mode="always_last",
        )
    return demo


demo = build_demo()

if __name__ == "__main__":
    # Binds 127.0.0.1 unless GRADIO_SERVER_NAME says otherwise (Spaces set 0.0.0.0).
    demo.queue(default_concurrency_limit=4).launch(share=False, max_file_size=MAX_UPLOAD)
