"""A pretrained ViT-B/16 (keras-hub preset) with a new classifier head, for fine-tuning.

The model keeps the studio's input contract: float32 images on the 0..255 scale at the
dataset's input size. Inside it augments (training only), resizes to the backbone's image size
and scales pixels as the preset's image converter says, then classifies the class token.
"""

from __future__ import annotations

import keras
import numpy as np

from studio.config.schema import AugmentConfig, ModelConfig, RunConfig
from studio.layers.dropout import ByteDropout
from studio.models.build import ModelInputs
from studio.models.vit import augmentation, seeds_from
from studio.runs.errors import RunFailed

# What google/vit-base-patch16-224-in21k's preprocessor does (mean 0.5, std 0.5 on 0..1):
# pixels to [-1, 1]. Used when a preset carries no image converter.
DEFAULT_SCALE, DEFAULT_OFFSET = 1.0 / 127.5, -1.0


class PretrainedUnavailable(RunFailed):
    """Pretrained weights could not be loaded; the message says how to provide them offline."""


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def load_backbone(preset: str):
    """`keras_hub.models.ViTBackbone.from_preset`, or PretrainedUnavailable in one line."""
    import keras_hub

    try:
        return keras_hub.models.ViTBackbone.from_preset(preset)
    except Exception as err:  # network, missing files, wrong architecture: all say the same
        raise PretrainedUnavailable(
            f"model.pretrained={preset!r} could not be loaded ({type(err).__name__}: "
            f"{_first_line(err)}). Without internet, pre-download it on a machine that has it: "
            f'`python -c "import keras_hub; keras_hub.models.ViTBackbone.from_preset('
            f"'{preset}').save_to_preset('vit-b16')\"`, copy the folder here and pass "
            "--set model.pretrained=/path/to/vit-b16"
        ) from None


def preset_scaling(preset: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, offset) of the preset's image converter, else ViT's [-1, 1]."""
    import keras_hub

    scale, offset = DEFAULT_SCALE, DEFAULT_OFFSET
    try:
        converter = keras_hub.layers.ViTImageConverter.from_preset(preset)
    except Exception:  # a backbone-only preset (save_to_preset of a backbone) has none
        converter = None
    if converter is not None and converter.scale is not None:
        scale = converter.scale
        offset = converter.offset if converter.offset is not None else 0.0
    scale = np.broadcast_to(np.asarray(scale, "float64"), (3,))
    offset = np.broadcast_to(np.asarray(offset, "float64"), (3,))
    return scale, offset


def build_pretrained_vit(
    model_cfg: ModelConfig,
    augment_cfg: AugmentConfig,
    num_classes: int,
    input_shape: tuple,
    seed: int | None = None,
) -> keras.Model:
    """A functional classifier (name "vit_b16") over the backbone of `model_cfg.pretrained`.

    `model_cfg.freeze_backbone` trains only the head; `model_cfg.head_dropout` drops the
    class token's features before the new linear head. Raises PretrainedUnavailable when
    the preset cannot be loaded (offline, wrong path).
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be an integer >= 1")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape} must be (height, width, channels)")
    backbone = load_backbone(model_cfg.pretrained)
    backbone.trainable = not model_cfg.freeze_backbone
    height, width = backbone.input_shape[1:3]
    scale, offset = preset_scaling(model_cfg.pretrained)
    seeds = seeds_from(seed)

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="images")
    x = augmentation(inputs, augment_cfg, seeds)
    x = keras.layers.Resizing(height, width, name="resize")(x)
    # x * scale + offset, written as a Normalization so it is per channel and serialisable.
    x = keras.layers.Normalization(
        mean=(-offset / scale).tolist(), variance=(1.0 / scale**2).tolist(), name="scale"
    )(x)
    x = backbone(x)
    x = x[:, 0]  # the class token, as ViT's classifier reads it
    x = ByteDropout(model_cfg.head_dropout, seed=next(seeds), name="head_dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name="vit_b16")


def build(cfg: RunConfig, inputs: ModelInputs) -> keras.Model:
    """The variant table's builder of `vit-b16`; the preset brings its own pixel scaling."""
    return build_pretrained_vit(
        cfg.model, cfg.augment, inputs.num_classes, inputs.input_shape, seed=cfg.train.seed
    )
