"""The demo's client: concurrent requests share batches per run; failures reach every caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from studio.inference.client import InferenceClient, Refused, WorkerError


class SlowWorker:
    """Stands in for the worker process: answers after a delay and records each batch."""

    def __init__(self, delay_s: float = 0.15, fail: dict | None = None) -> None:
        self.delay_s = delay_s
        self.fail = fail or {}
        self.batches: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def request(self, message: dict) -> dict:
        with self.lock:  # one request at a time, like the real worker
            time.sleep(self.delay_s)
            images = message["images"]
            self.batches.append((message["run"], len(images)))
            if message["run"] in self.fail:
                error = self.fail[message["run"]]
                if isinstance(error, Exception):
                    raise error
                return {"ok": False, "error": error}
            # Each image's "probabilities" encode its first pixel, to check the routing.
            probs = np.asarray(images[:, 0, 0, :1], dtype=np.float64)
            return {"ok": True, "probs": probs, "model_s": self.delay_s}

    def close(self) -> None:
        pass


def _image(value: int) -> np.ndarray:
    return np.full((4, 4, 3), value, dtype=np.uint8)


def test_requests_that_arrive_while_the_worker_is_busy_share_a_batch():
    worker = SlowWorker()
    client = InferenceClient(home=None, max_batch_size=8, worker=worker)
    try:
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda i: client.predict("run-a", _image(i)), range(12)))
    finally:
        client.close()
    assert [int(r.probs[0]) for r in results] == list(range(12))  # each got its own answer
    sizes = [n for _, n in worker.batches]
    assert sum(sizes) == 12
    assert max(sizes) > 1 and max(sizes) <= 8
    assert len(worker.batches) < 12


def test_a_lone_request_is_not_held_back():
    worker = SlowWorker(delay_s=0.0)
    client = InferenceClient(home=None, max_batch_size=8, worker=worker)
    try:
        start = time.perf_counter()
        result = client.predict("run-a", _image(7))
        assert time.perf_counter() - start < 1.0
    finally:
        client.close()
    assert result.batch_size == 1 and worker.batches == [("run-a", 1)]


def test_batches_never_mix_runs_and_a_refusal_stays_with_its_run():
    worker = SlowWorker(fail={"tampered": "run tampered: does not match the checksum"})
    client = InferenceClient(home=None, max_batch_size=16, worker=worker)

    def call(i: int):
        run = "tampered" if i % 3 == 0 else "good"
        try:
            return run, client.predict(run, _image(i))
        except Refused as err:
            return run, err

    try:
        with ThreadPoolExecutor(9) as pool:
            outcomes = list(pool.map(call, range(9)))
    finally:
        client.close()
    for run, outcome in outcomes:
        if run == "tampered":
            assert isinstance(outcome, Refused) and "checksum" in str(outcome)
        else:
            assert not isinstance(outcome, Exception)
    assert all(run in ("good", "tampered") for run, _ in worker.batches)


def test_a_dead_worker_fails_the_batch_with_a_worker_error():
    worker = SlowWorker(delay_s=0.0, fail={"r": WorkerError("the inference worker stopped")})
    client = InferenceClient(home=None, worker=worker)
    try:
        with pytest.raises(WorkerError, match="stopped"):
            client.predict("r", _image(1))
    finally:
        client.close()
