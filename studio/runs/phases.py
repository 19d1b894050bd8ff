"""Timestamps of a worker's way to its first metric row, written to the run's worker.log.

One line per phase, `[worker PID] phase NAME at UNIX_SECONDS`, so a person reading the log and
`bench/first_metric_latency.py` see the same thing: where the seconds between Start and the
first point on the chart go (interpreter start, framework import, data and model, the first
step with its graph tracing, the first row).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

_LINE = re.compile(r"^\[worker (\d+)\] phase ([\w-]+) at (\d+(?:\.\d+)?)\s*$")


def mark(name: str, at: float | None = None) -> None:
    """Print that phase `name` ended now (or at `at`, in time.time() seconds)."""
    when = time.time() if at is None else at
    print(f"[worker {os.getpid()}] phase {name} at {when:.3f}", flush=True)


def read(log: Path) -> list[tuple[str, float]]:
    """The (phase, unix seconds) lines of a worker log, in the order written."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            found.append((match.group(2), float(match.group(3))))
    return found
