"""How a worker that is gone ended, read from the last lines of its worker.log.

A worker says how it ends (`[worker PID] ending STATUS: REASON`) before it writes that to the
run store, so a store write that fails (no memory, no disk) loses nothing: whoever reconciles
the store reads the words here. A worker killed outright says nothing; if its log shows
memory running out (the framework's own words, or the worker's memory guard), the run failed
for want of memory rather than being interrupted.
"""

from __future__ import annotations

import re
from pathlib import Path

TAIL_BYTES = 64 * 1024
_ENDING = re.compile(r"^\[worker (\d+)\] ending (failed|stopped|completed|interrupted): ?(.*)$")
# What the process prints when memory runs out: Python, TensorFlow's allocators, C++ (on
# the way to abort), glibc, LLVM and the guard (`studio.runs.memory`).
_OOM_WORDS = (
    "MemoryError",
    "std::bad_alloc",
    "OOM when allocating",
    "out of memory",
    "Cannot allocate memory",
    "pthread_create failed",
    "pthread_create() failed",
    "] memory low:",
)
_OOM_REASON = re.compile(r"^out of memory at batch size (\d+)")


def say_ending(status: str, reason: str) -> None:
    """Print how this worker ends (one line, whatever the reason holds)."""
    import os

    flat = " ".join(reason.split())
    print(f"[worker {os.getpid()}] ending {status}: {flat}", flush=True)


def tail(log: Path) -> list[str]:
    """The last lines of a log (TAIL_BYTES of it); none when it cannot be read."""
    try:
        with open(log, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - TAIL_BYTES))
            return fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def read_ending(log: Path, pid: int, batch_size: int | None) -> tuple[str, str] | None:
    """(status, reason) for worker `pid` that is gone, from its log; None when the log says
    nothing of how it ended."""
    lines = tail(log)
    mine = f"[worker {pid}]"
    # Only this worker's output: from its first line on (the log is appended to by every
    # worker of the run), without the lines of others.
    first = next((i for i, line in enumerate(lines) if mine in line), 0)
    lines = [line for line in lines[first:] if mine in line or "[worker " not in line]
    for line in reversed(lines):
        match = _ENDING.match(line.strip())
        if match and int(match.group(1)) == pid:
            return match.group(2), match.group(3)
    if batch_size and any(word in line for line in lines for word in _OOM_WORDS):
        return "failed", out_of_memory_reason(batch_size, "the process died")
    return None


def out_of_memory_reason(batch_size: int, how: str = "") -> str:
    """The reason of a run that ran out of memory, with the batch to retry at."""
    how = f" ({how})" if how else ""
    if batch_size <= 1:
        return f"out of memory at batch size 1{how}; choose a smaller model or image size"
    half = max(1, batch_size // 2)
    return (
        f"out of memory at batch size {batch_size}{how}; try {half}: "
        f"Retry at batch {half}, or resume with --batch-size {half}"
    )


def retry_batch_size(reason: str | None) -> int | None:
    """The smaller batch a run that ran out of memory should retry at, else None."""
    match = _OOM_REASON.match(reason or "")
    if not match or int(match.group(1)) <= 1:
        return None
    return int(match.group(1)) // 2
