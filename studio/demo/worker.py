"""The demo's inference worker: `python -m studio.demo.worker --fd FD --home STUDIO_HOME`.

The only process of the demo that imports keras. It talks to its parent over one end of a
socket pair inherited as file descriptor FD (no listening address, so nothing else can reach
it), with `multiprocessing.connection` framing. It exits when the parent closes its end,
which the kernel also does when the parent dies.

Requests and replies are dicts:
    {"op": "predict", "run": RUN_ID, "images": uint8 (N, H, W, 3)}
        -> {"ok": True, "probs": float64 (N, classes), "model_s": seconds, "sha256": ...}
        -> {"ok": False, "error": "a sentence for people"}
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

from studio.inference import ModelCache, ModelUnavailable, predict_probs
from studio.store import RunStore


def handle(cache: ModelCache, message: dict) -> dict:
    op = message.get("op")
    if op == "ping":
        return {"ok": True, "models": len(cache)}
    if op == "load":
        try:
            cache.get(str(message["run"]))
        except ModelUnavailable as err:
            return {"ok": False, "error": str(err)}
        return {"ok": True, "models": len(cache)}
    if op != "predict":
        return {"ok": False, "error": f"unknown request {op!r}"}
    try:
        loaded = cache.get(str(message["run"]))
        images = np.asarray(message["images"])
        size = loaded.info.labels.input_size
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3):
            return {
                "ok": False,
                "error": f"expected uint8 images shaped (N, {size}, {size}, 3), "
                f"got {images.dtype} {images.shape}",
            }
        start = time.perf_counter()
        probs = predict_probs(loaded.model, images)
        return {
            "ok": True,
            "probs": probs,
            "model_s": time.perf_counter() - start,
            "sha256": loaded.info.sha256,
        }
    except ModelUnavailable as err:
        return {"ok": False, "error": str(err)}
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
    parser = argparse.ArgumentParser(prog="python -m studio.demo.worker")
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
