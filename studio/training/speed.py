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
        # JAX always compiles; on a GPU a step of these small models takes a few
        # milliseconds, so the Python round trip per step would dominate.
        return ExecutionPlan(jit_compile=True, steps_per_execution=8 if on_gpu() else 1)
    if backend == "tensorflow":
        return ExecutionPlan(jit_compile=True, steps_per_execution=1)
    return ExecutionPlan(jit_compile=False, steps_per_execution=1)
