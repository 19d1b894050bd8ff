"""The keras-free side of the inference worker: start it lazily, batch, restart on death.

The Streamlit server never imports keras; whatever needs a model (the demo's predictions, the
Patches page's attention maps) or a dataset (a run's example images) is asked of one worker
process (`studio.inference.worker`) over one private socket pair, with
`multiprocessing.connection` framing. `shared_client(home)` is that process's one client, so
the demo and the pages share one worker and its loaded models.

`InferenceClient.predict(run_id, image)` and `InferenceClient.caption(run_id, image,
beam_width)` are called from many Gradio threads at once. Requests queue up while the worker
is busy; the batching thread then sends every queued image of a run (of a run and beam width,
for captions) as one batch (up to `max_batch_size`), so throughput grows with load while a
lone request never waits for company.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from studio.inference.attention_maps import (
    AttentionResult,
    DistanceResult,
    Reference,
    load_distance,
    load_reference,
    load_result,
)
from studio.runs.artifacts import WORKER_LOG, read_examples
from studio.runs.paths import demo_dir

WORKER_MODULE = "studio.inference.worker"
# Importing TensorFlow on a busy two-core machine can take a while; longer means stuck.
START_TIMEOUT_S = 180.0
# A model load plus attention maps, or a dataset load for examples, on a busy machine.
REPLY_TIMEOUT_S = 300.0
# On two CPU cores the keras-example model runs fastest per image in batches of 8; bigger
# batches were slower per image (bench/demo_latency.py: 45 img/s at 8, 30 at 16).
MAX_BATCH_SIZE = 8


class WorkerError(RuntimeError):
    """The worker could not answer; the message says why, for people."""


class Refused(RuntimeError):
    """The worker answered with a refusal (tampered model, missing run, ...)."""


@dataclass(frozen=True)
class Prediction:
    """One image's class probabilities and how its batch went."""

    probs: np.ndarray
    model_s: float
    batch_size: int


@dataclass(frozen=True)
class Caption:
    """One image's caption and how its batch went."""

    text: str
    model_s: float
    batch_size: int


class WorkerProcess:
    """`python -m studio.inference.worker` over a private socket pair; one request at a time."""

    def __init__(self, home: Path, log_dir: Path | None = None) -> None:
        self.home = Path(home)
        self.log_path = (log_dir or demo_dir(self.home)) / WORKER_LOG
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.starts = 0
        self.backend: str | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        parent_end, child_end = socket.socketpair()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        command = [
            sys.executable,
            "-m",
            WORKER_MODULE,
            "--fd",
            str(child_end.fileno()),
            "--home",
            str(self.home),
        ]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(child_end.fileno(),),
            )
        child_end.close()
        self._conn = Connection(parent_end.detach())
        self.starts += 1
        try:
            ready = self._conn.poll(START_TIMEOUT_S) and self._conn.recv()
        except (EOFError, OSError):
            ready = None
        if not ready or not ready.get("ready"):
            self._stop()
            raise WorkerError(
                f"the inference worker did not start; its log is {self.log_path}"
                + (f": {self._log_tail()}" if self._log_tail() else "")
            )
        self.backend = ready.get("backend")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def _stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None

    def request(self, message: dict) -> dict:
        """Send one request and wait for its reply; starts (or restarts) the worker first."""
        with self._lock:
            for attempt in (1, 2):
                if self._proc is None or self._proc.poll() is not None:
                    self._stop()
                    self._start()
                try:
                    self._conn.send(message)
                    if not self._conn.poll(REPLY_TIMEOUT_S):
                        self._proc.kill()
                        raise WorkerError(
                            f"the inference worker gave no answer in {REPLY_TIMEOUT_S:.0f} s "
                            "and was stopped; the next request starts a new one"
                        )
                    return self._conn.recv()
                except (EOFError, OSError):
                    # It died (killed, out of memory): start a fresh one and try once more.
                    self._stop()
                    if attempt == 2:
                        raise WorkerError(
                            f"the inference worker stopped unexpectedly; see {self.log_path}"
                        ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send({"op": "stop"})
            self._stop()


class InferenceClient:
    """Batched predictions through one worker process, safe to call from any thread."""

    def __init__(
        self,
        home: Path,
        max_batch_size: int = MAX_BATCH_SIZE,
        worker: WorkerProcess | None = None,
    ) -> None:
        self.worker = worker or WorkerProcess(home)
        self.max_batch_size = max_batch_size
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self.batch_sizes: list[int] = []  # recent batch sizes, for tests and the bench

    def predict(self, run_id: str, image: np.ndarray, timeout: float | None = None) -> Prediction:
        """Probabilities for one decoded uint8 image; raises Refused or WorkerError."""
        return self._queued(("predict", run_id), image, timeout)

    def caption(
        self, run_id: str, image: np.ndarray, beam_width: int, timeout: float | None = None
    ) -> Caption:
        """A caption run's caption of one decoded uint8 image, written with `beam_width`
        beams (1: greedy); raises Refused or WorkerError."""
        return self._queued(("caption", run_id, int(beam_width)), image, timeout)

    def _queued(self, key: tuple, image: np.ndarray, timeout: float | None):
        future: Future = Future()
        self._ensure_thread()
        self._queue.put((key, image, future))
        try:
            return future.result(timeout=timeout or START_TIMEOUT_S + REPLY_TIMEOUT_S)
        except TimeoutError:
            raise WorkerError("no answer from the inference worker in time") from None

    def attention(self, run_id: str, data: bytes) -> AttentionResult:
        """The run's attention on the image in `data`, computed (and cached) by the worker.

        Raises Refused with the worker's reason (unusable run, unreadable image) or
        WorkerError.
        """
        reply = self.worker.request({"op": "attention", "run": run_id, "image": bytes(data)})
        if not reply.get("ok"):
            raise Refused(reply.get("error", "refused"))
        return load_result(Path(reply["path"]))

    def attention_distance(self, run_id: str) -> DistanceResult:
        """The run's mean attention distance over its test images, computed (and cached per
        model file) by the worker. Raises Refused with the worker's reason, or WorkerError."""
        reply = self.worker.request({"op": "attention_distance", "run": run_id})
        if not reply.get("ok"):
            raise Refused(reply.get("error", "refused"))
        return load_distance(Path(reply["path"]))

    def reference(self, run_id: str) -> Reference:
        """The run's confidence and pixel statistics on its test images, computed (and cached
        per model file) by the worker. Raises Refused with the worker's reason, or WorkerError."""
        reply = self.worker.request({"op": "reference", "run": run_id})
        if not reply.get("ok"):
            raise Refused(reply.get("error", "refused"))
        return load_reference(Path(reply["path"]))

    def examples(self, run_id: str) -> list[Path]:
        """The run's example images, written by the worker the first time; [] if none."""
        found = read_examples(self.worker.home, run_id)
        if found is not None:
            return found
        try:
            self.worker.request({"op": "examples", "run": run_id})
        except WorkerError:
            return []  # examples are a convenience, never an error
        return read_examples(self.worker.home, run_id) or []

    def warm(self, run_id: str | None) -> None:
        """Start the worker and load the run's model in the background (errors ignored)."""

        def load() -> None:
            with contextlib.suppress(Exception):
                self.worker.request({"op": "load", "run": run_id} if run_id else {"op": "ping"})

        threading.Thread(target=load, name="demo-warm", daemon=True).start()

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._batch_loop, name="demo-batcher", daemon=True
                )
                self._thread.start()

    def _batch_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            while len(items) < self.max_batch_size:
                try:
                    extra = self._queue.get_nowait()
                except queue.Empty:
                    break
                if extra is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                items.append(extra)
            # One batch per request kind: a run's predictions, or its captions at one width.
            by_key: dict[tuple, list] = {}
            for key, image, future in items:
                by_key.setdefault(key, []).append((image, future))
            for key, group in by_key.items():
                try:
                    self._run_batch(key, group)
                except Exception as err:  # never leave a caller waiting
                    for _, future in group:
                        if not future.done():
                            future.set_exception(WorkerError(f"the batch failed ({err})"))

    def _run_batch(self, key: tuple, group: list) -> None:
        live = [(image, f) for image, f in group if f.set_running_or_notify_cancel()]
        if not live:
            return
        images, futures = [image for image, _ in live], [f for _, f in live]
        op, run_id = key[0], key[1]
        message = {"op": op, "run": run_id, "images": np.stack(images)}
        if op == "caption":
            message["beam_width"] = key[2]
        try:
            reply = self.worker.request(message)
        except Exception as err:
            for future in futures:
                future.set_exception(err if isinstance(err, WorkerError) else WorkerError(str(err)))
            return
        if not reply.get("ok"):
            for future in futures:
                future.set_exception(Refused(reply.get("error", "refused")))
            return
        self.batch_sizes = [*self.batch_sizes[-999:], len(futures)]
        if op == "caption":
            for future, text in zip(futures, reply["captions"], strict=True):
                future.set_result(Caption(text, reply["model_s"], len(futures)))
            return
        for future, row in zip(futures, reply["probs"], strict=True):
            future.set_result(Prediction(row, reply["model_s"], len(futures)))

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self.worker.close()


_shared: dict[Path, InferenceClient] = {}
_shared_lock = threading.Lock()


def shared_client(home: Path) -> InferenceClient:
    """This process's client for `home`, made on first use: one worker for the demo and pages."""
    key = Path(home).resolve()
    with _shared_lock:
        client = _shared.get(key)
        if client is None:
            client = _shared[key] = InferenceClient(key)
        return client


def close_shared() -> None:
    """Stop the shared clients' workers (the server is shutting down)."""
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for client in clients:
        client.close()
