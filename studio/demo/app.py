"""`build_demo`: the Gradio Blocks that classifies, or captions, images with any finished run.

Runs inside the Streamlit server (mounted by `studio.demo.mount`) or on its own
(`python -m studio.demo.app`). Handlers decode with the studio's decoder at the run's input
size and send the uint8 pixels to the inference worker, so the numbers equal those of
`python -m studio predict RUN IMAGE`. A classifier run shows its top classes, a caption run
its caption with a beam width control (1 is greedy search). Two API endpoints:

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:8501/gradio/")
    # a classifier run: {label, confidences} of the top-k classes and the time taken
    labels, timing = client.predict(
        run="RUN_ID", image=handle_file("cat.png"), top_k=5, api_name="/predict"
    )
    # a caption run: the caption, written with beam_width beams (1 to 8)
    caption = client.predict(
        run="RUN_ID", image=handle_file("cat.png"), beam_width=3, api_name="/caption"
    )

Each refuses the other's runs with a message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from types import SimpleNamespace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue rebuilds a pandas summary of its last 10,000 events (for its monitoring
# page) after every event by default: 2-7 ms of CPU per request under the GIL, growing with
# the events served, a fifth of a bare endpoint's server time. Every 100 events is enough.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel

from studio.config.variants import variant_label
from studio.datasets.images import DecoderBusy, ImageDecodeError
from studio.demo import (
    API_NAME,
    CAPTION_API_NAME,
    DEFAULT_BEAM_WIDTH,
    MAX_BEAM_WIDTH,
    MAX_TOP_K,
)
from studio.inference.attention_maps import Reference, familiarity
from studio.inference.client import MAX_BATCH_SIZE, InferenceClient, Refused, WorkerError
from studio.inference.predict import DEFAULT_TOP_K, decode_for_model, ranked
from studio.runs.artifacts import (
    ModelUnavailable,
    examples_root,
    model_info,
    run_task,
    usable_runs,
)
from studio.runs.naming import run_choice
from studio.runs.store import Run, RunNotFound, RunStore

log = logging.getLogger(__name__)
MAX_UPLOAD = "50mb"  # Gradio refuses bigger uploads; the decoder caps pixels at 64 MP
# Gradio's own upload route parses multipart bodies to temporary files on disk, so an upload
# never sits whole in memory; decoding then reserves from the decoder's memory budget.
PREDICT_CONCURRENCY = 16  # predictions handled at once (decoding in parallel, then batched)
CAPTION_CONCURRENCY = 16  # the same for captions, in a queue of their own
QUEUE_SETTINGS = {"default_concurrency_limit": 4}  # the other events (run list, examples)
HINTS_KEPT = 256  # recent predictions whose out-of-domain hint the page may still ask for
NO_RUNS = (
    "No finished run yet. Train one on the Train page, or "
    "`python -m studio train --dataset digits --wait`."
)


# Streamlit's default light theme, so the embedded demo reads as part of the studio: its
# primary red and Source Sans. Gradio serves that font itself (LocalFont); no font host.
STREAMLIT_RED = gr.themes.Color(
    name="streamlit-red",
    c50="#fff0f0",
    c100="#ffdede",
    c200="#ffc2c2",
    c300="#ffa3a3",
    c400="#ff7a7a",
    c500="#ff4b4b",
    c600="#e03e3e",
    c700="#bd2f2f",
    c800="#9a2626",
    c900="#7d1f1f",
    c950="#4a1010",
)


def studio_theme() -> gr.themes.Base:
    """The demo's theme: Streamlit's red and font, fonts and icons served by this server."""
    return gr.themes.Default(
        primary_hue=STREAMLIT_RED,
        neutral_hue="slate",
        font=(gr.themes.LocalFont("Source Sans Pro"), "ui-sans-serif", "system-ui", "sans-serif"),
    ).set(button_primary_background_fill="#ff4b4b", button_primary_text_color="white")


def image_file_input(**kwargs) -> gr.Image:
    """A gr.Image whose handler receives the uploaded file untouched.

    gr.Image opens uploads with Pillow and may convert or re-encode them (webp) before a
    handler sees them; here the studio's decoder reads the original bytes, so predictions
    match the CLI and unreadable files get the decoder's plain reasons. The value is the
    file's path, or its bytes when a client sends a base64 data URL. (An instance override,
    not a subclass: Gradio writes a .pyi file beside the module of every component class.)
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = _raw_image
    return image


def _raw_image(payload):
    """The upload's path (or data-URL bytes); `payload` is Gradio's FileData or its dict."""
    if payload is None:
        return None
    if isinstance(payload, dict):
        payload = SimpleNamespace(url=payload.get("url"), path=payload.get("path"))
    url = payload.url or ""
    if url.startswith("data:"):
        try:
            return base64.b64decode(url.partition(",")[2], validate=True)
        except (binascii.Error, ValueError):
            raise gr.Error(
                "the image data URL is not valid base64", print_exception=False
            ) from None
    if payload.path is None:
        raise gr.Error("no image file was received", print_exception=False)
    return payload.path


def _serialized(value):
    return value.model_dump() if isinstance(value, (GradioModel, GradioRootModel)) else value


def in_one_thread(handler, inputs: list, outputs: list):
    """`handler` for an event with `preprocess=False, postprocess=False`.

    Gradio pre- and postprocesses each component of an event in a thread of its own (three
    inputs and two outputs: five thread hand-offs per prediction, on top of the handler's).
    This wrapper calls the same components' `preprocess` and `postprocess` in the handler's
    thread instead, so values, refusals (the slider's bounds) and answers stay the same.
    The API keeps the handler's parameter names.
    """

    @functools.wraps(handler)  # the same signature, defaults and docstring
    def call(*values):
        args = [block.preprocess(value) for block, value in zip(inputs, values, strict=True)]
        results = handler(*args)
        return tuple(
            _serialized(block.postprocess(value))
            for block, value in zip(outputs, results, strict=True)
        )

    return call


def run_summary(run: Run) -> str:
    test = run.test or {}
    parts = [
        f"**{run.id}**",
        f"dataset `{run.dataset}`",
        f"model {variant_label(run.variant)}",
        f"{run.epochs_done}/{run.epochs_total} epochs",
    ]
    if test.get("accuracy") is not None:
        parts.append(f"test top-1 {100 * test['accuracy']:.1f}%")
    if test.get("top5") is not None:
        parts.append(f"top-5 {100 * test['top5']:.1f}%")
    if test.get("bleu4") is not None:  # as `evaluate RUN` prints them
        parts.append(f"test BLEU-4 {test['bleu4']:.3f}")
    if test.get("cider") is not None:
        parts.append(f"CIDEr-D {test['cider']:.3f}")
    return " · ".join(parts)


def _image_key(image) -> str:
    """A prediction's image as the hint remembers it: its upload path, or its bytes' digest."""
    if isinstance(image, (bytes, bytearray)):
        return hashlib.sha256(image).hexdigest()
    return str(image)


def _refuse(message: str) -> gr.Error:
    return gr.Error(message, title="Cannot classify", print_exception=False)


def _refuse_caption(message: str) -> gr.Error:
    return gr.Error(message, title="Cannot caption", print_exception=False)


def _beam_width(value) -> int:
    """The beam width asked for, as a whole number in range, or a gr.Error saying why not."""
    try:
        beam = float(value if value is not None else DEFAULT_BEAM_WIDTH)
    except (TypeError, ValueError):
        raise _refuse_caption(f"beam_width={value!r} is not a whole number") from None
    if beam != int(beam):
        raise _refuse_caption(f"beam_width={value!r} is not a whole number")
    if not 1 <= beam <= MAX_BEAM_WIDTH:
        raise _refuse_caption(f"beam_width={int(beam)} must be between 1 and {MAX_BEAM_WIDTH}")
    return int(beam)


def _decoded(image, size: int, refuse):
    """The upload as uint8 pixels at `size`, or a gr.Error (`refuse`'s) with the reason."""
    try:
        # Refuse rather than wait: sixteen large images at once must not swell the server.
        return decode_for_model(image, size, wait=False)
    except DecoderBusy as err:
        text = str(err)
        raise gr.Error(
            text[:1].upper() + text[1:] + ".", title="Busy, try again", print_exception=False
        ) from None
    except ImageDecodeError as err:
        raise refuse(f"This file cannot be used: {err.reason}.") from None
    except Exception as err:  # a decoder bug must still read as a message, not a trace
        log.exception("decoding an upload failed")
        raise refuse(f"This file cannot be used ({type(err).__name__}).") from None


class DemoHandlers:
    """What the Blocks' events call; plain methods, so tests can call them too."""

    def __init__(self, store: RunStore, client: InferenceClient) -> None:
        self.store = store
        self.client = client
        # Per model file: the run's reference (None: none to be had), asked once, in the
        # background, so a prediction only ever looks it up.
        self._references: dict[tuple[str, str], Reference | None] = {}
        # The hint of each recent (run, image) prediction, read by the event that follows it.
        self._hints: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def _reference(self, run: Run) -> Reference | None:
        """The run's reference if known; else asks the worker for it in the background."""
        key = (run.id, run.model_sha256 or "")
        with self._lock:
            if key in self._references:
                return self._references[key]
            self._references[key] = None  # asked once per model file, whatever the answer

        def ask() -> None:
            try:
                found = self.client.reference(run.id)
            except Exception:  # offline without cached test images: the confidence alone
                return
            with self._lock:
                self._references[key] = found

        threading.Thread(target=ask, name="demo-reference", daemon=True).start()
        return None

    def _remember_hint(self, run_id: str, image, text: str) -> None:
        with self._lock:
            self._hints[(run_id, _image_key(image))] = text
            while len(self._hints) > HINTS_KEPT:
                self._hints.popitem(last=False)

    def hint(self, run: str | None, image) -> str:
        """Under the label: why this image looks unlike the run's data, or nothing."""
        if not run or image is None:
            return ""
        with self._lock:
            return self._hints.get((str(run), _image_key(image)), "")

    def predict(self, run: str | None, image, top_k: float | None = DEFAULT_TOP_K):
        """(top-k as {class: probability}, the time it took) or a gr.Error with the reason."""
        if not run:
            raise _refuse("Pick a run first. " + ("" if usable_runs(self.store) else NO_RUNS))
        if image is None:
            raise _refuse("No image: upload or paste one, or click an example.")
        try:
            k = int(top_k if top_k is not None else DEFAULT_TOP_K)
        except (TypeError, ValueError):
            raise _refuse(f"top_k={top_k!r} is not a whole number") from None
        if not 1 <= k <= MAX_TOP_K:
            raise _refuse(f"top_k={k} must be between 1 and {MAX_TOP_K}")
        start = time.perf_counter()
        try:
            info = model_info(self.store, str(run))
        except ModelUnavailable as err:
            raise _refuse(str(err)) from None
        # A caption run is refused by the worker, which knows what a run's model is.
        pixels = _decoded(image, info.labels.input_size, _refuse)
        decoded = time.perf_counter()
        try:
            result = self.client.predict(info.run.id, pixels)
        except Refused as err:
            raise _refuse(str(err)) from None
        except WorkerError as err:
            raise gr.Error(
                str(err), title="The model is unavailable", print_exception=False
            ) from None
        total = time.perf_counter() - start
        labels = dict(ranked(result.probs, info.labels.class_names, k))
        self._remember_hint(str(run), image, self._unfamiliar(info, result.probs, pixels))
        timing = (
            f"{1000 * total:.1f} ms (decode {1000 * (decoded - start):.1f} ms, model "
            f"{1000 * result.model_s:.1f} ms for a batch of {result.batch_size})"
        )
        return labels, timing

    def _unfamiliar(self, info, probs, pixels) -> str:
        """The out-of-domain hint for one prediction ("" when the image looks familiar)."""
        reference = self._reference(info.run)
        seen = familiarity(
            probs,
            list(info.labels.class_names),
            None if reference is None else reference.reference_top,
            pixels,
            None if reference is None else reference.reference_stats,
            note="",
        )
        return f"**Heuristic:** {seen.message}" if seen.unfamiliar else ""

    def predict_or_clear(self, run, image, top_k):
        """The UI's automatic prediction: nothing to do without a run or an image, or for a
        caption run (its own event captions the image)."""
        if not run or image is None or self.task_of(run) == "caption":
            return None, ""
        return self.predict(run, image, top_k)

    def caption(self, run: str | None, image, beam_width: float | None = DEFAULT_BEAM_WIDTH):
        """(A caption run's caption of the image, written with `beam_width` beams (1: greedy
        search), the time it took) or a gr.Error with the reason. The time goes to a
        gr.State, so the API answers the caption alone."""
        if not run:
            raise _refuse_caption(
                "Pick a run first. " + ("" if usable_runs(self.store, task=None) else NO_RUNS)
            )
        if image is None:
            raise _refuse_caption("No image: upload or paste one, or click an example.")
        beam = _beam_width(beam_width)
        start = time.perf_counter()
        try:
            info = model_info(self.store, str(run))
        except ModelUnavailable as err:
            raise _refuse_caption(str(err)) from None
        if info.labels.task != "caption":
            raise _refuse_caption(
                f"run {info.run.id} classifies images, it writes no captions: ask {API_NAME} "
                "for its classes"
            )
        pixels = _decoded(image, info.labels.input_size, _refuse_caption)
        decoded = time.perf_counter()
        try:
            result = self.client.caption(info.run.id, pixels, beam)
        except Refused as err:
            raise _refuse_caption(str(err)) from None
        except WorkerError as err:
            raise gr.Error(
                str(err), title="The model is unavailable", print_exception=False
            ) from None
        total = time.perf_counter() - start
        search = "greedy" if beam == 1 else f"beam width {beam}"
        timing = (
            f"{1000 * total:.1f} ms (decode {1000 * (decoded - start):.1f} ms, model "
            f"{1000 * result.model_s:.1f} ms for a batch of {result.batch_size}, {search})"
        )
        return result.text, timing

    def caption_or_clear(self, run, image, beam_width):
        """The UI's automatic caption: only for a caption run with an image."""
        if not run or image is None or self.task_of(run) != "caption":
            return "", ""
        return self.caption(run, image, beam_width)

    def task_of(self, run) -> str | None:
        """The run's task, None for a run the store does not know (its handler says so)."""
        try:
            return run_task(self.store.get(str(run)))
        except RunNotFound:
            return None

    def on_task(self, run: str | None):
        """Show the class bars or the caption, as the run's task asks; the run's beam width."""
        found = None
        if run:
            with contextlib.suppress(RunNotFound):
                found = self.store.get(str(run))
        caption = found is not None and run_task(found) == "caption"
        beam = DEFAULT_BEAM_WIDTH
        if caption:
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                wanted = int(found.config.get("caption", {}).get("beam_width", beam))
                beam = min(max(wanted, 1), MAX_BEAM_WIDTH)
        return (
            gr.Column(visible=not caption),
            gr.Column(visible=not caption),
            gr.Column(visible=caption),
            gr.Column(visible=caption),
            gr.Slider(value=beam),
        )

    def choices(self) -> list[tuple[str, str]]:
        return [(run_choice(r), r.id) for r in usable_runs(self.store, task=None)]

    def on_load(self, request: gr.Request):
        """Fresh run list per page; `?run=ID` preselects a run, `&embed=1` hides the picker."""
        params = dict(request.query_params) if request is not None else {}
        choices = self.choices()
        ids = [value for _, value in choices]
        wanted = params.get("run")
        value = wanted if wanted in ids else (ids[0] if ids else None)
        embedded = params.get("embed") == "1" and value is not None
        return gr.Dropdown(choices=choices, value=value, visible=not embedded)

    def on_run(self, run: str | None):
        """The run's one-line summary, or why it cannot be used."""
        if not run:
            return NO_RUNS if not usable_runs(self.store, task=None) else "Pick a run."
        try:
            info = model_info(self.store, str(run))
        except ModelUnavailable as err:
            return f"**Cannot use this run:** {err}"
        return run_summary(info.run)

    def warm(self, run: str | None) -> None:
        """Start the worker and load the run's model while the person picks an image; then
        its reference for the out-of-domain hint."""
        self.client.warm(str(run) if run else None)
        if run:
            with contextlib.suppress(ModelUnavailable):
                info = model_info(self.store, str(run), verify=False)
                if info.labels.task == "classify":  # the hint is about class probabilities
                    self._reference(info.run)

    def examples(self, run: str | None):
        """The run's example images (written on first use), as Dataset samples and paths."""
        paths: list[str] = []
        if run:
            try:
                run_id = self.store.resolve(str(run))
                paths = [str(p) for p in self.client.examples(run_id)]
            except Exception:  # examples are a convenience, never an error
                paths = []
        return gr.Dataset(samples=[[p] for p in paths], visible=bool(paths)), paths


def build_demo(
    store: RunStore | None = None,
    client: InferenceClient | None = None,
    *,
    max_batch_size: int = MAX_BATCH_SIZE,
    concurrency_limit: int = PREDICT_CONCURRENCY,
) -> gr.Blocks:
    """The demo Blocks; `demo.inference_client` is the client to close when done.

    Up to `concurrency_limit` predictions run at once (decoding in parallel); the client
    sends those waiting for the same run to the worker as one batch of up to
    `max_batch_size` images (1 turns batching off).
    """
    store = store or RunStore()
    client = client or InferenceClient(store.home, max_batch_size=max_batch_size)
    handlers = DemoHandlers(store, client)
    static = examples_root(store.home)
    static.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([str(static)])
    choices = handlers.choices()
    first = choices[0][1] if choices else None
    captions_first = handlers.task_of(first) == "caption" if first else False

    with gr.Blocks(title="ViT Studio demo", analytics_enabled=False) as demo:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                run = gr.Dropdown(
                    choices=choices,
                    value=first,
                    label="Run",
                    allow_custom_value=True,
                    elem_id="demo-run",
                )
                summary = gr.Markdown(handlers.on_run(first), elem_id="demo-summary")
                image = image_file_input(
                    label="Image",
                    sources=["upload", "clipboard"],
                    height=300,
                    elem_id="demo-image",
                )
                # A classifier run's controls and answers, or a caption run's: one shows.
                with gr.Column(visible=not captions_first, elem_id="demo-classify-in") as cls_in:
                    k = gr.Slider(1, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, label="Top-k")
                    button = gr.Button("Classify", variant="primary", elem_id="demo-classify")
                with gr.Column(visible=captions_first, elem_id="demo-caption-in") as cap_in:
                    beam = gr.Slider(
                        1,
                        MAX_BEAM_WIDTH,
                        value=DEFAULT_BEAM_WIDTH,
                        step=1,
                        label="Beam width (1: greedy)",
                        elem_id="demo-beam",
                    )
                    caption_button = gr.Button(
                        "Caption", variant="primary", elem_id="demo-caption-button"
                    )
            with gr.Column(scale=1):
                with gr.Column(visible=not captions_first, elem_id="demo-classify-out") as cls_out:
                    labels = gr.Label(label="Top classes", elem_id="demo-labels")
                    hint = gr.Markdown("", elem_id="demo-hint")
                    timing = gr.Textbox(
                        label="Time", interactive=False, lines=1, elem_id="demo-timing"
                    )
                with gr.Column(visible=captions_first, elem_id="demo-caption-out") as cap_out:
                    caption = gr.Textbox(
                        label="Caption", interactive=False, lines=2, elem_id="demo-caption"
                    )
                    caption_timing = gr.Textbox(
                        label="Time", interactive=False, lines=1, elem_id="demo-caption-timing"
                    )
                    caption_took = gr.State("")  # the time, out of the API's answer
                examples = gr.Dataset(
                    components=[image],
                    samples=[],
                    type="index",
                    label="Examples (click one)",
                    samples_per_page=20,  # examples.MAX_CLASSES_SHOWN: one page
                    visible=False,
                    elem_id="demo-examples",
                )
                example_paths = gr.State([])

        # Predictions run their components' pre/postprocessing in the handler's thread.
        shared = {
            "concurrency_limit": concurrency_limit,
            "concurrency_id": "predict",
            "preprocess": False,
            "postprocess": False,
        }
        hinted = {"fn": handlers.hint, "inputs": [run, image], "outputs": hint, "queue": False}
        hinted["api_visibility"] = "private"
        button.click(
            in_one_thread(handlers.predict, [run, image, k], [labels, timing]),
            inputs=[run, image, k],
            outputs=[labels, timing],
            api_name=API_NAME.lstrip("/"),
            api_description="Top-k classes of an image with a finished run, and the time taken.",
            **shared,
        ).then(**hinted)
        for event in (image.change, k.release):
            event(
                in_one_thread(handlers.predict_or_clear, [run, image, k], [labels, timing]),
                inputs=[run, image, k],
                outputs=[labels, timing],
                api_visibility="private",
                trigger_mode="always_last",
                **shared,
            ).then(**hinted)
        caption_in, caption_out = [run, image, beam], [caption, caption_took]
        captioned = {
            "concurrency_limit": CAPTION_CONCURRENCY,
            "concurrency_id": "caption",
            "preprocess": False,
            "postprocess": False,
        }
        timed = {
            "fn": lambda took: took,
            "inputs": caption_took,
            "outputs": caption_timing,
            "queue": False,
            "api_visibility": "private",
        }
        caption_button.click(
            in_one_thread(handlers.caption, caption_in, caption_out),
            inputs=caption_in,
            outputs=caption_out,
            api_name=CAPTION_API_NAME.lstrip("/"),
            api_description="The caption of an image by a finished caption run, written with "
            f"beam_width beams (1: greedy search, at most {MAX_BEAM_WIDTH}).",
            **captioned,
        ).then(**timed)
        for event in (image.change, beam.release):
            event(
                in_one_thread(handlers.caption_or_clear, caption_in, caption_out),
                inputs=caption_in,
                outputs=caption_out,
                api_visibility="private",
                trigger_mode="always_last",
                **captioned,
            ).then(**timed)
        changed = run.change(handlers.on_run, run, summary, api_visibility="private", queue=False)
        changed.then(handlers.warm, run, None, api_visibility="private", queue=False)
        shown = changed.then(
            handlers.on_task,
            run,
            [cls_in, cls_out, cap_in, cap_out, beam],
            api_visibility="private",
            queue=False,
        )
        with_examples = shown.then(
            handlers.examples, run, [examples, example_paths], api_visibility="private"
        )
        with_examples.then(
            in_one_thread(handlers.predict_or_clear, [run, image, k], [labels, timing]),
            inputs=[run, image, k],
            outputs=[labels, timing],
            api_visibility="private",
            **shared,
        ).then(**hinted)
        with_examples.then(
            in_one_thread(handlers.caption_or_clear, caption_in, caption_out),
            inputs=caption_in,
            outputs=caption_out,
            api_visibility="private",
            **captioned,
        ).then(**timed)
        examples.click(
            lambda i, paths: paths[i] if i is not None and 0 <= i < len(paths) else None,
            [examples, example_paths],
            image,
            api_visibility="private",
            queue=False,
        )
        loaded = demo.load(handlers.on_load, None, run, api_visibility="private", queue=False)
        loaded.then(handlers.warm, run, None, api_visibility="private", queue=False)
        loaded.then(
            handlers.on_task,
            run,
            [cls_in, cls_out, cap_in, cap_out, beam],
            api_visibility="private",
            queue=False,
        )
        loaded.then(handlers.examples, run, [examples, example_paths], api_visibility="private")
    demo.queue(**QUEUE_SETTINGS)
    demo.inference_client = client
    return demo


def main(argv: list[str] | None = None) -> None:
    """`python -m studio.demo.app [--port 7860]`: the demo alone, on 127.0.0.1, no share link."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m studio.demo.app")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--max-batch-size", type=int, default=MAX_BATCH_SIZE, help="1: off")
    args = parser.parse_args(argv)
    demo = build_demo(max_batch_size=args.max_batch_size)
    try:
        launch_local(demo, args.port)
    finally:
        demo.inference_client.close()


def launch_local(blocks: gr.Blocks, port: int) -> None:
    """Serve `blocks` on 127.0.0.1:`port` as the standalone demo is (the bench's echo too)."""
    blocks.launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        max_file_size=MAX_UPLOAD,
        theme=studio_theme(),
    )


if __name__ == "__main__":
    main()
