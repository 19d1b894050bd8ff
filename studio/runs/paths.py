"""Where the studio keeps its state: everything lives under STUDIO_HOME."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "studio-home"


def studio_home() -> Path:
    """STUDIO_HOME if set, else `studio-home/` in the working directory."""
    return Path(os.environ.get("STUDIO_HOME") or DEFAULT_HOME).expanduser().resolve()


def dataset_cache_dir(home: Path | None = None) -> Path:
    """Downloaded archives and decoded image arrays, shared by all runs."""
    path = (home or studio_home()) / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def uploads_dir(home: Path | None = None) -> Path:
    """Uploaded zips, extracted one folder per distinct archive."""
    return (home or studio_home()) / "uploads"


def spaces_dir(home: Path | None = None) -> Path:
    """Where the Demo page exports Hugging Face Space folders by default."""
    return (home or studio_home()) / "spaces"


def demo_dir(home: Path | None = None) -> Path:
    """The inference worker's log and every run's example images (which the demo serves)."""
    return (home or studio_home()) / "demo"


def spool_dir(home: Path | None = None) -> Path:
    """The warm spare worker's lock, its idle note, the hand-off of a run and its log."""
    return (home or studio_home()) / "spool"


def jax_cache_dir(home: Path | None = None) -> Path:
    """JAX's persistent compilation cache, shared by all runs on the JAX backend."""
    return dataset_cache_dir(home) / "jax"
