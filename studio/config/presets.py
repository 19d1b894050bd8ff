"""Named presets: each a full RunConfig, then overridden field by field."""

from __future__ import annotations

from studio.config.errors import ConfigError
from studio.config.overrides import apply_overrides
from studio.config.schema import (
    AugmentConfig,
    CaptionConfig,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    validate,
)
from studio.config.variants import VARIANTS


def _keras_example() -> RunConfig:
    # keras.io "Train a Vision Transformer on small datasets": CIFAR upscaled 32 -> 72,
    # patch 6 (144 tokens), dim 64, 8 blocks, 4 heads, flatten + MLP head.
    return RunConfig(preset="keras-example")


def _paper() -> RunConfig:
    # Lee, Lee & Song 2021, Table: ViT on CIFAR at 32 px, patch 4, dim 192, depth 9,
    # 12 heads, MLP ratio 2, class token, label smoothing, stochastic depth, strong augmentation.
    return RunConfig(
        preset="paper",
        model=ModelConfig(
            image_size=32,
            patch_size=4,
            projection_dim=192,
            depth=9,
            num_heads=12,
            key_dim=16,
            mlp_units=[384, 192],
            head_units=[],
            dropout=0.0,
            head_dropout=0.0,
            stochastic_depth=0.1,
            pooling="cls",
        ),
        augment=AugmentConfig(flip=True, rotation=0.0, zoom=0.0, rand_augment=True, mixup=0.8),
        train=TrainConfig(
            epochs=100, batch_size=128, learning_rate=1e-3, weight_decay=5e-2, label_smoothing=0.1
        ),
    )


def _cpu_quick() -> RunConfig:
    # Small enough to learn something useful on 2 CPU cores in minutes: native 32 px,
    # 64 tokens, 4 blocks, 16-wide heads, average pooling instead of the 19M-parameter
    # flatten head.
    return RunConfig(
        preset="cpu-quick",
        model=ModelConfig(
            image_size=32,
            patch_size=4,
            projection_dim=64,
            depth=4,
            num_heads=4,
            key_dim=16,
            mlp_units=[128, 64],
            head_units=[128],
            dropout=0.1,
            head_dropout=0.2,
            pooling="gap",
        ),
        augment=AugmentConfig(flip=True, rotation=0.02, zoom=0.1),
        train=TrainConfig(epochs=10, batch_size=128, learning_rate=2e-3, weight_decay=1e-4),
    )


def _best() -> RunConfig:
    # The paper's SL-ViT (32 px, patch 4, dim 192, 9 blocks, SPT + LSA, class token) trained
    # the way ViTs on small data have been trained since DeiT: RandAugment, Mixup and CutMix
    # taking turns, label smoothing, stochastic depth, a 10-epoch warm-up. For a GPU.
    cfg = _paper()
    cfg.preset = "best"
    cfg.augment = AugmentConfig(
        flip=True, rotation=0.0, zoom=0.0, rand_augment=True, mixup=0.8, cutmix=1.0
    )
    return cfg


def _cpu_best() -> RunConfig:
    # The most CIFAR-10 accuracy from 30 minutes of this project's 2-core CPU: a model small
    # enough (native 32 px, 64 tokens, dim 96, 6 blocks, 24-wide heads, average pooling) to
    # see the data many times, light regularisation for a short schedule (flip and a small
    # zoom for crops, label smoothing), and a high peak rate after a short warm-up. 15 epochs
    # of CIFAR-10's 45,000 training images at the 390 images/s measured here (mixed
    # bfloat16) take about 29 minutes, validation included.
    return RunConfig(
        preset="cpu-best",
        model=ModelConfig(
            image_size=32,
            patch_size=4,
            projection_dim=96,
            depth=6,
            num_heads=4,
            key_dim=24,
            mlp_units=[192, 96],
            head_units=[],
            dropout=0.0,
            head_dropout=0.0,
            stochastic_depth=0.05,
            pooling="gap",
        ),
        augment=AugmentConfig(flip=True, rotation=0.0, zoom=0.1),
        train=TrainConfig(
            epochs=15,
            batch_size=128,
            learning_rate=2e-3,
            weight_decay=5e-2,
            warmup_fraction=0.05,
            label_smoothing=0.1,
        ),
    )


def _finetune() -> RunConfig:
    # Fine-tuning google/vit-base-patch16-224-in21k: photos decoded at 224, small peak
    # learning rate after warm-up, light augmentation, a few epochs.
    return RunConfig(
        preset="finetune",
        model=ModelConfig(
            variant="vit-b16",
            image_size=224,
            patch_size=16,
            projection_dim=768,
            depth=12,
            num_heads=12,
            key_dim=64,
            mlp_units=[3072, 768],
            head_units=[],
            dropout=0.0,
            head_dropout=0.1,
            pooling="cls",
        ),
        augment=AugmentConfig(flip=True, rotation=0.0, zoom=0.0),
        train=TrainConfig(
            epochs=5, batch_size=32, learning_rate=5e-5, weight_decay=1e-2, warmup_fraction=0.1
        ),
    )


def _caption_quick() -> RunConfig:
    # A captioner that learns the generated shapes set on 2 CPU cores in minutes: 64 px
    # scenes, patch 8 (64 tokens), a 4-block encoder and a 2-block decoder 64 wide. No flips
    # or rotations: they would move "left of" and "above" without changing the caption.
    return RunConfig(
        preset="caption-quick",
        task="caption",
        model=ModelConfig(
            image_size=64,
            patch_size=8,
            projection_dim=64,
            depth=4,
            num_heads=4,
            key_dim=16,
            mlp_units=[128, 64],
            head_units=[],
            dropout=0.1,
            head_dropout=0.0,
            pooling="gap",
        ),
        augment=AugmentConfig(flip=False, rotation=0.0, zoom=0.0),
        train=TrainConfig(
            epochs=10,
            batch_size=64,
            learning_rate=1e-3,
            weight_decay=1e-4,
            warmup_fraction=0.1,
            label_smoothing=0.1,
        ),
        caption=CaptionConfig(decoder_depth=2, decoder_heads=4, decoder_mlp=128),
    )


PRESETS = {
    "keras-example": _keras_example,
    "paper": _paper,
    "cpu-quick": _cpu_quick,
    "best": _best,
    "cpu-best": _cpu_best,
    "finetune": _finetune,
    "caption-quick": _caption_quick,
}
DEFAULT_PRESET = "keras-example"
PRESET_HELP = {
    "keras-example": "The keras.io recipe: 72 px, patch 6, 8 blocks, 50 epochs. Hours on a CPU.",
    "paper": "The paper's recipe: 32 px, patch 4, dim 192, 9 blocks, 100 epochs. Wants a GPU.",
    "cpu-quick": "Small and fast: 32 px, patch 4, 4 blocks, 10 epochs. Minutes on a CPU.",
    "best": "The paper's SL-ViT with today's training (RandAugment, Mixup/CutMix, label "
    "smoothing, stochastic depth), 100 epochs. Wants a GPU.",
    "cpu-best": "Most accuracy from 30 CPU minutes on CIFAR-10: 32 px, dim 96, 6 blocks, "
    "15 epochs.",
    "finetune": "For ViT-B/16: photos at 224 px, learning rate 5e-5, 5 epochs. Wants a GPU.",
    "caption-quick": "Captioning: 64 px, patch 8, a 4-block encoder and a 2-block decoder, "
    "10 epochs, no flips. Minutes on a CPU for the shapes set.",
}
# The preset a captioning run starts from when none is named.
CAPTION_PRESET = "caption-quick"


def default_preset_for(dataset: str, variant: str | None = None, task: str = "classify") -> str:
    """The preset a dataset and model start from when none is named.

    A captioning run starts from the caption preset; a variant may name its own (a pretrained
    ViT-B/16 wants 224 px and a small learning rate); digits are tiny, and the full
    Keras-example model would only overfit them slowly.
    """
    if task == "caption":
        return CAPTION_PRESET
    own = VARIANTS[variant].default_preset if variant in VARIANTS else None
    if own:
        return own
    return "cpu-quick" if dataset == "digits" else DEFAULT_PRESET


def make_config(
    preset: str | None = None,
    dataset: str = "cifar10",
    variant: str | None = None,
    overrides: dict[str, str] | None = None,
    task: str | None = None,
) -> RunConfig:
    """Build and validate a run config from a preset, a dataset, a variant and overrides.

    `task` None takes the preset's (a caption preset captions); naming one sets it.
    Values only: `studio.runs.preflight` checks what needs the disk or the run store.
    """
    name = preset or default_preset_for(dataset, variant, task or "classify")
    if name not in PRESETS:
        raise ConfigError(f"preset='{name}' is unknown; choose one of {', '.join(PRESETS)}")
    cfg = PRESETS[name]()
    if task is not None:
        cfg.task = task
    cfg.data = DataConfig(dataset=dataset)
    if variant is not None:
        cfg.model.variant = variant
    cfg = apply_overrides(cfg, overrides or {})
    return validate(cfg)
