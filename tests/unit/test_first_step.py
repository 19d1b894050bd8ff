"""The first training step is traced once, with one learning-rate computation, and trains to
the same numbers as Keras' own path; the phases of the way there reach worker.log."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.config.schema import TrainConfig
from studio.training import callbacks
from studio.training.compile import compile_model

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the TensorFlow trainer's tracing"
)

STEPS = 3


def _fit(prepare: bool, monkeypatch) -> tuple[keras.Model, int]:
    """A small AdamW + warm-up cosine model fit for STEPS steps; (model, schedule calls)."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="gelu"), keras.layers.Dense(4)]
    )
    compile_model(model, TrainConfig(epochs=2, batch_size=8, weight_decay=0.05), STEPS)
    schedule = type(model.optimizer._learning_rate)
    calls = []
    original = schedule.__call__
    monkeypatch.setattr(
        schedule, "__call__", lambda self, step: calls.append(1) or original(self, step)
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * STEPS, 6)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 8 * STEPS)]
    hooks = []
    if prepare:

        def on_train_begin(logs=None):
            callbacks.build_optimizer(model)
            callbacks.learning_rate_once_per_trace(model)

        hooks.append(keras.callbacks.LambdaCallback(on_train_begin=on_train_begin))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=hooks)
    return model, len(calls)


def test_prepared_first_trace_computes_the_schedule_once_and_changes_no_number(
    monkeypatch, tmp_path
):
    plain, plain_calls = _fit(False, monkeypatch)
    prepared, prepared_calls = _fit(True, monkeypatch)
    # Keras alone: traced twice (its optimizer slots are made inside the first trace), with
    # the schedule once per variable each time. Prepared: one trace, one schedule.
    assert plain_calls >= 2 * len(plain.trainable_variables)
    assert prepared_calls == 1
    for a, b in zip(plain.get_weights(), prepared.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(prepared.optimizer.iterations) == STEPS
    # The schedule, not the hook, is what a checkpoint holds.
    path = tmp_path / "model.keras"
    prepared.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.optimizer._learning_rate) is type(prepared.optimizer._learning_rate)
    assert "_get_current_learning_rate" not in vars(reloaded.optimizer)


def test_a_resumed_optimizer_is_left_as_it_is(monkeypatch):
    model, _ = _fit(True, monkeypatch)
    hook = model.optimizer._get_current_learning_rate
    callbacks.build_optimizer(model)
    callbacks.learning_rate_once_per_trace(model)
    assert model.optimizer._get_current_learning_rate is hook  # not wrapped twice
    # Outside a trace it is the schedule's value now.
    assert float(model.optimizer.learning_rate) == pytest.approx(
        float(model.optimizer._learning_rate(model.optimizer.iterations))
    )
