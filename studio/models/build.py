"""One entry point from a run config to a fresh model: the variant table names the builder."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from studio.config.schema import RunConfig
from studio.config.variants import VARIANTS


@dataclass(frozen=True)
class ModelInputs:
    """What a builder needs to know of the data.

    Args:
        num_classes: width of the logits.
        input_shape: (height, width, channels) of the 0..255 float images the model takes.
        mean: per-channel mean of the training images on the 0..255 scale.
        variance: per-channel variance on the same scale.
    """

    num_classes: int
    input_shape: tuple[int, int, int]
    mean: list[float]
    variance: list[float]


def build_model(cfg: RunConfig, inputs: ModelInputs):
    """A fresh, uncompiled keras model of `cfg.model.variant`, sized for `inputs`."""
    module, function = VARIANTS[cfg.model.variant].builder.split(":")
    return getattr(importlib.import_module(module), function)(cfg, inputs)
