"""Custom layers: shapes, config round trips, LSA's masked diagonal and learned temperature,
the byte-drawn dropout."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import ops

from studio.layers import (
    ByteDropout,
    ClassToken,
    DropPath,
    LocalitySelfAttention,
    PatchEncoder,
    SelfAttention,
    ShiftedPatchTokenization,
    TransformerBlock,
)


def _random(*shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


# (layer factory, input shape, expected output shape)
LAYERS = {
    "spt": (lambda: ShiftedPatchTokenization(8, 4, 16), (2, 8, 8, 3), (2, 4, 16)),
    "plain_patches": (
        lambda: ShiftedPatchTokenization(8, 2, 16, shifted=False),
        (2, 8, 8, 3),
        (2, 16, 16),
    ),
    "patch_encoder": (lambda: PatchEncoder(4, 16), (2, 4, 16), (2, 4, 16)),
    "class_token": (lambda: ClassToken(16), (2, 4, 16), (2, 5, 16)),
    "lsa": (lambda: LocalitySelfAttention(2, 16, dropout=0.1), (2, 4, 16), (2, 4, 16)),
    "attention": (lambda: SelfAttention(2, 8, dropout=0.1), (2, 4, 16), (2, 4, 16)),
    "drop_path": (lambda: DropPath(0.2, seed=1), (2, 4, 16), (2, 4, 16)),
    "byte_dropout": (lambda: ByteDropout(0.1, seed=1), (2, 4, 16), (2, 4, 16)),
    "block": (lambda: TransformerBlock(2, 16, [32, 16], 0.1, 0.1), (2, 4, 16), (2, 4, 16)),
    "lsa_block": (
        lambda: TransformerBlock(2, 16, [32, 16], 0.0, 0.0, locality=True, seed=3),
        (2, 4, 16),
        (2, 4, 16),
    ),
}


@pytest.mark.parametrize("name", LAYERS)
def test_output_shape(name):
    factory, input_shape, output_shape = LAYERS[name]
    layer = factory()
    assert tuple(layer(_random(*input_shape)).shape) == output_shape
    assert tuple(layer.compute_output_shape(input_shape)) == output_shape


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip_rebuilds_the_same_layer(name):
    factory, input_shape, _ = LAYERS[name]
    layer = factory()
    x = _random(*input_shape)
    expected = ops.convert_to_numpy(layer(x))
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(x)), expected, rtol=1e-6, atol=1e-6)


def test_every_layer_is_registered_for_keras_files():
    for factory, _, _ in LAYERS.values():
        cls = type(factory())
        assert keras.saving.get_registered_object(f"studio>{cls.__name__}") is cls


def test_every_init_argument_is_an_attribute_in_the_config():
    import inspect

    for factory, _, _ in LAYERS.values():
        layer = factory()
        config = layer.get_config()
        for arg in inspect.signature(type(layer).__init__).parameters:
            if arg in ("self", "kwargs"):
                continue
            assert config[arg] == getattr(layer, arg), (type(layer).__name__, arg)


def test_unshifted_patches_are_row_major_with_row_col_channel_inside():
    images = _random(1, 4, 4, 2)
    patches = ops.convert_to_numpy(ShiftedPatchTokenization(4, 2, 8, shifted=False).patches(images))
    expected = [images[0, r : r + 2, c : c + 2, :].reshape(-1) for r in (0, 2) for c in (0, 2)]
    np.testing.assert_array_equal(patches[0], np.stack(expected))


def test_shifted_patches_carry_five_views():
    layer = ShiftedPatchTokenization(8, 4, 16)
    assert tuple(layer.patches(_random(2, 8, 8, 3)).shape) == (2, 4, 4 * 4 * 3 * 5)


def test_lsa_masks_the_diagonal_and_normalises_rows():
    layer = LocalitySelfAttention(num_heads=2, key_dim=16)
    output, scores = layer(_random(2, 4, 16), return_attention_scores=True)
    scores = ops.convert_to_numpy(scores)
    assert tuple(output.shape) == (2, 4, 16)
    assert scores.shape == (2, 2, 4, 4)
    assert np.all(np.diagonal(scores, axis1=-2, axis2=-1) == 0.0)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, rtol=1e-5)


def test_lsa_temperature_is_trainable_from_sqrt_key_dim():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 16))
    model = keras.Model(inputs, LocalitySelfAttention(2, 16, name="lsa")(inputs))
    layer = model.get_layer("lsa")
    assert any(w is layer.temperature for w in layer.trainable_weights)
    assert float(ops.convert_to_numpy(layer.temperature)) == pytest.approx(math.sqrt(16))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(_random(2, 4, 16), _random(2, 4, 16, seed=1))
    assert float(ops.convert_to_numpy(layer.temperature)) != pytest.approx(4.0, abs=1e-7)


def test_lsa_refuses_a_single_token():
    with pytest.raises(ValueError, match=r"at least 2 tokens; got T=1"):
        LocalitySelfAttention(2, 16)(_random(1, 1, 16))


def test_drop_path_is_identity_at_inference_and_drops_whole_samples_in_training():
    x = np.ones((64, 3, 4), dtype="float32")
    layer = DropPath(0.5, seed=0)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)
    dropped = ops.convert_to_numpy(layer(x, training=True))
    per_sample = dropped.reshape(64, -1)
    # Each sample is either all 0 or all 1 / (1 - rate).
    assert set(np.unique(per_sample.min(axis=1))) <= {0.0, 2.0}
    np.testing.assert_array_equal(per_sample.min(axis=1), per_sample.max(axis=1))
    assert 0 < (per_sample[:, 0] == 0).sum() < 64


@pytest.mark.parametrize(("rate", "width"), [(0.1, 144), (0.5, 9), (0.02, 1)])
def test_byte_dropout_drops_its_rounded_rate_and_keeps_the_expected_value(rate, width):
    layer = ByteDropout(rate, seed=7)
    assert layer.effective_rate == round(rate * 256) / 256
    x = np.ones((4096, width), dtype="float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)
    dropped = ops.convert_to_numpy(layer(x, training=True))
    assert set(np.unique(dropped)) == {0.0, np.float32(1 / (1 - layer.effective_rate))}
    # 4096 x width draws: the share dropped within 5 standard errors of the rounded rate.
    sigma = math.sqrt(layer.effective_rate * (1 - layer.effective_rate) / dropped.size)
    assert abs((dropped == 0).mean() - layer.effective_rate) < 5 * sigma
    assert abs(dropped.mean() - 1.0) < 5 * sigma / (1 - layer.effective_rate)
    # Columns draw from different bytes: no column is dropped for every row.
    assert (dropped == 0).mean(axis=0).max() < 0.5 + rate


def test_byte_dropout_draws_differ_between_calls_and_follow_the_seed():
    x = np.ones((64, 32), dtype="float32")
    first, second = ByteDropout(0.5, seed=3), ByteDropout(0.5, seed=3)
    a, b = (ops.convert_to_numpy(first(x, training=True)) for _ in range(2))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(ops.convert_to_numpy(second(x, training=True)), a)


@pytest.mark.parametrize("cls", [SelfAttention, LocalitySelfAttention])
def test_the_fused_path_and_the_explicit_one_agree(cls):
    # Without dropout or scores asked for, JAX takes keras.ops.dot_product_attention; asking
    # for scores always takes the explicit einsum path.
    layer = cls(2, 8)
    x = _random(3, 5, 16, seed=2)
    fused = ops.convert_to_numpy(layer(x, training=False))
    explicit, scores = layer(x, training=False, return_attention_scores=True)
    np.testing.assert_allclose(fused, ops.convert_to_numpy(explicit), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(scores).sum(axis=-1), 1.0, rtol=1e-6)


def test_blocks_saved_before_the_studio_had_its_own_attention_load_keras_attention():
    block = TransformerBlock(2, 16, [32, 16])
    assert isinstance(block.get_config()["keras_attention"], bool)
    old = {k: v for k, v in block.get_config().items() if k != "keras_attention"}
    old_block = TransformerBlock.from_config(old)
    old_block(_random(2, 4, 16))
    assert isinstance(old_block.attention, keras.layers.MultiHeadAttention)
    block(_random(2, 4, 16))
    assert type(block.attention) is SelfAttention
    lsa = TransformerBlock.from_config({**old, "locality": True})
    lsa(_random(2, 4, 16))
    assert type(lsa.attention) is LocalitySelfAttention


def test_block_returns_attention_scores_when_asked():
    for locality in (False, True):
        block = TransformerBlock(2, 16, [32, 16], locality=locality)
        out, scores = block(_random(2, 4, 16), return_attention_scores=True)
        assert tuple(out.shape) == (2, 4, 16)
        assert tuple(scores.shape) == (2, 2, 4, 4)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ShiftedPatchTokenization(10, 4, 8), r"image_size=10 is not divisible by"),
        (lambda: TransformerBlock(2, 16, [32, 8]), r"mlp_units=\[32, 8\] must end with"),
        (lambda: LocalitySelfAttention(0, 4), r"num_heads=0"),
        (lambda: DropPath(1.0), r"rate=1.0"),
        (lambda: ByteDropout(-0.1), r"rate=-0.1"),
        (lambda: PatchEncoder(0, 8), r"num_patches=0"),
    ],
)
def test_bad_arguments_name_the_offending_value(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_wrong_image_size_is_refused_at_build():
    with pytest.raises(ValueError, match=r"image height=6 does not match image_size=8"):
        ShiftedPatchTokenization(8, 4, 8)(_random(1, 6, 6, 3))
