"""build_vit: every variant and pooling, `.keras` reload, attention read-out, a tiny fit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.config import POOLINGS, VARIANTS, AugmentConfig, ModelConfig
from studio.models.vit import attention_scores, build_vit, lsa_temperatures
from tests.helpers.tiny import MEAN, NO_AUGMENT, VARIANCE, tiny_config

VIT_FAMILY = [v.name for v in VARIANTS.values() if v.builder == "studio.models.vit:build"]


def _tiny(variant="spt-lsa", pooling="flatten", **model) -> ModelConfig:
    """The tiny preset at 8 px (4 patches) with 2 blocks, and any model field changed."""
    fields = {"image_size": 8, "depth": 2, "pooling": pooling, **model}
    return tiny_config(variant, **{f"model.{k}": v for k, v in fields.items()}).model


def _predict(model, images):
    # A direct call, not `predict`: compiling a predict function per model is slow under JAX.
    return keras.ops.convert_to_numpy(model(images, training=False))


def _images(n, size=6, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("variant", VIT_FAMILY)
def test_every_variant_and_pooling_gives_logits(variant, pooling):
    model = build_vit(_tiny(variant, pooling, depth=1), NO_AUGMENT, 5, (6, 6, 3), MEAN, VARIANCE)
    assert model.name == "vit"
    assert model.get_layer("logits").activation is keras.activations.linear
    logits = _predict(model, _images(3))
    assert logits.shape == (3, 5)
    assert np.all(np.isfinite(logits))
    temperatures = lsa_temperatures(model)
    assert (temperatures is not None) == VARIANTS[variant].lsa


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="parameter counts do not depend on the backend; initialising 21M weights is slow on JAX",
)
def test_keras_example_parameter_counts():
    # ModelConfig() defaults are the keras.io example; "vit" is its vanilla model.
    counts = {
        variant: build_vit(
            ModelConfig(variant=variant), AugmentConfig(), 100, (32, 32, 3), MEAN, VARIANCE
        ).count_params()
        for variant in ("vit", "spt-lsa")
    }
    assert counts == {"vit": 21_759_012, "spt-lsa": 21_787_748}


@pytest.mark.parametrize(("variant", "pooling"), [("spt-lsa", "cls"), ("vit", "flatten")])
def test_keras_reload_in_safe_mode_predicts_the_same(tmp_path, variant, pooling):
    augment = AugmentConfig(rand_augment=True)
    model = build_vit(_tiny(variant, pooling), augment, 4, (6, 6, 3), MEAN, VARIANCE, seed=1)
    images = _images(4)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_predict(loaded, images), _predict(model, images))
    assert lsa_temperatures(loaded) == lsa_temperatures(model)


def test_attention_scores_after_reload(tmp_path):
    model = build_vit(_tiny("spt-lsa", "cls"), NO_AUGMENT, 3, (6, 6, 3), MEAN, VARIANCE)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    images = _images(2)
    scores = attention_scores(loaded, images)
    assert [s.shape for s in scores] == [(2, 2, 5, 5)] * 2  # 4 patches + class token
    for block_scores in scores:
        np.testing.assert_allclose(block_scores.sum(axis=-1), 1.0, rtol=1e-5)
        assert np.all(np.diagonal(block_scores, axis1=-2, axis2=-1) == 0.0)
    # Asking twice reuses the read-out and agrees with the original model.
    again = attention_scores(loaded, images)
    original = attention_scores(model, images)
    for a, b, c in zip(scores, again, original, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    # The read-out leaves the model itself untouched.
    assert _predict(loaded, images).shape == (2, 3)


def test_attention_scores_of_plain_vit_keep_the_diagonal():
    model = build_vit(_tiny("vit", "gap", depth=1), NO_AUGMENT, 3, (6, 6, 3), MEAN, VARIANCE)
    (scores,) = attention_scores(model, _images(2))
    assert scores.shape == (2, 2, 4, 4)
    assert np.diagonal(scores, axis1=-2, axis2=-1).min() > 0.0


def test_tiny_fit_reduces_loss_on_a_learnable_problem():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    # Bright vs dark images: learnable from any patch, whatever the augmentation does.
    images = (rng.uniform(0, 60, (64, 6, 6, 3)) + 150 * labels[:, None, None, None]).astype(
        "float32"
    )
    model = build_vit(
        _tiny("spt-lsa", "gap", depth=1, dropout=0.0, head_dropout=0.0, stochastic_depth=0.0),
        NO_AUGMENT,
        2,
        (6, 6, 3),
        [105.0] * 3,
        [5000.0] * 3,
        seed=0,
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    before = float(loss(labels, _predict(model, images)))
    model.fit(images, labels, batch_size=16, epochs=3, shuffle=False, verbose=0)
    after = float(loss(labels, _predict(model, images)))
    assert after < 0.5 * before, (before, after)
