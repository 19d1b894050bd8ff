"""Linear warm-up then cosine decay, as a serialisable Keras schedule."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="studio")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then follows a cosine to 0.

    The Keras example builds such a schedule and never hands it to the optimizer; this one
    is the optimizer's learning rate, and its position is the optimizer's iteration count,
    so a resumed run continues the curve where it stopped.

    Args:
        peak: learning rate at the end of warm-up.
        total_steps: steps of the whole run.
        warmup_steps: steps of the linear warm-up.
    """

    def __init__(self, peak: float, total_steps: int, warmup_steps: int) -> None:
        if peak <= 0 or total_steps < 1 or not 0 <= warmup_steps < max(total_steps, 1):
            raise ValueError(
                f"WarmupCosine needs peak > 0, total_steps >= 1, 0 <= warmup_steps < total_steps;"
                f" got peak={peak}, total_steps={total_steps}, warmup_steps={warmup_steps}"
            )
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = float(max(self.warmup_steps, 1))
        decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * self.peak * (1.0 + ops.cos(math.pi * progress))
        # Step 0 trains at peak/warmup rather than 0, so the first batch is not wasted.
        linear = self.peak * (step + 1.0) / warmup
        return ops.where(step < self.warmup_steps, linear, cosine)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }
