"""DeiT student: one logits tensor out, `.keras` round trip, distillation losses, teacher in fit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.config import DistillConfig
from studio.inference.loading import load_keras_file
from studio.models.deit import DeiTClassifier, build_deit
from tests.helpers.tiny import MEAN, NO_AUGMENT, VARIANCE, tiny_config

CLASSES = 4
# The tiny preset at 8 px (4 patches), with a linear head and no dropout.
TINY = tiny_config(
    "deit",
    **{"model.image_size": 8, "model.head_units": "", "model.dropout": 0, "model.head_dropout": 0},
).model


def _student(kind="hard", alpha=0.5, temperature=3.0, seed=0) -> DeiTClassifier:
    keras.utils.set_random_seed(seed)
    distill = DistillConfig(teacher="t", kind=kind, alpha=alpha, temperature=temperature)
    return build_deit(TINY, NO_AUGMENT, distill, CLASSES, (8, 8, 3), MEAN, VARIANCE, seed=seed)


def _images(n, size=8, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _constant_teacher(size: int, favourite: int) -> keras.Model:
    """A teacher that always answers `favourite`, whatever the image."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(CLASSES)
    logits = dense(x)
    bias = np.zeros(CLASSES, "float32")
    bias[favourite] = 10.0
    dense.set_weights([np.zeros((3, CLASSES), "float32"), bias])
    return keras.Model(inputs, logits)


def _compiled(model, lr=3e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=3, name="top5"),
        ],
    )
    return model


def test_inference_gives_one_logits_tensor_of_the_averaged_head_softmax():
    model = _student()
    x = _images(5)
    out = model(x, training=False)
    assert not isinstance(out, (tuple, list))
    assert tuple(out.shape) == (5, CLASSES)
    class_logits, distillation_logits = (_np(t) for t in model.backbone(x, training=False))
    assert not np.allclose(class_logits, distillation_logits)  # two distinct heads
    expected = np.log(
        (np.exp(_log_softmax(class_logits)) + np.exp(_log_softmax(distillation_logits))) / 2
    )
    np.testing.assert_allclose(_np(out), expected, rtol=1e-5, atol=1e-5)
    heads = model(x, training=True)
    assert isinstance(heads, (tuple, list)) and len(heads) == 2


def test_keras_round_trip_in_safe_mode_gives_identical_outputs(tmp_path):
    model = _student(kind="soft", alpha=0.3, temperature=2.0)
    x = _images(4)
    before = _np(model(x, training=False))
    path = tmp_path / "deit.keras"
    model.save(path)
    loaded = load_keras_file(path, compile=False)
    assert isinstance(loaded, DeiTClassifier)
    assert (loaded.distillation, loaded.alpha, loaded.temperature) == ("soft", 0.3, 2.0)
    np.testing.assert_allclose(_np(loaded(x, training=False)), before, rtol=1e-6, atol=1e-6)
    assert loaded.predict_on_batch(x).shape == (4, CLASSES)
    assert loaded.outputs[0].shape[-1] == CLASSES  # what studio.inference checks on load


def test_hard_distillation_loss_is_half_label_half_teacher_cross_entropy():
    model = _compiled(_student(kind="hard", alpha=0.5))
    model.attach_teacher(_constant_teacher(8, favourite=2), input_size=8)
    x = _images(6)
    y = np.eye(CLASSES, dtype="float32")[[0, 1, 3, 0, 1, 3]]  # never the teacher's class 2
    class_logits, distillation_logits = (_np(t) for t in model(x, training=True))
    loss = float(_np(model.compute_loss(x, y, (class_logits, distillation_logits), training=True)))
    label_ce = -(y * _log_softmax(class_logits)).sum(-1).mean()
    teacher_ce = -_log_softmax(distillation_logits)[:, 2].mean()
    np.testing.assert_allclose(loss, 0.5 * label_ce + 0.5 * teacher_ce, rtol=1e-5)
    assert abs(loss - label_ce) > 1e-3  # the teacher changes the objective
    # Evaluation sees one tensor: the plain compiled loss of the averaged prediction.
    averaged = _np(model(x, training=False))
    eval_loss = float(_np(model.compute_loss(x, y, averaged, training=False)))
    np.testing.assert_allclose(eval_loss, -(y * averaged).sum(-1).mean(), rtol=1e-5)


def test_soft_distillation_is_kl_at_temperature_scaled_by_its_square():
    model = _compiled(_student(kind="soft", alpha=0.25, temperature=4.0))
    teacher = _constant_teacher(8, favourite=1)
    model.attach_teacher(teacher, input_size=8)
    x = _images(6)
    y = np.eye(CLASSES, dtype="float32")[[0, 1, 2, 3, 0, 1]]
    class_logits, distillation_logits = (_np(t) for t in model(x, training=True))
    loss = float(_np(model.compute_loss(x, y, (class_logits, distillation_logits), training=True)))
    t_log = _log_softmax(_np(teacher(x)) / 4.0)
    s_log = _log_softmax(distillation_logits / 4.0)
    kl = (np.exp(t_log) * (t_log - s_log)).sum(-1).mean() * 16.0
    label_ce = -(y * _log_softmax(class_logits)).sum(-1).mean()
    np.testing.assert_allclose(loss, 0.75 * label_ce + 0.25 * kl, rtol=1e-5)


def test_teacher_of_another_input_size_sees_resized_images():
    model = _compiled(_student())
    model.attach_teacher(_constant_teacher(16, favourite=0), input_size=16)
    x = _images(3)
    y = np.eye(CLASSES, dtype="float32")[[0, 1, 2]]
    loss = model.compute_loss(x, y, model(x, training=True), training=True)
    assert np.isfinite(float(_np(loss)))


def test_fit_without_a_teacher_is_refused():
    model = _compiled(_student())
    y = np.eye(CLASSES, dtype="float32")[[0, 1, 2, 3]]
    with pytest.raises(RuntimeError, match="attach_teacher"):
        model.fit(_images(4), y, epochs=1, verbose=0)


def test_fit_teaches_the_distillation_head_the_teachers_answer_and_saves_no_teacher(tmp_path):
    """The teacher always says class 3; the labels never do. After fit the distillation head
    answers 3 while the class head follows the labels, and the saved file holds no teacher."""
    x = _images(32, seed=1)
    labels = np.arange(32) % 3
    y = np.eye(CLASSES, dtype="float32")[labels]
    model = _compiled(_student(kind="hard", alpha=0.5), lr=1e-2)
    model.attach_teacher(_constant_teacher(8, favourite=3), input_size=8)
    history = model.fit(
        x, y, batch_size=16, epochs=15, verbose=0, shuffle=False, validation_data=(x, y)
    )
    logs = history.history
    losses = logs["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert set(logs) >= {"loss", "accuracy", "top5", "label_loss", "distillation_loss"}
    # The loss is the weighted sum of its two parts (both means over the same batches).
    np.testing.assert_allclose(
        losses,
        0.5 * np.array(logs["label_loss"]) + 0.5 * np.array(logs["distillation_loss"]),
        rtol=1e-4,
    )
    # Evaluation sees one averaged prediction: its loss parts are not reported as zeros.
    assert not any(key.startswith("val_") and "_loss" in key[4:] for key in logs)
    class_logits, distillation_logits = (_np(t) for t in model.backbone(x, training=False))
    assert (distillation_logits.argmax(-1) == 3).mean() >= 0.9
    assert (class_logits.argmax(-1) == 3).mean() <= 0.1

    path = tmp_path / "student.keras"
    model.save(path)
    loaded = load_keras_file(path)
    assert loaded._teacher is None
    assert len(loaded.weights) == len(model.weights)
    np.testing.assert_allclose(
        _np(loaded(x, training=False)), _np(model(x, training=False)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distillation": "medium"}, "distillation='medium' must be one of hard, soft"),
        ({"alpha": 1.5}, "alpha=1.5 must be in [0, 1]"),
        ({"temperature": 0.0}, "temperature=0.0 must be > 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    backbone = _student().backbone
    with pytest.raises(ValueError) as err:
        DeiTClassifier(backbone, **kwargs)
    assert message in str(err.value)
