"""Which backend and accelerator a worker trains on, in words."""

from __future__ import annotations

import keras


def describe_device() -> str:
    """For example 'tensorflow on CPU' or 'jax on gpu (NVIDIA H100)'."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"tensorflow on {len(gpus)} GPU" if gpus else "tensorflow on CPU"
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            kind = getattr(device, "device_kind", "")
            return f"jax on {device.platform}" + (f" ({kind})" if kind else "")
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"torch on cuda ({torch.cuda.get_device_name(0)})"
            return "torch on CPU"
    except Exception as exc:  # a device probe must never fail a run
        return f"{backend} (device unknown: {exc})"
    return backend
