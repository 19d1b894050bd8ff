"""The CLI as a person runs it: `python -m studio ...` in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# `train` flags small enough to train in seconds per epoch on 2 cores, big enough to learn digits.
QUICK = ["--dataset", "digits", "--batch-size", "64", "--limit", "384", "--seed", "3"]


def cli_process(*args: str, env_home) -> subprocess.CompletedProcess:
    """Run `python -m studio ARGS` with STUDIO_HOME=env_home; output captured as text."""
    env = {**os.environ, "STUDIO_HOME": str(env_home)}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
