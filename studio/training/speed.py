"""How the trainer executes steps on this machine: XLA or not, steps per execution.

The choices are measured, not assumed: `bench/train_speed.py` times each lever against the
others on the same machine, and issue 11's note holds the table they were read from.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class ExecutionPlan:
    """Settings `model.compile` takes.

    Args:
        jit_compile: compile the train step with XLA.
        steps_per_execution: train steps run per call from Python (fewer host round trips).
    """

    jit_compile: bool
    steps_per_execution: int

    def describe(self) -> str:
        parts = ["XLA" if self.jit_compile else "no XLA"]
        if self.steps_per_execution > 1:
            parts.append(f"{self.steps_per_execution} steps per call")
        return ", ".join(parts)


def on_gpu() -> bool:
    """Whether the backend sees a GPU."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def execution_plan() -> ExecutionPlan:
    """The fastest settings measured for this backend and device."""
    backend = keras.backend.backend()
    if backend == "jax":
        # Uncompiled, JAX runs a step op by op (7 images/s against 30 compiled, keras-example
        # on this CPU). On a GPU a step of these small models takes milliseconds, so the
        # Python round trip per step would dominate: several steps per call.
        return ExecutionPlan(jit_compile=True, steps_per_execution=8 if on_gpu() else 1)
    # TensorFlow's XLA has no kernel for the random rotation and zoom layers' image
    # transform (Keras refuses to compile those models), so its graph mode it is.
    return ExecutionPlan(jit_compile=False, steps_per_execution=1)


_IMAGE_AUGMENTATION = "keras.src.layers.preprocessing.image_preprocessing"


def allow_jit(model: keras.Model) -> None:
    """On JAX, let Keras compile a model whose image augmentation layers decline XLA.

    Keras' RandomRotation, RandomZoom and RandAugment set `supports_jit = False` for
    TensorFlow's sake, and one such layer makes Keras run the whole train step uncompiled;
    under JAX their transforms are jnp functions that compile. Called before `compile`, and
    again on a reloaded checkpoint (loading sets the flag back).
    """
    if keras.backend.backend() != "jax":
        return
    # `_flatten_layers` is how Keras itself walks a model for this check (model_supports_jit).
    for layer in model._flatten_layers():
        if type(layer).__module__.startswith(_IMAGE_AUGMENTATION):
            layer.supports_jit = True
