"""The precision a run computes in: its `train.precision` setting resolved on this hardware.

Mixed bfloat16 runs the matrix products in bfloat16 and keeps the weights, the softmax
(LSA's and the logits'), the losses and the metrics in float32. It pays only where the
hardware multiplies bfloat16 natively: AVX-512 BF16 or AMX on x86 processors, Ampere and
later on NVIDIA GPUs. Elsewhere it emulates the type and is slower than float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import keras

MIXED = "mixed_bfloat16"
FLOAT32 = "float32"
# /proc/cpuinfo flags of units that multiply bfloat16 natively.
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_multiplies_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the processor lists AVX-512 BF16 or AMX-BF16 (Linux; False elsewhere)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return any(flag in flags for flag in _CPU_BF16_FLAGS)
    return False


def gpu_multiplies_bf16() -> bool | None:
    """True/False for the first GPU the backend sees (compute capability 8.0 or later);
    None when the backend sees no GPU."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            return None
        capability = getattr(gpus[0], "compute_capability", "0")
        return float(capability) >= 8.0
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        major, _ = tf.config.experimental.get_device_details(gpus[0]).get(
            "compute_capability", (0, 0)
        )
        return major >= 8
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        return torch.cuda.get_device_capability(0)[0] >= 8
    return None


def resolve(setting: str) -> str:
    """The Keras dtype policy for a `train.precision` setting on this machine."""
    if setting == "float32":
        return FLOAT32
    if setting == "bfloat16":
        return MIXED
    gpu = gpu_multiplies_bf16()
    native = gpu if gpu is not None else cpu_multiplies_bf16()
    return MIXED if native else FLOAT32


def apply(setting: str) -> str:
    """Set the global dtype policy for the layers built from now on; returns its name."""
    policy = resolve(setting)
    keras.mixed_precision.set_global_policy(policy)
    return policy


@contextlib.contextmanager
def policy(setting: str) -> Iterator[str]:
    """`apply(setting)` for the layers built inside, then the policy that was in force."""
    before = keras.mixed_precision.global_policy().name
    try:
        yield apply(setting)
    finally:
        keras.mixed_precision.set_global_policy(before)


def model_policy(model: keras.Model) -> str:
    """The policy a model computes in, read off its layers: a reloaded checkpoint keeps the
    one it was built with, whatever the global policy is now; its logits are float32 in
    every policy, so any mixed layer makes the model mixed."""
    names = {layer.dtype_policy.name for layer in model.layers}
    mixed = sorted(name for name in names if name.startswith("mixed_"))
    return mixed[0] if mixed else FLOAT32
