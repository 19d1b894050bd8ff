"""Waiting for something a detached process does, with a deadline and a message."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 600.0, every: float = 0.2):
    """Poll `predicate` until it returns something truthy and return that; fail the test with
    the predicate's docstring after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    what = predicate.__doc__ or predicate
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
