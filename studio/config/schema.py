"""Run configuration: plain dataclasses, their value checks, JSON in and out.

Pure data: nothing here reads the disk or imports the rest of the studio (a folder's
existence and a teacher run's state are `studio.runs.preflight`'s questions).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from studio.config.datasets import FOLDER_PREFIX, check_dataset_name
from studio.config.errors import ConfigError
from studio.config.variants import VARIANTS

POOLINGS = ("flatten", "gap", "cls")
# "auto": mixed bfloat16 where the hardware multiplies bfloat16 natively, else float32.
PRECISIONS = ("auto", "float32", "bfloat16")
DISTILL_KINDS = ("hard", "soft")
# What a run learns: a class per image, or a caption per image (a ViT encoder with a
# Transformer text decoder).
TASKS = ("classify", "caption")
# data.group_by naming a CSV of file -> group rather than a filename pattern.
GROUP_CSV_PREFIX = "csv:"


@dataclass
class DataConfig:
    """Which images to train on and how they are split.

    Args:
        dataset: `cifar10`, `cifar100`, `tf_flowers`, `digits` or `folder:PATH`.
        input_size: side the decoder resizes stored images to; None keeps a dataset's
            native size (32 for CIFAR and digits) or uses `model.image_size` for photos.
        val_fraction: share of the training images held out for validation.
        test_fraction: share held out for testing when the dataset has no test split.
        limit: keep at most this many training images (stratified), for quick runs.
        group_by: `folder:PATH` only: keep images of one group (patient, writer, ...) on one
            side of every carved split. Either a regular expression with one capture group,
            searched in each file's path below its class folder (`^(patient\\d+)_` gives
            `AD/patient07_scan3.png` the group `patient07`), or `csv:PATH`, a CSV with columns
            `file,group` (file relative to the dataset folder). None: a stratified split.
    """

    dataset: str = "cifar10"
    input_size: int | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    limit: int | None = None
    group_by: str | None = None


@dataclass
class ModelConfig:
    """A ViT with independent switches for SPT and LSA, or a DeiT student.

    Args:
        variant: `vit`, `spt`, `lsa` or `spt-lsa` (sets `spt` and `lsa`), or `deit`: a
            vanilla ViT with class and distillation tokens, taught by `distill.teacher`.
        image_size: side the model resizes its input to before patching.
        patch_size: side of a square patch; must divide `image_size`.
        projection_dim: token width.
        depth: number of transformer blocks.
        num_heads: attention heads per block.
        key_dim: query/key width of each head; the Keras example uses `projection_dim`,
            the usual ViT choice is `projection_dim // num_heads` (4x cheaper attention).
        mlp_units: hidden widths of each block's MLP; the last must equal `projection_dim`.
        head_units: hidden widths of the classifier MLP.
        dropout: dropout inside the blocks (attention and MLP).
        head_dropout: dropout in the classifier.
        stochastic_depth: largest drop-path rate, reached by the last block.
        pooling: `flatten` (the Keras example), `gap` or `cls`; `deit` always reads its
            class and distillation tokens.
        pretrained: `vit-b16` only: the keras-hub preset to fine-tune: a preset name, an
            `hf://` or `kaggle://` handle, or a local preset directory. Its architecture
            replaces the size fields above; `image_size` still sets photo datasets' input size.
        freeze_backbone: `vit-b16` only: train the new head alone.
    """

    variant: str = "spt-lsa"
    image_size: int = 72
    patch_size: int = 6
    projection_dim: int = 64
    depth: int = 8
    num_heads: int = 4
    key_dim: int = 64
    mlp_units: list[int] = field(default_factory=lambda: [128, 64])
    head_units: list[int] = field(default_factory=lambda: [2048, 1024])
    dropout: float = 0.1
    head_dropout: float = 0.5
    stochastic_depth: float = 0.0
    pooling: str = "flatten"
    pretrained: str = "hf://google/vit-base-patch16-224-in21k"
    freeze_backbone: bool = False

    @property
    def spt(self) -> bool:
        return self.variant in VARIANTS and VARIANTS[self.variant].spt

    @property
    def lsa(self) -> bool:
        return self.variant in VARIANTS and VARIANTS[self.variant].lsa

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass
class AugmentConfig:
    """In-model augmentation (active in training only) and batch mixing.

    Args:
        flip: random horizontal flips.
        rotation: random rotation as a fraction of a full turn.
        zoom: random zoom factor range.
        rand_augment: apply Keras' RandAugment layer.
        mixup: Beta(alpha, alpha) mixing of image pairs; 0 turns it off.
        cutmix: Beta(alpha, alpha) share of an image replaced by a box of its pair's;
            0 turns it off. With mixup on too, each batch uses one of the two at random.
    """

    flip: bool = True
    rotation: float = 0.02
    zoom: float = 0.2
    rand_augment: bool = False
    mixup: float = 0.0
    cutmix: float = 0.0


@dataclass
class TrainConfig:
    """Optimisation: AdamW with linear warm-up then cosine decay.

    Args:
        epochs: passes over the training set.
        batch_size: images per step.
        learning_rate: peak learning rate, reached at the end of warm-up.
        weight_decay: AdamW decoupled weight decay.
        warmup_fraction: share of all steps spent warming up linearly from 0.
        label_smoothing: cross-entropy label smoothing.
        seed: seeds the split, the shuffles, the weights and the augmentation.
        precision: `auto`, `float32` or `bfloat16` (mixed: bfloat16 matrix products,
            float32 weights, softmax, logits, losses and metrics); `auto` picks bfloat16
            where the processor or GPU multiplies it natively (AVX-512 BF16, AMX, Ampere+).
    """

    epochs: int = 50
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.0
    seed: int = 42
    precision: str = "auto"


@dataclass
class DistillConfig:
    """How a `deit` student learns from its teacher (used only by `model.variant=deit`).

    Args:
        teacher: id of a completed run of the store, trained on the same class names.
        kind: `hard` (cross-entropy to the teacher's top class, the DeiT paper's best) or
            `soft` (KL divergence to the teacher's softened probabilities).
        alpha: weight of the distillation term; the label term gets `1 - alpha`.
        temperature: softening of both distributions for `soft` distillation.
    """

    teacher: str | None = None
    kind: str = "hard"
    alpha: float = 0.5
    temperature: float = 3.0


@dataclass
class CaptionConfig:
    """The text side of a captioning run (`task=caption`): the model's ViT encodes the image
    (`model.*`), a Transformer decoder of `model.projection_dim` wide tokens writes the caption.

    Args:
        vocab_size: most tokens the tokenizer learns from the training captions, its special
            tokens included.
        max_length: tokens per caption, start and end tokens included; longer captions are
            cut (the dataset report counts them).
        decoder_depth: decoder blocks (causal self-attention, cross-attention to the image
            tokens, MLP).
        decoder_heads: attention heads per decoder block; must divide `model.projection_dim`.
        decoder_mlp: hidden width of each decoder block's MLP.
        decoder_dropout: dropout inside the decoder.
        beam_width: beams of the search that writes captions for evaluation and the demo;
            1 is greedy decoding.
        examples: validation images whose captions are written at each epoch's end and shown
            in the run's view.
    """

    vocab_size: int = 2000
    max_length: int = 24
    decoder_depth: int = 2
    decoder_heads: int = 4
    decoder_mlp: int = 256
    decoder_dropout: float = 0.1
    beam_width: int = 3
    examples: int = 4


@dataclass
class RunConfig:
    """Everything a run needs; stored as `config.json` in its folder."""

    preset: str = "keras-example"
    task: str = "classify"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    caption: CaptionConfig = field(default_factory=CaptionConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: Any) -> RunConfig:
        """A config from its JSON form (a stored run's, or overrides applied): every section
        an object, every field known and of its declared type, else ConfigError."""
        if not isinstance(raw, dict):
            raise ConfigError(f"a run config is a JSON object, not {_json_kind(raw)}")
        kwargs: dict[str, Any] = {}
        for name, value in raw.items():
            if name in TOP_FIELDS:
                _require(isinstance(value, str), f"{name}={value!r} must be text")
                kwargs[name] = value
                continue
            if name not in SECTION_CLASSES:
                raise ConfigError(f"unknown config section '{name}'")
            if not isinstance(value, dict):
                raise ConfigError(
                    f"config section '{name}' must be an object of fields, not {_json_kind(value)}"
                )
            section_cls = SECTION_CLASSES[name]
            known = {f.name for f in fields(section_cls)}
            unknown = set(value) - known
            if unknown:
                raise ConfigError(f"unknown field(s) in '{name}': {', '.join(sorted(unknown))}")
            kwargs[name] = section_cls(**_typed(name, section_cls, value))
        return cls(**kwargs)


SECTION_CLASSES = {
    "data": DataConfig,
    "model": ModelConfig,
    "augment": AugmentConfig,
    "train": TrainConfig,
    "distill": DistillConfig,
    "caption": CaptionConfig,
}
# The text fields of RunConfig itself, beside its sections.
TOP_FIELDS = ("preset", "task")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


# -- types --------------------------------------------------------------------------------
# A stored config.json or a hand-built RunConfig may hold anything JSON can: every field is
# checked against its declared type before any rule compares it (a string in a float field
# would otherwise raise TypeError, and True would pass as the integer 1).


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


_TYPES: dict[str, tuple[Any, str]] = {
    "int": (_is_int, "a whole number"),
    "float": (_is_number, "a finite number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "text"),
    "int | None": (lambda v: v is None or _is_int(v), "a whole number or none"),
    "str | None": (lambda v: v is None or isinstance(v, str), "text or none"),
    "list[int]": (
        lambda v: isinstance(v, list) and all(_is_int(u) for u in v),
        "a list of whole numbers",
    ),
}


def _json_kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _typed(section: str, section_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Values checked against the section's declared field types; integers in float fields
    become floats (JSON writes 1.0 as 1)."""
    out = dict(values)
    for f in fields(section_cls):
        if f.name not in values:
            continue
        ok, words = _TYPES[str(f.type)]
        value = values[f.name]
        _require(ok(value), f"{section}.{f.name}={value!r} must be {words}")
        if f.type == "float":
            out[f.name] = float(value)
    return out


def check_types(cfg: RunConfig) -> None:
    """Raise ConfigError for the first field whose value is not of its declared type."""
    for name in TOP_FIELDS:
        value = getattr(cfg, name)
        _require(isinstance(value, str), f"{name}={value!r} must be text")
    for name, section_cls in SECTION_CLASSES.items():
        section = getattr(cfg, name)
        _require(
            isinstance(section, section_cls),
            f"config section '{name}' must be an object of fields, not {_json_kind(section)}",
        )
        _typed(name, section_cls, {f.name: getattr(section, f.name) for f in fields(section)})


# -- hard limits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """The largest value a field may take, and why: beyond it a run cannot work."""

    field: str
    most: float
    why: str


# README's "Limits and warnings" table lists these; a change here belongs there too.
HARD_LIMITS: tuple[Limit, ...] = (
    Limit("train.epochs", 10_000, "a run that long would not finish in any sensible time"),
    Limit("train.batch_size", 65_536, "no accelerator holds that many images in one step"),
    Limit("train.learning_rate", 10.0, "AdamW diverges at once; the presets use 5e-5 to 2e-3"),
    Limit("train.weight_decay", 10.0, "it would shrink every weight to zero within a few steps"),
    Limit("model.image_size", 1024, "the attention of that many patches does not fit in memory"),
    Limit("data.input_size", 1024, "images that large do not fit in memory as a dataset"),
    Limit("model.projection_dim", 8192, "far past any ViT; memory runs out first"),
    Limit("model.depth", 128, "far past any ViT; memory runs out first"),
    Limit("model.num_heads", 256, "far past any ViT"),
    Limit("model.key_dim", 8192, "far past any ViT; memory runs out first"),
    Limit("augment.mixup", 100.0, "Beta(alpha, alpha) is already 50/50 mixing well below it"),
    Limit("augment.cutmix", 100.0, "Beta(alpha, alpha) is already half-image boxes well below it"),
    Limit("distill.temperature", 100.0, "the teacher's probabilities would all be equal"),
    Limit("train.seed", 2**32 - 1, "random generators take seeds below 2**32"),
    Limit(
        "caption.vocab_size", 1_000_000, "far past any tokenizer; the output layer would not fit"
    ),
    Limit("caption.max_length", 1024, "captions are sentences; memory grows with its square"),
    Limit("caption.decoder_depth", 64, "far past any caption decoder"),
    Limit("caption.decoder_heads", 256, "far past any caption decoder"),
    Limit("caption.decoder_mlp", 65_536, "far past any caption decoder; memory runs out first"),
    Limit("caption.beam_width", 64, "beams past a few dozen find nothing greedy search misses"),
    Limit("caption.examples", 64, "a run's view shows a handful of example captions"),
)
# Attention costs tokens squared: 4096 patches (1024 px, patch 16) is already ~16M scores
# per head and image.
MAX_PATCHES = 4096
MAX_UNITS = 65_536


def _check_limits(cfg: RunConfig) -> None:
    for limit in HARD_LIMITS:
        section, name = limit.field.split(".")
        value = getattr(getattr(cfg, section), name)
        _require(
            value is None or value <= limit.most,
            f"{limit.field}={value} is more than the studio allows (at most "
            f"{limit.most:,g}): {limit.why}",
        )
    _require(cfg.train.seed >= 0, f"train.seed={cfg.train.seed} must be >= 0")
    m = cfg.model
    for name in ("mlp_units", "head_units"):
        units = getattr(m, name)
        _require(
            all(u <= MAX_UNITS for u in units),
            f"model.{name}={units}: each width must be at most {MAX_UNITS:,}",
        )
    if m.patch_size <= m.image_size:
        _require(
            m.num_patches <= MAX_PATCHES,
            f"model.image_size={m.image_size} with model.patch_size={m.patch_size} makes "
            f"{m.num_patches:,} patches; at most {MAX_PATCHES:,} fit in memory (attention "
            "grows with their square): raise model.patch_size or lower model.image_size",
        )


# -- warnings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigWarning:
    """A value that works but is very likely a mistake: shown, and confirmed before queueing."""

    field: str
    message: str


# (field, predicate on the value, message); README's "Limits and warnings" table lists them.
SOFT_LIMITS: tuple[tuple[str, Any, str], ...] = (
    (
        "train.learning_rate",
        lambda v: v > 0.1,
        "train.learning_rate={v:g} is very high for AdamW: ViTs diverge above about 0.01 "
        "(the presets use 5e-5 to 2e-3)",
    ),
    (
        "train.epochs",
        lambda v: v > 1000,
        "train.epochs={v:,} is far more than any preset (5 to 100); on a small dataset the "
        "model will have memorised it long before",
    ),
    (
        "data.val_fraction",
        lambda v: v == 0,
        "data.val_fraction=0 holds out no validation images: no validation curve, no best "
        "epoch, and overfitting goes unseen",
    ),
    (
        "train.weight_decay",
        lambda v: v > 1,
        "train.weight_decay={v:g} is very high: the presets use 1e-4 to 0.05",
    ),
    (
        "train.warmup_fraction",
        lambda v: v > 0.5,
        "train.warmup_fraction={v:g}: most of the run is spent warming up, little at the peak rate",
    ),
    (
        "train.label_smoothing",
        lambda v: v > 0.5,
        "train.label_smoothing={v:g}: targets this smooth teach little (0.1 is usual)",
    ),
)


def value_warnings(cfg: RunConfig) -> list[ConfigWarning]:
    """The values that pass every rule but are very likely a mistake (values alone; what
    needs the dataset or the hardware is `studio.runs.preflight.warnings_for`)."""
    found = []
    if cfg.task == "caption" and cfg.augment.flip:
        found.append(
            ConfigWarning(
                "augment.flip",
                'augment.flip=true mirrors images but not their captions: "left of" '
                "becomes wrong half the time; the caption presets turn it off",
            )
        )
    for name, suspicious, message in SOFT_LIMITS:
        section, key = name.split(".")
        value = getattr(getattr(cfg, section), key)
        if suspicious(value):
            found.append(ConfigWarning(name, message.format(v=value)))
    return found


# Messages are built before their rule is checked, and n may be any integer a user typed
# (10**30): the search stops after this many candidates.
DIVISOR_SEARCH = 4096


def _divisors(n: int, most: int = 12) -> str:
    """`1, 2, 4, 8, 16, 32`: the valid values a divisibility message names (at most `most`,
    the smallest first)."""
    found = []
    for d in range(1, min(n, DIVISOR_SEARCH) + 1):
        if n % d == 0:
            found.append(d)
            if len(found) > most:
                break
    shown = ", ".join(str(d) for d in found[:most])
    return shown if len(found) <= most and n <= DIVISOR_SEARCH else f"{shown}, ..."


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError naming the field and the rule for the first broken rule."""
    check_types(cfg)
    m, t, d, a = cfg.model, cfg.train, cfg.data, cfg.augment
    _require(
        m.variant in VARIANTS,
        f"model.variant='{m.variant}' is unknown; choose one of {', '.join(VARIANTS)}",
    )
    _require(
        m.pooling in POOLINGS, f"model.pooling='{m.pooling}' must be one of {', '.join(POOLINGS)}"
    )
    for name in ("image_size", "patch_size", "projection_dim", "depth", "num_heads", "key_dim"):
        value = getattr(m, name)
        _require(
            isinstance(value, int) and value >= 1, f"model.{name}={value!r} must be an integer >= 1"
        )
    _require(
        m.patch_size <= m.image_size,
        f"model.patch_size={m.patch_size} is larger than model.image_size={m.image_size}; "
        f"patch sizes that divide {m.image_size}: {_divisors(m.image_size)}",
    )
    _require(
        m.image_size % m.patch_size == 0,
        f"model.image_size={m.image_size} is not divisible by model.patch_size={m.patch_size}; "
        f"patch sizes that divide {m.image_size}: {_divisors(m.image_size)}, or an image size "
        f"that is a multiple of {m.patch_size}",
    )
    _require(
        m.projection_dim % m.num_heads == 0,
        f"model.projection_dim={m.projection_dim} is not divisible by "
        f"model.num_heads={m.num_heads}; head counts that divide {m.projection_dim}: "
        f"{_divisors(m.projection_dim)}",
    )
    _require(
        m.num_patches >= 2 or not cfg.model.lsa,
        "locality self-attention masks each token's own score, so it needs at least 2 patches "
        f"(model.image_size={m.image_size}, model.patch_size={m.patch_size} give 1)",
    )
    _require(
        bool(m.mlp_units) and all(isinstance(u, int) and u >= 1 for u in m.mlp_units),
        f"model.mlp_units={m.mlp_units} must be a non-empty list of integers >= 1",
    )
    _require(
        m.mlp_units[-1] == m.projection_dim,
        f"model.mlp_units={m.mlp_units} must end with model.projection_dim={m.projection_dim} "
        "(the block's residual adds it back)",
    )
    _require(
        all(isinstance(u, int) and u >= 1 for u in m.head_units),
        f"model.head_units={m.head_units} must be integers >= 1",
    )
    for name in ("dropout", "head_dropout", "stochastic_depth"):
        value = getattr(m, name)
        _require(0.0 <= value < 1.0, f"model.{name}={value} must be in [0, 1)")
    _require(isinstance(t.epochs, int) and t.epochs >= 1, f"train.epochs={t.epochs} must be >= 1")
    _require(
        isinstance(t.batch_size, int) and t.batch_size >= 1,
        f"train.batch_size={t.batch_size} must be >= 1",
    )
    _require(
        math.isfinite(t.learning_rate) and t.learning_rate > 0,
        f"train.learning_rate={t.learning_rate} must be > 0",
    )
    _require(t.weight_decay >= 0, f"train.weight_decay={t.weight_decay} must be >= 0")
    _require(
        0.0 <= t.warmup_fraction < 1.0,
        f"train.warmup_fraction={t.warmup_fraction} must be in [0, 1)",
    )
    _require(
        0.0 <= t.label_smoothing < 1.0,
        f"train.label_smoothing={t.label_smoothing} must be in [0, 1)",
    )
    _require(
        t.precision in PRECISIONS,
        f"train.precision='{t.precision}' must be one of {', '.join(PRECISIONS)}",
    )
    _require(0.0 <= d.val_fraction < 1.0, f"data.val_fraction={d.val_fraction} must be in [0, 1)")
    _require(
        0.0 <= d.test_fraction < 1.0 and d.val_fraction + d.test_fraction < 1.0,
        f"data.test_fraction={d.test_fraction} must be in [0, 1) and leave training images "
        f"beside data.val_fraction={d.val_fraction}",
    )
    _require(
        d.input_size is None or (isinstance(d.input_size, int) and d.input_size >= 1),
        f"data.input_size={d.input_size} must be an integer >= 1",
    )
    _require(d.limit is None or d.limit >= 2, f"data.limit={d.limit} must be >= 2")
    _require(0.0 <= a.rotation <= 0.5, f"augment.rotation={a.rotation} must be in [0, 0.5]")
    _require(0.0 <= a.zoom < 1.0, f"augment.zoom={a.zoom} must be in [0, 1)")
    _require(a.mixup >= 0.0, f"augment.mixup={a.mixup} must be >= 0")
    _require(a.cutmix >= 0.0, f"augment.cutmix={a.cutmix} must be >= 0")
    _require(cfg.task in TASKS, f"task='{cfg.task}' must be one of {', '.join(TASKS)}")
    _check_limits(cfg)
    _validate_caption(cfg)
    _validate_distill(cfg)
    _validate_pretrained(m)
    check_dataset_name(d.dataset, cfg.task)
    _validate_group_by(d)
    return cfg


def _validate_group_by(d: DataConfig) -> None:
    # The text alone; whether the CSV exists and the pattern matches files is the pre-flight's.
    g = d.group_by
    if g is None:
        return
    _require(
        isinstance(g, str) and bool(g.strip()),
        f"data.group_by='{g}' is empty: leave it unset (none) for a stratified split",
    )
    _require(
        d.dataset.startswith(FOLDER_PREFIX),
        f"data.group_by='{g}' is for folder:PATH datasets only; data.dataset='{d.dataset}' has "
        "no groups to keep apart (leave data.group_by unset)",
    )
    if g.startswith(GROUP_CSV_PREFIX):
        _require(
            bool(g[len(GROUP_CSV_PREFIX) :].strip()),
            f"data.group_by='{g}' needs the CSV's path, e.g. csv:/data/mri/groups.csv",
        )
        return
    try:
        pattern = re.compile(g)
    except re.error as err:
        raise ConfigError(f"data.group_by='{g}' is not a valid regular expression: {err}") from None
    _require(
        pattern.groups == 1,
        f"data.group_by='{g}' needs exactly one capture group, the group's name "
        f"(e.g. '^(patient\\d+)_'), and has {pattern.groups}; write (?:...) for other parentheses",
    )


def _validate_caption(cfg: RunConfig) -> None:
    # The values themselves are checked whatever the task: a stored config never holds a
    # negative vocabulary, even in a section its run does not read.
    c, variant = cfg.caption, cfg.model.variant
    for name in ("vocab_size", "max_length", "decoder_depth", "decoder_heads", "decoder_mlp"):
        value = getattr(c, name)
        _require(value >= 1, f"caption.{name}={value} must be >= 1")
    _require(
        c.vocab_size >= 16,
        f"caption.vocab_size={c.vocab_size} is too small: the special tokens alone take 4",
    )
    _require(
        c.max_length >= 3,
        f"caption.max_length={c.max_length} leaves no room for a word beside the start and "
        "end tokens; at least 3",
    )
    _require(
        0.0 <= c.decoder_dropout < 1.0,
        f"caption.decoder_dropout={c.decoder_dropout} must be in [0, 1)",
    )
    _require(c.beam_width >= 1, f"caption.beam_width={c.beam_width} must be >= 1")
    _require(c.examples >= 0, f"caption.examples={c.examples} must be >= 0")
    if cfg.task != "caption":
        return
    encoders = [v.name for v in VARIANTS.values() if v.captions]
    _require(
        VARIANTS[variant].captions,
        f"model.variant='{variant}' cannot encode images for captions; choose one of "
        f"{', '.join(encoders)}",
    )
    width = cfg.model.projection_dim
    _require(
        width % c.decoder_heads == 0,
        f"caption.decoder_heads={c.decoder_heads} does not divide model.projection_dim={width} "
        f"(the decoder's width); head counts that divide {width}: {_divisors(width)}",
    )
    a = cfg.augment
    _require(
        a.mixup == 0 and a.cutmix == 0,
        f"augment.mixup={a.mixup:g} and augment.cutmix={a.cutmix:g}: mixing two images does "
        "not mix their captions; set both to 0 for a captioning run",
    )


def _validate_distill(cfg: RunConfig) -> None:
    # Whether the teacher run exists and fits is a question for the run store
    # (studio.runs.preflight); here only the values themselves.
    s, variant = cfg.distill, cfg.model.variant
    if not VARIANTS[variant].distills:
        students = " or ".join(v.name for v in VARIANTS.values() if v.distills)
        _require(
            s.teacher is None,
            f"distill.teacher={s.teacher!r} is set but model.variant='{variant}' does not "
            f"distill; use model.variant={students}",
        )
        return
    _require(
        bool(s.teacher) and isinstance(s.teacher, str),
        f"distill.teacher={s.teacher!r}: model.variant={variant} needs the id of a completed run "
        "to learn from (--teacher RUN)",
    )
    _require(
        s.kind in DISTILL_KINDS,
        f"distill.kind='{s.kind}' must be one of {', '.join(DISTILL_KINDS)}",
    )
    _require(0.0 <= s.alpha <= 1.0, f"distill.alpha={s.alpha} must be in [0, 1]")
    _require(
        math.isfinite(s.temperature) and s.temperature > 0,
        f"distill.temperature={s.temperature} must be > 0",
    )


def _validate_pretrained(m: ModelConfig) -> None:
    # Whether a local preset folder holds a preset is studio.runs.preflight's question.
    if not VARIANTS[m.variant].pretrained:
        return
    _require(
        isinstance(m.pretrained, str) and bool(m.pretrained.strip()),
        f"model.pretrained={m.pretrained!r}: model.variant={m.variant} needs a keras-hub preset "
        "name, an hf:// or kaggle:// handle, or a local preset folder",
    )
