"""Which Keras backend a training worker runs on, decided without importing either framework.

TensorFlow by default (the studio installs its CPU build). Where an NVIDIA GPU is present
and JAX can drive it (a CUDA plugin is installed) but TensorFlow cannot, the worker runs on
JAX: the GPU machines this project uses carry JAX, not TensorFlow. KERAS_BACKEND, when set,
decides over both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT = "tensorflow"


def _distributions() -> set[str]:
    names = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            names.add(name.lower().replace("_", "-"))
    return names


def installed_version(name: str) -> str | None:
    """The installed version of a distribution (`keras`, `tensorflow-cpu`), None if absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def nvidia_gpu_present(proc: Path = Path("/proc/driver/nvidia/gpus"), dev: Path = Path("/dev")):
    """True when the NVIDIA driver lists a GPU (Linux)."""
    try:
        if proc.is_dir() and any(proc.iterdir()):
            return True
    except OSError:
        pass
    return (dev / "nvidia0").exists()


def jax_drives_gpus(names: set[str]) -> bool:
    """JAX is importable and has a CUDA plugin (jax[cuda12] and later install one)."""
    return importlib.util.find_spec("jax") is not None and any(
        n.startswith("jax-cuda") for n in names
    )


def tensorflow_drives_gpus(names: set[str]) -> bool:
    """The full TensorFlow wheel with NVIDIA's CUDA libraries (tensorflow[and-cuda])."""
    return "tensorflow" in names and any(n.startswith("nvidia-cudnn") for n in names)


def worker_backend(env: Mapping[str, str] | None = None) -> str:
    """The backend a new training worker should use on this machine."""
    env = os.environ if env is None else env
    chosen = env.get("KERAS_BACKEND")
    if chosen:
        return chosen
    if nvidia_gpu_present():
        names = _distributions()
        if jax_drives_gpus(names) and not tensorflow_drives_gpus(names):
            return "jax"
    return DEFAULT
