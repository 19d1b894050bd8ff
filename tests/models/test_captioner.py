"""The captioner: its build, a decoder that cannot look ahead, the padded loss, greedy and beam
search, `.keras` reload, and a tiny model that learns a few captions by heart."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.config import VARIANTS
from studio.inference import captioning
from studio.inference.captioning import beam_search, encode_images, generate, greedy_search
from studio.inference.loading import load_keras_file
from studio.models.captioner import (
    ENCODER,
    build_captioner,
    caption_decoder,
    caption_length,
    image_encoder,
    teacher_forcing,
)
from studio.models.vit import attention_scores, lsa_temperatures
from studio.training import precision
from studio.training.caption_loss import CaptionLoss, TokenAccuracy, caption_loss, token_accuracy
from tests.helpers.tiny import MEAN, VARIANCE, tiny_caption_config

VOCAB, START, END = 16, 1, 2
SHAPE = (16, 16, 3)
# Four captions of different lengths (ids 3.. are words); two share their first word, so only
# the image can tell them apart.
CAPTIONS = np.array(
    [
        [START, 3, 4, 5, END, 0, 0, 0],
        [START, 6, 7, END, 0, 0, 0, 0],
        [START, 8, 9, 10, 11, 12, END, 0],
        [START, 3, 13, 14, END, 0, 0, 0],
    ],
    dtype="int32",
)


def _model(variant="spt-lsa", seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return build_captioner(tiny_caption_config(variant, **overrides), VOCAB, SHAPE, MEAN, VARIANCE)


def _images(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *SHAPE)).astype("float32")


def _logits(model, images, tokens):
    # A direct call in inference mode, not `predict`: compiling one per model is slow on JAX.
    out = model({"images": images, "tokens": np.asarray(tokens, "int32")}, training=False)
    return keras.ops.convert_to_numpy(out)


@pytest.mark.parametrize("variant", ["vit", "spt-lsa"])
def test_builds_an_encoder_and_decoder_that_give_float32_logits(variant):
    model = _model(variant)
    tokens, _ = teacher_forcing(CAPTIONS)
    logits = _logits(model, _images(4), tokens)
    assert logits.shape == (4, 7, VOCAB)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits))
    assert caption_length(model) == 8
    encoder = image_encoder(model)
    assert encoder.output.shape[1:] == (16, 16)  # (16 px / patch 4)**2 tokens of width 16
    assert model.get_layer(ENCODER) is encoder
    assert [layer.name for layer in encoder.layers if layer.name.startswith("block_")] == [
        "block_0"
    ]
    # The attention tools read the encoder as they read a ViT.
    scores = attention_scores(encoder, _images(2))
    assert [s.shape for s in scores] == [(2, 2, 16, 16)]
    assert (lsa_temperatures(encoder) is not None) == VARIANTS[variant].lsa
    shifted = encoder.get_layer("tokenize").shifted
    assert shifted == VARIANTS[variant].spt


def test_a_class_token_is_one_more_image_token():
    model = _model("vit", **{"model.pooling": "cls"})
    assert image_encoder(model).output.shape[1] == 17


def test_mixed_precision_keeps_logits_and_loss_float32():
    with precision.policy("bfloat16"):
        model = _model("vit")
    assert caption_decoder(model).get_layer("decoder_block_0").compute_dtype == "bfloat16"
    tokens, targets = teacher_forcing(CAPTIONS)
    logits = model({"images": _images(4), "tokens": tokens}, training=False)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    loss = CaptionLoss(0.1)(targets, logits)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(loss))


def test_the_decoder_cannot_see_later_tokens_but_sees_earlier_ones_and_the_image():
    model = _model()
    images = _images(2)
    tokens = np.array([[START, 3, 4, 5, 6, 7, 8]] * 2, dtype="int32")
    base = _logits(model, images, tokens)
    changed = tokens.copy()
    changed[:, 4] = 11
    after = _logits(model, images, changed)
    np.testing.assert_allclose(after[:, :4], base[:, :4], rtol=1e-5, atol=1e-6)
    # The changed token and the ones after it do move: the comparison above is not vacuous.
    assert np.abs(after[:, 4:] - base[:, 4:]).max(axis=-1).min() > 1e-4
    # Padding later on is a later token too.
    padded = tokens.copy()
    padded[:, 3:] = 0
    np.testing.assert_allclose(
        _logits(model, images, padded)[:, :3], base[:, :3], rtol=1e-5, atol=1e-6
    )
    other_image = _logits(model, _images(2, seed=1), tokens)
    assert np.abs(other_image - base).max() > 1e-4


def _reference_loss(targets, logits, smoothing):
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    true = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    per_token = -(1 - smoothing) * true - smoothing * log_probs.mean(-1)
    real = targets != 0
    return per_token[real].mean()


def test_the_loss_ignores_padding_averages_real_tokens_and_smooths_labels():
    rng = np.random.default_rng(0)
    _, targets = teacher_forcing(CAPTIONS)
    logits = rng.normal(size=(*targets.shape, VOCAB)).astype("float32")
    plain = float(caption_loss(targets, logits))
    np.testing.assert_allclose(plain, _reference_loss(targets, logits, 0.0), rtol=1e-5)
    # Anything at padded targets, even inf, leaves the loss as it was.
    noisy = logits.copy()
    noisy[targets == 0] = rng.normal(scale=50.0, size=(int((targets == 0).sum()), VOCAB))
    noisy[targets == 0, 0] = np.inf
    assert float(caption_loss(targets, noisy)) == pytest.approx(plain, rel=1e-6)
    # The end token's position is real (its input is the last word, its target the end id).
    moved = logits.copy()
    moved[0, 3, END] += 5.0  # CAPTIONS[0] ends at index 4: target index 3 is END
    assert float(caption_loss(targets, moved)) != pytest.approx(plain, rel=1e-6)
    smoothed = float(caption_loss(targets, logits, label_smoothing=0.1))
    assert smoothed != pytest.approx(plain, rel=1e-3)
    np.testing.assert_allclose(smoothed, _reference_loss(targets, logits, 0.1), rtol=1e-5)
    # The Keras loss (what compile uses) gives the same numbers.
    loss = CaptionLoss(label_smoothing=0.1)
    np.testing.assert_allclose(float(loss(targets, noisy)), smoothed, rtol=1e-5)
    assert CaptionLoss.from_config(loss.get_config()).label_smoothing == 0.1
    assert float(caption_loss(np.zeros((2, 3), "int32"), logits[:2, :3])) == 0.0


def test_token_accuracy_counts_real_tokens_only():
    _, targets = teacher_forcing(CAPTIONS)
    real = targets != 0
    # Right everywhere except the first real token of each caption; padding predicts 5.
    predicted = np.where(real, targets, 5)
    predicted[:, 0] = 15
    logits = np.eye(VOCAB, dtype="float32")[predicted]
    expected = (real.sum() - 4) / real.sum()
    assert float(token_accuracy(targets, logits)) == pytest.approx(expected)
    metric = TokenAccuracy()
    metric.update_state(targets[:2], logits[:2])
    metric.update_state(targets[2:], logits[2:])
    # Counted over all tokens seen, not the mean of the two batches' shares.
    assert float(metric.result()) == pytest.approx(expected)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def _toy_step(tokens, memory, position):
    # A Markov "model" over 5 ids where greedy search goes wrong: after the start token, 3 is
    # likelier than 4, but "4 END" (0.4 * 0.95) beats anything that starts with 3 (<= 0.5 * 0.35).
    probs = np.zeros((len(tokens), 5))
    for row, prefix in enumerate(tokens[:, : position + 1]):
        if position == 0:
            probs[row] = [0, 0, 0.1, 0.5, 0.4]
        elif prefix[1] == 4:
            probs[row] = [0, 0, 0.95, 0.025, 0.025]
        else:
            probs[row] = [0, 0, 0.3, 0.35, 0.35]
    with np.errstate(divide="ignore"):
        return np.log(probs)


def test_beam_search_finds_the_likelier_caption_that_greedy_misses():
    memory = np.zeros((2, 1, 1))
    greedy = greedy_search(_toy_step, memory, 6, START, END)
    np.testing.assert_array_equal(greedy, [[START, 3, 3, 3, 3, 3]] * 2)
    np.testing.assert_array_equal(beam_search(_toy_step, memory, 6, START, END, 1), greedy)
    np.testing.assert_array_equal(
        beam_search(_toy_step, memory, 6, START, END, 2), [[START, 4, END, 0, 0, 0]] * 2
    )


def test_beam_width_one_is_greedy_search_on_a_model():
    model = _model()
    memory = encode_images(model, _images(6))
    step = captioning.model_step(model)
    greedy = greedy_search(step, memory, 8, START, END)
    beam = beam_search(step, memory, 8, START, END, 1)
    np.testing.assert_array_equal(beam, greedy)
    assert greedy.shape == (6, 8)
    assert np.all(greedy[:, 0] == START)
    np.testing.assert_array_equal(generate(model, _images(6), 1, None, START, END), greedy)


def test_the_step_is_traced_once_not_per_token(monkeypatch):
    calls = []
    original = captioning._NextTokenLogProbs.call

    def counted(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(captioning._NextTokenLogProbs, "call", counted)
    model = _model()
    # An end id the tiny model never writes: every one of the 7 steps runs.
    first = generate(model, _images(3), 1, None, START, VOCAB + 1)
    assert np.all(first[:, 1:] != 0)
    traced = len(calls)
    assert 1 <= traced <= 2
    generate(model, _images(3, seed=1), 1, None, START, VOCAB + 1)
    generate(model, _images(3, seed=2), 2, None, START, VOCAB + 1)
    # A second batch of the same shape reuses it; a beam of 2 is one new batch shape.
    assert len(calls) <= traced + 2


def test_reloaded_in_safe_mode_gives_the_same_logits_and_captions(tmp_path):
    model = _model("spt-lsa")
    images = _images(3)
    tokens, _ = teacher_forcing(CAPTIONS[:3])
    path = tmp_path / "captioner.keras"
    model.save(path)
    loaded = load_keras_file(path, compile=False)
    np.testing.assert_array_equal(_logits(loaded, images, tokens), _logits(model, images, tokens))
    for width in (1, 3):
        np.testing.assert_array_equal(
            generate(loaded, images, width, None, START, END),
            generate(model, images, width, None, START, END),
        )


def test_a_tiny_captioner_learns_four_captions_by_heart():
    model = _model("vit")
    images = _images(4)
    tokens, targets = teacher_forcing(CAPTIONS)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=CaptionLoss(label_smoothing=0.1),
        metrics=[TokenAccuracy()],
    )
    before = generate(model, images, 1, None, START, END)
    loss_before = float(caption_loss(targets, _logits(model, images, tokens)))
    # Steps cost little beside compiling the train step; 120 leave a margin over the 40 to 80
    # that seeds 0 to 2 need on both backends.
    steps = 120
    model.fit(
        {"images": np.tile(images, (steps, 1, 1, 1)), "tokens": np.tile(tokens, (steps, 1))},
        np.tile(targets, (steps, 1)),
        batch_size=4,
        verbose=0,
    )
    logits = _logits(model, images, tokens)
    assert float(caption_loss(targets, logits)) < loss_before / 2
    assert float(token_accuracy(targets, logits)) == 1.0
    assert not np.array_equal(before, CAPTIONS)
    np.testing.assert_array_equal(generate(model, images, 1, None, START, END), CAPTIONS)
    np.testing.assert_array_equal(generate(model, images, 3, None, START, END), CAPTIONS)
