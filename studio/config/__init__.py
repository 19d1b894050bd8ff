"""Run configuration as pure data: the schema and its value checks, `--set` overrides, the
named presets and the table of model variants. Imports nothing else of the studio's."""

from studio.config.datasets import (
    BUILTIN,
    CAPTION_BUILTIN,
    COCO_PREFIX,
    FOLDER_PREFIX,
    NATIVE_SIZES,
    coco_of,
    folder_of,
)
from studio.config.errors import ConfigError
from studio.config.overrides import apply_overrides, field_names, resolve_field
from studio.config.presets import (
    DEFAULT_PRESET,
    PRESET_HELP,
    PRESETS,
    default_preset_for,
    make_config,
)
from studio.config.schema import (
    DISTILL_KINDS,
    POOLINGS,
    PRECISIONS,
    TASKS,
    AugmentConfig,
    CaptionConfig,
    DataConfig,
    DistillConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    validate,
)
from studio.config.variants import VARIANTS, Variant, variant_label

__all__ = [
    "BUILTIN",
    "CAPTION_BUILTIN",
    "COCO_PREFIX",
    "DEFAULT_PRESET",
    "DISTILL_KINDS",
    "FOLDER_PREFIX",
    "NATIVE_SIZES",
    "POOLINGS",
    "PRECISIONS",
    "PRESETS",
    "PRESET_HELP",
    "TASKS",
    "VARIANTS",
    "AugmentConfig",
    "CaptionConfig",
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "Variant",
    "apply_overrides",
    "coco_of",
    "default_preset_for",
    "field_names",
    "folder_of",
    "make_config",
    "resolve_field",
    "validate",
    "variant_label",
]
