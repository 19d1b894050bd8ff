"""The model variants: one row each, the only place that says what a variant is and can do.

The CLI's help, the Train page's model picker and every run label, the trainer's builder, the
Patches page and the Space export read this table. Adding a variant is a row here and a
builder under `studio.models` (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One model variant.

    Args:
        name: the value of `model.variant` and `--model`.
        label: how people see it: the model picker, run lists and chart legends.
        help: one sentence under the model picker.
        description: how the model card names it, in a sentence.
        builder: `module:function` that builds it as `function(cfg, inputs)` (see
            `studio.models.build`), imported only where keras is.
        spt: Shifted Patch Tokenization.
        lsa: Locality Self-Attention.
        distills: learns from a teacher run (`distill.*`, `--teacher`).
        pretrained: starts from a keras-hub preset (`model.pretrained`).
        default_preset: the preset it starts from when none is named (None: the dataset's).
        attention_maps: the Patches page can read its attention: the studio's blocks named
            `block_{i}` (in the model or, for DeiT, its backbone) or keras-hub's ViTEncoder
            (`studio.inference.attention` says how each is read).
        space_export: a Hugging Face Space can serve it with the studio's layers alone.
        captions: can be the image encoder of a captioning run (`task=caption`): its patch
            tokens are what the caption decoder attends to.
    """

    name: str
    label: str
    help: str
    description: str
    builder: str
    spt: bool = False
    lsa: bool = False
    distills: bool = False
    pretrained: bool = False
    default_preset: str | None = None
    attention_maps: bool = False
    space_export: bool = False
    captions: bool = False


_VIT = "studio.models.vit:build"
_TABLE = (
    Variant(
        "vit",
        "Vanilla ViT",
        "The plain Vision Transformer.",
        "vanilla ViT",
        _VIT,
        attention_maps=True,
        space_export=True,
        captions=True,
    ),
    Variant(
        "spt",
        "ViT + SPT",
        "Shifted Patch Tokenization: each patch also sees its four diagonal neighbours.",
        "ViT with Shifted Patch Tokenization",
        _VIT,
        spt=True,
        attention_maps=True,
        space_export=True,
        captions=True,
    ),
    Variant(
        "lsa",
        "ViT + LSA",
        "Locality Self-Attention: learned temperature, no attention to itself.",
        "ViT with Locality Self-Attention",
        _VIT,
        lsa=True,
        attention_maps=True,
        space_export=True,
        captions=True,
    ),
    Variant(
        "spt-lsa",
        "ViT + SPT + LSA",
        "Both, as in Lee, Lee & Song 2021 (the Keras small-dataset example).",
        "ViT with Shifted Patch Tokenization and Locality Self-Attention",
        _VIT,
        spt=True,
        lsa=True,
        attention_maps=True,
        space_export=True,
        captions=True,
    ),
    Variant(
        "deit",
        "DeiT",
        "A ViT with a distillation token that learns from a finished run as its teacher "
        "(Touvron et al. 2021); it predicts with both heads.",
        "DeiT student (a ViT with a distillation token)",
        "studio.models.deit:build",
        distills=True,
        attention_maps=True,
    ),
    Variant(
        "vit-b16",
        "ViT-B/16",
        "Fine-tunes a pretrained ViT-B/16 (google/vit-base-patch16-224-in21k through "
        "keras-hub) with a new head. Without internet, set Pretrained preset (under "
        "Hyperparameters) to a local preset folder.",
        "pretrained ViT-B/16, fine-tuned",
        "studio.models.pretrained:build",
        pretrained=True,
        default_preset="finetune",
        attention_maps=True,
    ),
)
VARIANTS: dict[str, Variant] = {v.name: v for v in _TABLE}


def variant_label(name: str) -> str:
    """The variant's label, or its name for a variant this version does not know."""
    variant = VARIANTS.get(name)
    return variant.label if variant else name


def supporting(ability: str) -> list[Variant]:
    """The variants with `ability` (a boolean field of Variant), in table order."""
    return [v for v in _TABLE if getattr(v, ability)]


def names_of(variants: list[Variant]) -> str:
    """`ViT, SPT, LSA and SPT + LSA`-style list of labels, for messages."""
    labels = [v.label for v in variants]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
