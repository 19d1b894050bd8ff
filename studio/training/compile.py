"""Optimizer, loss and metrics: AdamW with linear warm-up then cosine decay, as the recipe
intends (the Keras example builds such a schedule and never hands it to the optimizer)."""

from __future__ import annotations

import keras

from studio.config.schema import TrainConfig
from studio.training.speed import ExecutionPlan, allow_jit


def warmup_cosine(peak: float, total_steps: int, warmup_steps: int):
    """Keras' CosineDecay: linear from peak / warmup_steps up to `peak`, then a cosine to 0.

    Its position is the optimizer's iteration count, saved in every checkpoint, so a resumed
    run continues the curve where it stopped. The first step trains at peak / warmup_steps
    rather than 0, so it is not wasted.
    """
    if warmup_steps <= 0:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total_steps)
    return keras.optimizers.schedules.CosineDecay(
        peak / warmup_steps,
        decay_steps=total_steps - warmup_steps,
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="studio", name="WarmupCosine")
class LegacyWarmupCosine(keras.optimizers.schedules.CosineDecay):
    """Reads the schedule of checkpoints written before the studio used CosineDecay."""

    @classmethod
    def from_config(cls, config):
        return warmup_cosine(config["peak"], config["total_steps"], config["warmup_steps"])


def compile_model(
    model: keras.Model,
    train: TrainConfig,
    steps_per_epoch: int,
    plan: ExecutionPlan | None = None,
) -> None:
    """Compile with the schedule actually handed to the optimizer, executed as `plan` says
    (Keras' own defaults when None)."""
    compile_with(
        model,
        train,
        steps_per_epoch,
        plan,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=train.label_smoothing
        ),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=3, name="top3"),
            keras.metrics.TopKCategoricalAccuracy(k=5, name="top5"),
        ],
    )


def compile_with(
    model: keras.Model,
    train: TrainConfig,
    steps_per_epoch: int,
    plan: ExecutionPlan | None,
    loss: keras.losses.Loss,
    metrics: list,
) -> None:
    """Compile with the studio's optimizer and schedule and the given loss and metrics (a
    classifier's above; a captioner's token loss and accuracy)."""
    allow_jit(model)
    total = steps_per_epoch * train.epochs
    schedule = warmup_cosine(
        train.learning_rate, total, min(int(train.warmup_fraction * total), total - 1)
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=train.weight_decay),
        loss=loss,
        metrics=metrics,
        jit_compile=plan.jit_compile if plan else "auto",
        steps_per_execution=plan.steps_per_execution if plan else 1,
    )
