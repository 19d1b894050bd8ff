"""The warm-up + cosine schedule (Keras' CosineDecay) drives AdamW, survives a checkpoint, and
checkpoints written with the studio's former schedule class still resume on the same curve."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from studio.config import TrainConfig
from studio.inference.loading import load_keras_file
from studio.training.compile import compile_model, warmup_cosine

LEGACY_CHECKPOINT = Path(__file__).parents[1] / "data" / "legacy-checkpoint.keras"


def _lr(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


def test_shape_of_the_curve():
    s = warmup_cosine(peak=1e-3, total_steps=100, warmup_steps=10)
    assert _lr(s, 0) == pytest.approx(1e-4)  # the first step is not wasted at 0
    assert _lr(s, 5) == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert _lr(s, 10) == pytest.approx(1e-3)
    assert _lr(s, 55) == pytest.approx(5e-4, rel=1e-4)
    assert _lr(s, 100) == pytest.approx(0.0, abs=1e-9)
    rising = [_lr(s, i) for i in range(11)]
    falling = [_lr(s, i) for i in range(10, 101)]
    assert all(a < b for a, b in itertools.pairwise(rising))
    assert all(a >= b for a, b in itertools.pairwise(falling))


def test_no_warm_up_starts_at_the_peak():
    s = warmup_cosine(peak=2e-3, total_steps=50, warmup_steps=0)
    assert _lr(s, 0) == pytest.approx(2e-3) and _lr(s, 50) == pytest.approx(0.0, abs=1e-9)


def test_optimizer_follows_the_schedule():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    compile_model(model, TrainConfig(epochs=2, learning_rate=1e-2, warmup_fraction=0.5), 4)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(16) % 3]
    seen = []
    for _ in range(8):
        seen.append(float(ops.convert_to_numpy(model.optimizer.learning_rate)))
        model.train_on_batch(x[:4], y[:4])
    # 8 steps in all, 4 of warm-up: rising from peak / 4 to the peak, then falling.
    assert seen[:5] == pytest.approx([2.5e-3, 4.375e-3, 6.25e-3, 8.125e-3, 1e-2])
    assert seen[4] > seen[5] > seen[6] > seen[7] > 0


def test_a_checkpoint_resumes_on_the_same_curve(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    compile_model(model, TrainConfig(epochs=2, learning_rate=1e-2, warmup_fraction=0.5), 4)
    x = np.ones((4, 4), "float32")
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(tmp_path / "checkpoint.keras")
    again = load_keras_file(tmp_path / "checkpoint.keras")
    assert int(ops.convert_to_numpy(again.optimizer.iterations)) == 3
    expected = float(ops.convert_to_numpy(model.optimizer.learning_rate))
    assert float(ops.convert_to_numpy(again.optimizer.learning_rate)) == pytest.approx(expected)


def test_a_checkpoint_of_the_former_schedule_class_still_resumes(tmp_path):
    # Written by the studio before it used CosineDecay (its own WarmupCosine, peak 1e-2,
    # 8 steps, 4 of warm-up), after 3 steps.
    path = tmp_path / "checkpoint.keras"
    shutil.copyfile(LEGACY_CHECKPOINT, path)
    model = load_keras_file(path)
    schedule = keras.saving.deserialize_keras_object(model.optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert [_lr(schedule, i) for i in (0, 4, 8)] == pytest.approx([2.5e-3, 1e-2, 0.0], abs=1e-9)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 3
    lr = float(ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(_lr(schedule, 3))
    model.train_on_batch(np.ones((4, 4), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]])
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 4
