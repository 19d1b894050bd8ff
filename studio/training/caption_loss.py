"""The captioner's loss and metric: per-token cross-entropy and accuracy, padding ignored.

Targets are the caption's token ids shifted by one (`studio.models.captioner.teacher_forcing`),
(B, L) ints with 0 for padding; predictions are the captioner's float32 logits (B, L, vocab).
Both average over the real (non-padding) target tokens of the whole batch, so a batch of
short captions weighs its tokens as much as a batch of long ones. keras.ops only: any backend.
"""

from __future__ import annotations

import keras
from keras import ops

PAD_ID = 0


def _targets_and_mask(targets, pad_id: int):
    # Keras' Loss casts targets to its float dtype; ids below 2**24 survive that exactly.
    targets = ops.cast(targets, "int32")
    return targets, ops.cast(ops.not_equal(targets, pad_id), "float32")


def caption_loss(targets, logits, label_smoothing: float = 0.0, pad_id: int = PAD_ID):
    """Mean cross-entropy over the non-padding target tokens (a float32 scalar).

    With `label_smoothing` e, the target distribution is (1 - e) on the true token plus e
    spread evenly over the whole vocabulary, as in `keras.losses.CategoricalCrossentropy`.
    Logits at padding positions do not change the result; a batch of padding alone gives 0.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing={label_smoothing} must be in [0, 1)")
    targets, mask = _targets_and_mask(targets, pad_id)
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    true_log_prob = ops.squeeze(
        ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1), -1
    )
    per_token = -true_log_prob
    if label_smoothing:
        per_token = (1.0 - label_smoothing) * per_token - label_smoothing * ops.mean(
            log_probs, axis=-1
        )
    # Padding positions are zeroed with `where`, not a product: their logits may be anything,
    # and an inf there times 0 would be nan.
    per_token = ops.where(mask > 0, per_token, 0.0)
    return ops.sum(per_token) / ops.maximum(ops.sum(mask), 1.0)


def token_accuracy(targets, logits, pad_id: int = PAD_ID):
    """Share of non-padding target tokens whose logit is the highest (a float32 scalar)."""
    correct, count = _correct_and_count(targets, logits, pad_id)
    return correct / ops.maximum(count, 1.0)


def _correct_and_count(targets, logits, pad_id: int):
    targets, mask = _targets_and_mask(targets, pad_id)
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), targets), "float32")
    return ops.sum(hits * mask), ops.sum(mask)


@keras.saving.register_keras_serializable(package="studio")
class CaptionLoss(keras.losses.Loss):
    """`caption_loss` as a Keras loss, for `model.compile(loss=CaptionLoss(...))`.

    Args:
        label_smoothing: share of the target spread over the vocabulary (`train.label_smoothing`).
        pad_id: the padding token id, ignored.
        name: the loss's name.
        **kwargs: passed to `keras.losses.Loss`.
    """

    def __init__(self, label_smoothing=0.0, pad_id=PAD_ID, name="caption_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing={label_smoothing} must be in [0, 1)")
        self.label_smoothing = float(label_smoothing)
        self.pad_id = int(pad_id)

    def call(self, y_true, y_pred):
        # Already the batch's mean over real tokens: the default reduction of a scalar is itself.
        return caption_loss(y_true, y_pred, self.label_smoothing, self.pad_id)

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing, "pad_id": self.pad_id})
        return config


@keras.saving.register_keras_serializable(package="studio")
class TokenAccuracy(keras.metrics.Metric):
    """Accuracy over the non-padding target tokens of everything seen since the last reset
    (an epoch's tokens, not the mean of its batches' shares).

    Args:
        pad_id: the padding token id, ignored.
        name: the metric's name in the logs.
        **kwargs: passed to `keras.metrics.Metric`.
    """

    def __init__(self, pad_id=PAD_ID, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = int(pad_id)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        correct, count = _correct_and_count(y_true, y_pred, self.pad_id)
        self.correct.assign_add(ops.cast(correct, self.correct.dtype))
        self.count.assign_add(ops.cast(count, self.count.dtype))

    def result(self):
        return self.correct / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config.update({"pad_id": self.pad_id})
        return config
