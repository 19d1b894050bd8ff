"""The inference worker: `python -m studio.inference.worker --fd FD --home STUDIO_HOME`.

The process that answers the keras-free ones (the Streamlit server, the demo): it loads
models, predicts, writes captions, reads attention and writes example images. It talks to its
parent over one end of a socket pair inherited as file descriptor FD (no listening address, so
nothing else can reach it), with `multiprocessing.connection` framing. It exits when the parent
closes its end, which the kernel also does when the parent dies.

Requests and replies are dicts; every reply has "ok", and "error" (a sentence for people)
when it is False:
    {"op": "predict", "run": RUN_ID, "images": uint8 (N, H, W, 3)}
        -> {"ok": True, "probs": float64 (N, classes), "model_s": seconds, "sha256": ...}
    {"op": "caption", "run": RUN_ID, "images": uint8 (N, H, W, 3), "beam_width": int}
        -> {"ok": True, "captions": [str] * N, "model_s": seconds, "sha256": ...}: a caption
        run's captions (beam width 1: greedy), its model and tokenizer kept loaded
    {"op": "attention", "run": RUN_ID, "image": bytes} -> {"ok": True, "path": cached .npz}
    {"op": "attention_distance", "run": RUN_ID} -> {"ok": True, "path": cached .npz}: mean
        attention distance per layer and head over the run's test images
    {"op": "examples", "run": RUN_ID} -> {"ok": True, "files": [paths]}
    {"op": "reference", "run": RUN_ID} -> {"ok": True, "path": cached .npz}: the run's
        confidence and pixel statistics on its test images (any model)
    {"op": "load", "run": RUN_ID} -> {"ok": True, ...}: load the run's model ahead of use
    {"op": "ping"} -> {"ok": True, "models": number loaded}
On start it sends {"ready": True, "pid": ..., "backend": ...} once keras is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from studio.config.schema import HARD_LIMITS
from studio.datasets.images import ImageDecodeError
from studio.inference.attention import compute_cached, compute_distance_cached
from studio.inference.captioning import generate
from studio.inference.examples import ensure_examples
from studio.inference.loading import ModelCache
from studio.inference.predict import predict_probs
from studio.inference.reference import compute_reference_cached
from studio.runs.artifacts import ModelUnavailable
from studio.runs.store import RunNotFound, RunStore
from studio.text.tokenizer import END, START

MAX_BEAM_WIDTH = int(next(x.most for x in HARD_LIMITS if x.field == "caption.beam_width"))


def _check_images(images: np.ndarray, size: int) -> dict | None:
    """The refusal of a batch the model cannot take, or None."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3):
        return {
            "ok": False,
            "error": f"expected uint8 images shaped (N, {size}, {size}, 3), "
            f"got {images.dtype} {images.shape}",
        }
    return None


def _predict(cache: ModelCache, message: dict) -> dict:
    loaded = cache.get(str(message["run"]))
    if loaded.tokenizer is not None:
        return {
            "ok": False,
            "error": f"run {loaded.info.run.id} writes captions; it has no classes to rank",
        }
    images = np.asarray(message["images"])
    refused = _check_images(images, loaded.info.labels.input_size)
    if refused:
        return refused
    start = time.perf_counter()
    probs = predict_probs(loaded.model, images)
    return {
        "ok": True,
        "probs": probs,
        "model_s": time.perf_counter() - start,
        "sha256": loaded.info.sha256,
    }


def _caption(cache: ModelCache, message: dict) -> dict:
    beam = message.get("beam_width")
    if not isinstance(beam, int) or isinstance(beam, bool) or not 1 <= beam <= MAX_BEAM_WIDTH:
        return {
            "ok": False,
            "error": f"beam_width={beam!r} must be a whole number from 1 to {MAX_BEAM_WIDTH}",
        }
    loaded = cache.get(str(message["run"]))
    if loaded.tokenizer is None:
        return {
            "ok": False,
            "error": f"run {loaded.info.run.id} classifies images; it writes no captions",
        }
    images = np.asarray(message["images"])
    refused = _check_images(images, loaded.info.labels.input_size)
    if refused:
        return refused
    start = time.perf_counter()
    ids = generate(loaded.model, images, beam, None, START, END)
    return {
        "ok": True,
        "captions": loaded.tokenizer.decode_batch(ids),
        "model_s": time.perf_counter() - start,
        "sha256": loaded.info.sha256,
    }


def _load(cache: ModelCache, message: dict) -> dict:
    cache.get(str(message["run"]))
    return {"ok": True, "models": len(cache)}


def _attention(cache: ModelCache, message: dict) -> dict:
    path = compute_cached(cache, str(message["run"]), bytes(message["image"]))
    return {"ok": True, "path": str(path)}


def _attention_distance(cache: ModelCache, message: dict) -> dict:
    return {"ok": True, "path": str(compute_distance_cached(cache, str(message["run"])))}


def _reference(cache: ModelCache, message: dict) -> dict:
    return {"ok": True, "path": str(compute_reference_cached(cache, str(message["run"])))}


def _examples(cache: ModelCache, message: dict) -> dict:
    files = ensure_examples(cache.store, cache.store.resolve(str(message["run"])))
    return {"ok": True, "files": [str(f) for f in files]}


OPS = {
    "predict": _predict,
    "caption": _caption,
    "load": _load,
    "attention": _attention,
    "attention_distance": _attention_distance,
    "examples": _examples,
    "reference": _reference,
}


def handle(cache: ModelCache, message: dict) -> dict:
    """One request's reply; refusals and failures are replies too, never exceptions."""
    op = message.get("op")
    if op == "ping":
        return {"ok": True, "models": len(cache)}
    if op not in OPS:
        return {"ok": False, "error": f"unknown request {op!r}"}
    try:
        return OPS[op](cache, message)
    except (ModelUnavailable, RunNotFound) as err:
        return {"ok": False, "error": str(err)}
    except ImageDecodeError as err:
        return {"ok": False, "error": f"the image cannot be used: {err.reason}"}
    except Exception as err:
        traceback.print_exc()
        return {"ok": False, "error": f"the model failed on this request ({type(err).__name__})"}


def serve(conn: Connection, store: RunStore) -> None:
    import keras

    cache = ModelCache(store)
    conn.send({"ready": True, "pid": os.getpid(), "backend": keras.backend.backend()})
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed its end or died
        if message.get("op") == "stop":
            return
        conn.send(handle(cache, message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.inference.worker")
    parser.add_argument("--fd", type=int, required=True, help="inherited socket descriptor")
    parser.add_argument("--home", type=Path, help="STUDIO_HOME (default: the environment's)")
    args = parser.parse_args(argv)
    conn = Connection(args.fd)
    try:
        serve(conn, RunStore(args.home))
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
