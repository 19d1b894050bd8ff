"""The warm-up + cosine schedule is correct, serialisable and actually drives AdamW."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from studio.config import TrainConfig
from studio.training.compile import compile_model
from studio.training.schedule import WarmupCosine


def _lr(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


def test_shape_of_the_curve():
    s = WarmupCosine(peak=1e-3, total_steps=100, warmup_steps=10)
    assert _lr(s, 0) == pytest.approx(1e-4)
    assert _lr(s, 4) == pytest.approx(5e-4)
    assert _lr(s, 10) == pytest.approx(1e-3)
    assert _lr(s, 55) == pytest.approx(5e-4, rel=1e-4)
    assert _lr(s, 100) == pytest.approx(0.0, abs=1e-9)
    rates = [_lr(s, i) for i in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_round_trip():
    s = WarmupCosine(peak=2e-3, total_steps=50, warmup_steps=5)
    again = WarmupCosine.from_config(s.get_config())
    assert [_lr(again, i) for i in range(50)] == [_lr(s, i) for i in range(50)]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="warmup_steps=10"):
        WarmupCosine(peak=1e-3, total_steps=10, warmup_steps=10)


def test_optimizer_follows_the_schedule():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    compile_model(model, TrainConfig(epochs=2, learning_rate=1e-2, warmup_fraction=0.5), 4)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(16) % 3]
    seen = []
    for _ in range(8):
        seen.append(float(ops.convert_to_numpy(model.optimizer.learning_rate)))
        model.train_on_batch(x[:4], y[:4])
    # 8 steps in all, 4 of warm-up: rising to the peak, then falling.
    assert seen[:4] == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2])
    assert seen[4] > seen[5] > seen[6] > seen[7] > 0
