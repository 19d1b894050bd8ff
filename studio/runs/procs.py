"""Process identity and detached spawning.

A PID alone is not an identity: PIDs are reused. A worker is identified by its PID plus the
operating system's creation time of that process (psutil reads it on Linux, macOS and
Windows), so a recycled PID never passes for a live worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import psutil

from studio.runs import oom


def process_start_time(pid: int) -> str | None:
    """When `pid` was created, as text, or None if there is no such live (non-zombie) process.

    Text, because the run store keeps it in a TEXT column: the creation time in seconds with
    the platform's own resolution (10 ms ticks on Linux), repr'd exactly.
    """
    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return repr(process.create_time())
    except (psutil.Error, OSError, ValueError):
        return None


def is_alive(pid: int | None, start_time: str | None) -> bool:
    """True while the process that registered as (pid, start_time) still runs."""
    if not pid:
        return False
    current = process_start_time(pid)
    if current is None:
        return False
    if start_time is not None and start_time.isdigit():
        # Written by a release that read /proc's start ticks: the PID's presence is all
        # that can still be compared, until that worker ends.
        return True
    return start_time is None or current == start_time


def spawn_detached(
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
) -> int:
    """Start `python args...` in its own session so it outlives its launcher; return its PID.

    Its environment is `base_env` (this process's own by default) updated with `env`. The
    log's folder must exist (FileNotFoundError otherwise): a run's folder is made only with
    its row, so a worker started for a run deleted meanwhile does not bring it back.
    """
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**(os.environ if base_env is None else base_env), **(env or {})},
        )
    # A long-lived launcher (the Streamlit server) must reap its children, or each finished
    # worker lingers as a zombie; a daemon thread waiting on it costs nothing. Only the
    # parent learns how a child ended (a SIGKILL leaves the child no word): it says so.
    threading.Thread(target=_reap, args=(proc, log_path), daemon=True).start()
    return proc.pid


def _reap(proc: subprocess.Popen, log_path: Path) -> None:
    returncode = proc.wait()
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(oom.exit_line(proc.pid, returncode) + "\n")
    except OSError:
        pass
