"""Process identity and detached spawning, without third-party dependencies.

A PID alone is not an identity: PIDs are reused. A worker is identified by its PID plus
the kernel's start time of that PID, so a recycled PID never passes for a live worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """The kernel's start tick of `pid`, or None if no such live (non-zombie) process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    state, start = rest[0], rest[19]
    if state in ("Z", "X"):
        return None
    return start


def is_alive(pid: int | None, start_time: str | None) -> bool:
    """True while the process that registered as (pid, start_time) still runs."""
    if not pid:
        return False
    if not Path("/proc").is_dir():  # not Linux: best effort without start times
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


def spawn_detached(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start `python args...` in its own session so it outlives its launcher; return its PID."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **(env or {})},
        )
    # A long-lived launcher (the Streamlit server) must reap its children, or each finished
    # worker lingers as a zombie; a daemon thread waiting on it costs nothing.
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc.pid
