"""Start the studio exactly as `make run` does, on a free port with its own STUDIO_HOME;
and where Debian's chromium lives, with the arguments it needs here.

Shared by the browser tests, the mounted-demo test and bench/page_open.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Debian's chromium, driven by playwright without `playwright install` (no downloads here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class StudioDidNotStart(RuntimeError):
    """The server exited or stayed silent; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_studio(
    home: Path, env: dict[str, str] | None = None, timeout_s: float = 180
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Yield (process, base URL) once `/_stcore/health` answers; stop the server afterwards.

    The server's output goes to `home / "server.log"`.
    """
    port = free_port()
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO,
            env={**os.environ, "STUDIO_HOME": str(home), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(server, url, log_path, timeout_s)
            yield server, url
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
            # Runs started through the pages leave a warm spare waiting for the next one.
            from studio.runs import spare

            spare.stop_spares(home)


def stop_workers(home: Path) -> None:
    """Workers are detached on purpose; end the ones a test started under `home`."""
    import signal

    from studio.runs import procs
    from studio.runs.store import RunStore

    for run in RunStore(home).list_runs():
        if run.pid and procs.is_alive(run.pid, run.pid_start):
            os.kill(run.pid, signal.SIGTERM)


def _wait_healthy(server: subprocess.Popen, url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise StudioDidNotStart(f"the studio did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)
