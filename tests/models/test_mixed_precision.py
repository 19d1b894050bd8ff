"""Mixed bfloat16: matrix products in bfloat16, the softmax, logits and losses in float32,
and a saved model that computes in the precision it was trained in."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.inference.loading import load_keras_file
from studio.models.build import ModelInputs, build_model
from studio.models.vit import attention_scores
from studio.training import precision
from studio.training.compile import compile_model
from studio.training.speed import ExecutionPlan
from tests.helpers.tiny import MEAN, VARIANCE, tiny_config

CLASSES, SIZE = 3, 16


@pytest.fixture
def mixed():
    before = keras.mixed_precision.global_policy().name
    yield precision.apply("bfloat16")
    keras.mixed_precision.set_global_policy(before)


@pytest.mark.parametrize("variant", ["vit", "spt-lsa"])
def test_a_mixed_model_trains_with_float32_logits_loss_and_attention(mixed, variant, tmp_path):
    assert mixed == "mixed_bfloat16"
    cfg = tiny_config(variant)
    keras.utils.set_random_seed(0)
    model = build_model(cfg, ModelInputs(CLASSES, (SIZE, SIZE, 3), MEAN, VARIANCE))
    compile_model(model, cfg.train, 1, ExecutionPlan(jit_compile=False, steps_per_execution=1))
    assert precision.model_policy(model) == "mixed_bfloat16"
    block = model.get_layer("block_0")
    assert block.compute_dtype == "bfloat16" and block.variable_dtype == "float32"

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, SIZE, SIZE, 3)).astype("float32")
    labels = np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, 8)]
    logs = model.train_on_batch(images, labels, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert keras.backend.standardize_dtype(model(images, training=False).dtype) == "float32"

    scores = attention_scores(model, images[:2])
    assert all(s.dtype == np.float32 for s in scores)
    np.testing.assert_allclose(scores[0].sum(axis=-1), 1.0, atol=2e-2)  # bfloat16 rounding

    path = tmp_path / "model.keras"
    model.save(path)
    keras.mixed_precision.set_global_policy("float32")
    reloaded = load_keras_file(path, compile=False)
    assert precision.model_policy(reloaded) == "mixed_bfloat16"
    np.testing.assert_allclose(
        reloaded(images, training=False), model(images, training=False), rtol=1e-5, atol=1e-5
    )


def test_a_float32_model_reports_float32():
    cfg = tiny_config("vit")
    model = build_model(cfg, ModelInputs(CLASSES, (SIZE, SIZE, 3), MEAN, VARIANCE))
    assert precision.model_policy(model) == "float32"
