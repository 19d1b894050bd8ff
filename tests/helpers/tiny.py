"""The tiny preset: every variant small enough to build, fit a step and reload in a second.

One set of sizes for every model test, on top of `cpu-quick`; a test that needs another
shape says so with an override (`tiny_config("vit", **{"model.depth": "2"})`).
"""

from __future__ import annotations

from studio.config import AugmentConfig, RunConfig, make_config

TINY = {
    "model.image_size": "16",
    "model.patch_size": "4",
    "model.projection_dim": "16",
    "model.depth": "1",
    "model.num_heads": "2",
    "model.key_dim": "8",
    "model.mlp_units": "32,16",
    "model.head_units": "16",
    "train.epochs": "1",
    "train.batch_size": "32",
}
NO_AUGMENT = AugmentConfig(flip=False, rotation=0.0, zoom=0.0)
# Pixel statistics of a dataset on the 0..255 scale, for builders called without one.
MEAN, VARIANCE = [120.0, 110.0, 100.0], [3000.0, 2800.0, 2600.0]


def tiny_config(
    variant: str = "spt-lsa", dataset: str = "digits", **overrides: str | int | float
) -> RunConfig:
    """The tiny preset's validated config; overrides are `--set` style (`model.depth="2"`).

    A `deit` student gets a placeholder teacher id: its model builds without one, and a test
    that trains it names a real run.
    """
    values = {**TINY, **{k: str(v) for k, v in overrides.items()}}
    if variant == "deit":
        values.setdefault("distill.teacher", "teacher")
    return make_config("cpu-quick", dataset, variant, values)


def tiny_vit_preset(folder) -> str:
    """A random-weight keras-hub ViT (16 px, patch 8, 1 layer, dim 16) saved as a preset
    folder: it stands in for google/vit-base-patch16-224-in21k, which needs the network."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3),
        patch_size=8,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
    )
    backbone.save_to_preset(str(folder))
    # The in21k preset's converter: pixels to [-1, 1].
    converter = keras_hub.layers.ViTImageConverter(image_size=(16, 16), scale=1 / 127.5, offset=-1)
    converter.save_to_preset(str(folder))
    return str(folder)


# The tiny captioner on top of TINY: 16 tokens of width 16, one decoder block, 8-token captions.
TINY_CAPTION = {
    "caption.max_length": "8",
    "caption.decoder_depth": "1",
    "caption.decoder_heads": "2",
    "caption.decoder_mlp": "32",
    "caption.decoder_dropout": "0.0",
    "caption.vocab_size": "16",
    "model.dropout": "0.0",
}


def tiny_caption_config(variant: str = "spt-lsa", **overrides: str | int | float) -> RunConfig:
    """The tiny preset as a captioning run on the shapes set (caption-quick's task and
    augmentation, TINY's sizes); overrides are `--set` style."""
    values = {**TINY, **TINY_CAPTION, **{k: str(v) for k, v in overrides.items()}}
    return make_config("caption-quick", "shapes", variant, values)
