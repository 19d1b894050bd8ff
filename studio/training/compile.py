"""Optimizer, loss and metrics: AdamW with warm-up + cosine, as the recipe intends."""

from __future__ import annotations

import keras

from studio.config import TrainConfig
from studio.training.schedule import WarmupCosine


def compile_model(model: keras.Model, train: TrainConfig, steps_per_epoch: int) -> None:
    """Compile with the schedule actually handed to the optimizer."""
    total = steps_per_epoch * train.epochs
    schedule = WarmupCosine(
        peak=train.learning_rate,
        total_steps=total,
        warmup_steps=min(int(train.warmup_fraction * total), total - 1),
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=train.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=train.label_smoothing
        ),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=3, name="top3"),
            keras.metrics.TopKCategoricalAccuracy(k=5, name="top5"),
        ],
    )
