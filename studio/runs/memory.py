"""The worker's memory guard: a reserve to spend on ending cleanly, and a watch on headroom.

Memory that runs out mid-step kills a worker in ways Python may never see (std::bad_alloc
aborts, the kernel's OOM killer sends SIGKILL). The guard looks every `POLL_S` at what is
left, the machine's available memory and this process's address-space limit (RLIMIT_AS)
alike; when it falls under `floor_mb()` it says so in worker.log (the words a later reader
of a dead worker's log finds: `studio.runs.last_words`) and the training callback fails the
run at the next batch, with its checkpoint. The reserve is a little memory held from the
start and freed before the worker records how it ended, so that record does not fail too.
"""

from __future__ import annotations

import gc
import os
import threading

import psutil

try:
    import resource
except ImportError:  # Windows: no address-space limits
    resource = None  # type: ignore[assignment]

POLL_S = 0.5
RESERVE_BYTES = 32 * 2**20
DEFAULT_FLOOR_MB = 192


def floor_mb() -> int:
    """MiB of headroom under which the guard calls memory low (STUDIO_MEMORY_FLOOR_MB)."""
    try:
        return max(0, int(os.environ.get("STUDIO_MEMORY_FLOOR_MB", DEFAULT_FLOOR_MB)))
    except ValueError:
        return DEFAULT_FLOOR_MB


def headroom_bytes(process: psutil.Process | None = None) -> int:
    """Bytes this process may still allocate: the machine's available memory, or less under
    an address-space limit."""
    left = psutil.virtual_memory().available
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            used = (process or psutil.Process()).memory_info().vms
            left = min(left, soft - used)
    return left


class Guard:
    """Holds the reserve and watches headroom from a daemon thread until `close`."""

    def __init__(self) -> None:
        self._reserve: bytes | None = b"\1" * RESERVE_BYTES  # touched: really resident
        self._done = threading.Event()
        self.low: str | None = None
        self._floor = floor_mb() * 2**20
        if self._floor:
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        process = psutil.Process()
        while not self._done.wait(POLL_S):
            try:
                left = headroom_bytes(process)
            except (psutil.Error, OSError):
                continue
            if left < self._floor:
                mib = max(0, left) // 2**20
                self.low = f"memory ran low, {mib} MiB left"
                print(f"[worker {os.getpid()}] memory low: {mib} MiB left", flush=True)
                return

    def release(self) -> None:
        """Give the reserve back and collect garbage: room to record how the run ended."""
        self._reserve = None
        gc.collect()

    def close(self) -> None:
        self._done.set()
        self.release()
