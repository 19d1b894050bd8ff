"""A process-wide memory budget for decoding images, so many large images at once cannot swell
a process: each decode reserves what it will need before Pillow allocates the pixels.

The Streamlit server (demo predictions, the Patches page, dataset previews) refuses at once
with DecoderBusy when the budget is spent; batch decoding (training) waits its turn instead.
No Streamlit and no keras here.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Iterator

BUDGET_ENV = "STUDIO_DECODE_MEMORY_MB"
DEFAULT_BUDGET_MB = 1024


class DecoderBusy(RuntimeError):
    """Too much memory is already decoding other images; the caller should try again later."""

    def __init__(self, needed: int, in_use: int, budget: int):
        self.needed, self.in_use, self.budget = needed, in_use, budget
        super().__init__(
            f"the server is busy decoding other images ({_mb(in_use)} of its {_mb(budget)} "
            f"decoding memory in use, this image needs {_mb(needed)}); try again in a moment"
        )


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MB"


class MemoryBudget:
    """Reservations of bytes against a fixed total, granted in arrival order.

    A reservation larger than the whole budget is granted only when nothing else is
    reserved, so any image under the pixel cap can still be decoded on an idle server:
    the peak is the larger of the budget and one image.
    """

    def __init__(self, total_bytes: int):
        if total_bytes < 1:
            raise ValueError(f"a decoding budget must be positive, not {total_bytes}")
        self.total = int(total_bytes)
        self.in_use = 0
        self.peak = 0  # the most ever reserved at once (tests and the bench read it)
        self._cond = threading.Condition()
        self._queue: collections.deque[object] = collections.deque()

    def _fits(self, nbytes: int) -> bool:
        return self.in_use == 0 or self.in_use + nbytes <= self.total

    @contextlib.contextmanager
    def reserve(self, nbytes: int, wait: bool = True) -> Iterator[None]:
        """Hold `nbytes` for the block; without `wait`, raise DecoderBusy if they do not fit."""
        nbytes = max(0, int(nbytes))
        with self._cond:
            if not wait:
                if self._queue or not self._fits(nbytes):
                    raise DecoderBusy(nbytes, self.in_use, self.total)
            else:
                ticket = object()
                self._queue.append(ticket)
                try:
                    # First come, first served: a large image is not starved by small ones.
                    self._cond.wait_for(lambda: self._queue[0] is ticket and self._fits(nbytes))
                finally:
                    self._queue.remove(ticket)
                    self._cond.notify_all()
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= nbytes
                self._cond.notify_all()


def budget_from_env() -> int:
    """STUDIO_DECODE_MEMORY_MB in bytes (1024 MB unless set to a positive whole number)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    try:
        mb = int(raw) if raw else DEFAULT_BUDGET_MB
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    return (mb if mb > 0 else DEFAULT_BUDGET_MB) * 2**20


DECODING = MemoryBudget(budget_from_env())
