"""DeiT (Touvron et al. 2021): a ViT student with class and distillation tokens.

Adapted from the keras.io "deit" example to Keras 3: instead of a backend-specific
`train_step`, the model overrides `compute_loss` and `compute_metrics`, which every backend's
trainer calls, so the same code trains on TensorFlow and JAX.

In training the model returns both heads' logits and learns from the labels (class head) and
from a teacher (distillation head). Otherwise it returns one tensor: the log of the two
heads' averaged softmax, i.e. logits of the DeiT prediction. A saved student is therefore an
ordinary classifier for `predict`, `evaluate` and the demo; the teacher is never saved with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
from keras import ops

from studio.config.schema import DISTILL_KINDS, AugmentConfig, DistillConfig, ModelConfig, RunConfig
from studio.layers.patches import ClassToken, PatchEncoder
from studio.models.build import ModelInputs
from studio.models.vit import encode, mlp_head, patch_tokens, seeds_from

CLASS_TOKEN, DISTILLATION_TOKEN = 0, 1


def hard_distillation_loss(teacher_logits, student_logits):
    """Cross-entropy of the student against the teacher's top class (DeiT's "hard" label)."""
    num_classes = ops.shape(student_logits)[-1]
    target = ops.one_hot(ops.argmax(teacher_logits, axis=-1), num_classes)
    return ops.mean(keras.losses.categorical_crossentropy(target, student_logits, from_logits=True))


def soft_distillation_loss(teacher_logits, student_logits, temperature: float):
    """KL(teacher || student) of temperature-softened distributions, scaled by T^2.

    The T^2 keeps the gradient size independent of T (Hinton et al. 2015).
    """
    teacher_log_probs = ops.log_softmax(teacher_logits / temperature, axis=-1)
    student_log_probs = ops.log_softmax(student_logits / temperature, axis=-1)
    kl = ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
    return ops.mean(kl) * temperature**2


def average_heads(class_logits, distillation_logits):
    """Logits of the mean of both heads' softmax: log((p_cls + p_dist) / 2)."""
    return ops.logaddexp(
        ops.log_softmax(class_logits, axis=-1), ops.log_softmax(distillation_logits, axis=-1)
    ) - math.log(2.0)


@keras.saving.register_keras_serializable(package="studio")
class AverageHeads(keras.layers.Layer):
    """Logits of the DeiT prediction: the log of the two heads' averaged softmax.

    Args:
        **kwargs: passed to `keras.layers.Layer`.
    """

    def call(self, class_logits, distillation_logits):
        return average_heads(class_logits, distillation_logits)

    def compute_output_shape(self, class_logits_shape, distillation_logits_shape):
        return class_logits_shape


@dataclass(frozen=True)
class _Teacher:
    # A plain holder: Keras tracks layers set as attributes, and a tracked teacher would be
    # saved inside every checkpoint and final model of the student.
    model: keras.Model
    input_size: int

    def logits(self, images):
        # The feed may hand uint8 pixels; resizing integers would round them.
        images = ops.cast(images, "float32")
        if ops.shape(images)[1] != self.input_size or ops.shape(images)[2] != self.input_size:
            images = ops.image.resize(images, (self.input_size, self.input_size))
        return ops.stop_gradient(self.model(images, training=False))


@keras.saving.register_keras_serializable(package="studio")
class DeiTClassifier(keras.Model):
    """A DeiT student: images in, logits out; learns from labels and a teacher in `fit`.

    Args:
        backbone: a model mapping images to `[class_logits, distillation_logits]`, as built
            by `build_deit_backbone`.
        distillation: `hard` (cross-entropy to the teacher's argmax) or `soft` (KL at
            `temperature`).
        alpha: weight of the distillation loss; the compiled label loss gets `1 - alpha`.
        temperature: softening of both distributions for `soft` distillation.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, backbone, distillation="hard", alpha=0.5, temperature=3.0, **kwargs):
        if distillation not in DISTILL_KINDS:
            raise ValueError(
                f"distillation={distillation!r} must be one of {', '.join(DISTILL_KINDS)}"
            )
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha} must be in [0, 1]")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature} must be > 0")
        self.backbone = backbone
        # float32 like the heads' logits it averages, whatever the global policy.
        self.average = AverageHeads(dtype="float32", name="average_heads")
        # A functional model, as keras-hub's tasks are: `inputs` / `outputs` exist, so the
        # studio's inference path (which checks `outputs`) loads a student like any ViT.
        inputs = backbone.input
        outputs = self.average(*backbone(inputs))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.distillation = distillation
        self.alpha = alpha
        self.temperature = temperature
        self._teacher = None
        # The two terms of the training loss, reported beside it so a run's record shows
        # which one moves (the loss itself is their weighted sum).
        self.label_loss_tracker = keras.metrics.Mean(name="label_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def attach_teacher(self, teacher: keras.Model, input_size: int) -> None:
        """Use `teacher` (logits for `input_size` square 0..255 images) in `fit`."""
        self._teacher = _Teacher(teacher, int(input_size))

    def call(self, inputs, training=None, mask=None):
        if training:
            return tuple(self.backbone(inputs, training=True))
        return super().call(inputs, training=training, mask=mask)

    def distillation_loss(self, teacher_logits, distillation_logits):
        """The teacher term alone, as configured (hard or soft)."""
        if self.distillation == "hard":
            return hard_distillation_loss(teacher_logits, distillation_logits)
        return soft_distillation_loss(teacher_logits, distillation_logits, self.temperature)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, (tuple, list)):
            # Evaluation: the compiled loss of the averaged prediction, like any classifier.
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        class_logits, distillation_logits = y_pred
        # The compiled loss (label smoothing included) on the class head; it also adds any
        # layer losses, which this model does not have.
        label_loss = super().compute_loss(x, y, class_logits, sample_weight, training=training)
        self.label_loss_tracker.update_state(label_loss)
        if self.alpha == 0.0:
            return label_loss
        if self._teacher is None:
            raise RuntimeError(
                "DeiTClassifier.fit needs a teacher: call attach_teacher(model, input_size) first"
            )
        teacher_logits = self._teacher.logits(x)
        distill = self.distillation_loss(teacher_logits, distillation_logits)
        self.distillation_loss_tracker.update_state(distill)
        return (1.0 - self.alpha) * label_loss + self.alpha * distill

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Accuracy and top-5 always describe what the model predicts: the averaged heads.
        training = isinstance(y_pred, (tuple, list))
        if training:
            y_pred = average_heads(*y_pred)
        results = super().compute_metrics(x, y, y_pred, sample_weight)
        if not training:
            # Evaluation sees the averaged prediction only: its loss parts are not measured.
            for tracker in (self.label_loss_tracker, self.distillation_loss_tracker):
                results.pop(tracker.name, None)
        return results

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "distillation": self.distillation,
            "alpha": self.alpha,
            "temperature": self.temperature,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def build_deit_backbone(
    model_cfg: ModelConfig,
    augment_cfg: AugmentConfig,
    num_classes: int,
    input_shape: tuple,
    mean,
    variance,
    seed: int | None = None,
) -> keras.Model:
    """A functional ViT (name "deit_backbone") with two heads: class and distillation.

    Same input contract and trunk as `build_vit` (0..255 images, normalised and resized
    inside, blocks named `block_{i}`), without SPT or LSA. Tokens are ordered
    [class, distillation, patches...]; each of the first two feeds its own head MLP
    (`model_cfg.head_units`) and linear layer. `model_cfg.pooling` is not used.
    """
    m = model_cfg
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be an integer >= 1")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape} must be (height, width, channels)")
    seeds = seeds_from(seed)
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="images")
    x = patch_tokens(inputs, m, augment_cfg, mean, variance, seeds)
    # Each ClassToken prepends, so the distillation token goes in first.
    x = ClassToken(m.projection_dim, name="distillation_token")(x)
    x = ClassToken(m.projection_dim, name="class_token")(x)
    x = PatchEncoder(m.num_patches + 2, m.projection_dim, name="position_embedding")(x)
    x = encode(x, m, seeds)
    heads = []
    for prefix, index in (("head", CLASS_TOKEN), ("distillation_head", DISTILLATION_TOKEN)):
        h = mlp_head(x[:, index], m.head_units, m.head_dropout, prefix, seeds)
        # float32 logits keep the softmax cross-entropy stable under mixed precision.
        heads.append(keras.layers.Dense(num_classes, dtype="float32", name=f"{prefix}_logits")(h))
    return keras.Model(inputs, heads, name="deit_backbone")


def build_deit(
    model_cfg: ModelConfig,
    augment_cfg: AugmentConfig,
    distill_cfg: DistillConfig,
    num_classes: int,
    input_shape: tuple,
    mean,
    variance,
    seed: int | None = None,
) -> DeiTClassifier:
    """A DeiT student (name "deit") ready to compile; attach its teacher before `fit`."""
    backbone = build_deit_backbone(
        model_cfg, augment_cfg, num_classes, input_shape, mean, variance, seed
    )
    return DeiTClassifier(
        backbone,
        distillation=distill_cfg.kind,
        alpha=distill_cfg.alpha,
        temperature=distill_cfg.temperature,
        name="deit",
    )


def build(cfg: RunConfig, inputs: ModelInputs) -> DeiTClassifier:
    """The variant table's builder of `deit`."""
    return build_deit(
        cfg.model,
        cfg.augment,
        cfg.distill,
        inputs.num_classes,
        inputs.input_shape,
        inputs.mean,
        inputs.variance,
        seed=cfg.train.seed,
    )
