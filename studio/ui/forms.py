"""Turn Train-page widget values into a validated RunConfig, with errors keyed by field.

The page draws one widget per `FieldSpec`; whatever the widgets hold goes through
`studio.config.make_config` and `studio.runs.preflight.check_run`, the same path the CLI
takes, so the browser and the command line accept and refuse exactly the same configs. A
ConfigError carries the fields it is about (`ConfigError.fields`, `model.patch_size`): the
page shows the message right under one of them, with each field named by the label its widget
shows (`labelled`); the CLI keeps the dotted names `--set` takes. No Streamlit here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.config import (
    POOLINGS,
    PRECISIONS,
    PRESETS,
    VARIANTS,
    ConfigError,
    RunConfig,
    apply_overrides,
    make_config,
)
from studio.config.schema import ConfigWarning
from studio.runs.preflight import check_run
from studio.runs.store import RunStore
from studio.ui.text import md_text


@dataclass(frozen=True)
class FieldSpec:
    """One editable config field.

    Args:
        name: `section.field` as in RunConfig.
        label: what the widget says.
        kind: `int`, `float`, `optional_int`, `list`, `bool`, `choice`, `text` or
            `optional_text` (empty means unset).
        group: the column of the grid it lives in; `Dataset` for a field drawn beside the
            dataset picker instead.
        help: the tooltip.
        choices: options for `choice`.
        needs: a Variant ability (`studio.config.variants`) the field is for; shown only then.
        not_with: a Variant ability that makes the field moot (a pretrained model's
            architecture comes from its preset); hidden then.
        task: the one task (`studio.config.TASKS`) that reads it; empty: both.
    """

    name: str
    label: str
    kind: str
    group: str
    help: str = ""
    choices: tuple[str, ...] = ()
    needs: str = ""
    not_with: str = ""
    task: str = ""

    def used_by(self, variant: str, task: str = "classify") -> bool:
        """Whether a `task` run of `variant` reads this field (the variant table says;
        unknown variant: all of the task's shown)."""
        if self.task and self.task != task:
            return False
        row = VARIANTS.get(variant)
        if row is None:
            return True
        if self.needs and not getattr(row, self.needs):
            return False
        return not (self.not_with and getattr(row, self.not_with))


GROUPS = ("Training", "Model", "Data and augmentation", "Caption decoder")
DATASET_GROUP = "Dataset"
GROUP_BY_HELP = (
    "Keeps all images of one patient, writer or session in one split, so the model is never "
    "tested on a person it trained on. Either a regular expression whose one capture group "
    "names the group, searched in each file's path below its class folder "
    "(`^(patient\\d+)_` gives `AD/patient07_scan3.png` the group `patient07`), or "
    "`csv:PATH`, a CSV with columns `file,group` (files relative to the dataset folder). "
    "Empty: a stratified random split."
)
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("train.epochs", "Epochs", "int", "Training", "Passes over the training images."),
    FieldSpec("train.batch_size", "Batch size", "int", "Training", "Images per step."),
    FieldSpec(
        "train.learning_rate", "Learning rate", "float", "Training", "Peak rate, after warm-up."
    ),
    FieldSpec(
        "train.weight_decay", "Weight decay", "float", "Training", "AdamW decoupled weight decay."
    ),
    FieldSpec(
        "train.warmup_fraction",
        "Warm-up fraction",
        "float",
        "Training",
        "Share of steps spent warming up, then cosine decay.",
    ),
    FieldSpec("train.label_smoothing", "Label smoothing", "float", "Training", "0 turns it off."),
    FieldSpec(
        "train.seed",
        "Seed",
        "int",
        "Training",
        "Seeds the split, shuffles, weights and augmentation.",
    ),
    FieldSpec(
        "train.precision",
        "Precision",
        "choice",
        "Training",
        "auto: mixed bfloat16 where the processor or GPU multiplies it natively, else float32.",
        PRECISIONS,
    ),
    FieldSpec(
        "model.image_size", "Image size", "int", "Model", "Side the model resizes images to."
    ),
    FieldSpec(
        "model.patch_size",
        "Patch size",
        "int",
        "Model",
        "Must divide the image size.",
        not_with="pretrained",
    ),
    FieldSpec(
        "model.projection_dim",
        "Token width",
        "int",
        "Model",
        "Projection dimension of each patch token.",
        not_with="pretrained",
    ),
    FieldSpec("model.depth", "Depth", "int", "Model", "Transformer blocks.", not_with="pretrained"),
    FieldSpec(
        "model.num_heads",
        "Attention heads",
        "int",
        "Model",
        "Must divide the token width.",
        not_with="pretrained",
    ),
    FieldSpec(
        "model.mlp_units",
        "Block MLP units",
        "list",
        "Model",
        "Comma-separated; the last must equal the token width.",
        not_with="pretrained",
    ),
    FieldSpec(
        "model.head_units",
        "Head MLP units",
        "list",
        "Model",
        "Comma-separated; empty for a linear head.",
        not_with="pretrained",
        task="classify",
    ),
    FieldSpec(
        "model.dropout", "Dropout", "float", "Model", "Inside the blocks.", not_with="pretrained"
    ),
    FieldSpec(
        "model.head_dropout",
        "Head dropout",
        "float",
        "Model",
        "In the classifier head.",
        task="classify",
    ),
    FieldSpec(
        "model.stochastic_depth",
        "Stochastic depth",
        "float",
        "Model",
        "Largest drop-path rate.",
        not_with="pretrained",
    ),
    FieldSpec(
        "model.pooling",
        "Pooling",
        "choice",
        "Model",
        "How tokens become one vector.",
        POOLINGS,
        not_with="pretrained",
        task="classify",
    ),
    FieldSpec(
        "model.pretrained",
        "Pretrained preset",
        "text",
        "Model",
        "ViT-B/16 only: keras-hub preset, hf:// or kaggle:// handle, or a local preset folder.",
        needs="pretrained",
    ),
    FieldSpec(
        "model.freeze_backbone",
        "Freeze backbone",
        "bool",
        "Model",
        "ViT-B/16 only: train the head.",
        needs="pretrained",
    ),
    FieldSpec(
        "data.limit",
        "Image limit",
        "optional_int",
        "Data and augmentation",
        "Train on at most this many images (empty: all).",
    ),
    FieldSpec(
        "data.val_fraction",
        "Validation fraction",
        "float",
        "Data and augmentation",
        "Share of training images held out for validation.",
    ),
    FieldSpec(
        "data.input_size",
        "Input size",
        "optional_int",
        "Data and augmentation",
        "Side images are decoded to (empty: the dataset's own).",
    ),
    FieldSpec(
        "data.group_by",
        "Group images by (optional)",
        "optional_text",
        DATASET_GROUP,
        GROUP_BY_HELP,
        task="classify",
    ),
    FieldSpec("augment.flip", "Random flips", "bool", "Data and augmentation"),
    FieldSpec("augment.rand_augment", "RandAugment", "bool", "Data and augmentation"),
    FieldSpec(
        "augment.rotation", "Rotation", "float", "Data and augmentation", "Fraction of a full turn."
    ),
    FieldSpec("augment.zoom", "Zoom", "float", "Data and augmentation", "Random zoom range."),
    FieldSpec(
        "augment.mixup",
        "Mixup alpha",
        "float",
        "Data and augmentation",
        "0 turns it off.",
        task="classify",
    ),
    FieldSpec(
        "augment.cutmix",
        "CutMix alpha",
        "float",
        "Data and augmentation",
        "0 turns it off; with mixup on too, each batch uses one of the two.",
        task="classify",
    ),
    FieldSpec(
        "caption.vocab_size",
        "Vocabulary size",
        "int",
        "Caption decoder",
        "Most words the tokenizer learns from the training captions, special tokens included.",
        task="caption",
    ),
    FieldSpec(
        "caption.max_length",
        "Caption length",
        "int",
        "Caption decoder",
        "Tokens per caption with its start and end; longer captions are cut.",
        task="caption",
    ),
    FieldSpec(
        "caption.decoder_depth",
        "Decoder depth",
        "int",
        "Caption decoder",
        "Decoder blocks: causal self-attention, cross-attention to the image, MLP.",
        task="caption",
    ),
    FieldSpec(
        "caption.decoder_heads",
        "Decoder heads",
        "int",
        "Caption decoder",
        "Attention heads per decoder block; must divide the token width.",
        task="caption",
    ),
    FieldSpec(
        "caption.decoder_mlp",
        "Decoder MLP units",
        "int",
        "Caption decoder",
        "Hidden width of each decoder block's MLP.",
        task="caption",
    ),
    FieldSpec(
        "caption.decoder_dropout",
        "Decoder dropout",
        "float",
        "Caption decoder",
        "Inside the decoder blocks.",
        task="caption",
    ),
    FieldSpec(
        "caption.beam_width",
        "Beam width",
        "int",
        "Caption decoder",
        "Beams of the search that writes validation, test and example captions; 1 is greedy.",
        task="caption",
    ),
    FieldSpec(
        "caption.examples",
        "Example captions",
        "int",
        "Caption decoder",
        "Validation images whose captions are written at each epoch's end, for the run's view.",
        task="caption",
    ),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
# Errors about these are shown beside the dataset / model pickers, not in the field grid;
# named by what the page calls those pickers.
OUTSIDE_LABELS = {"data.dataset": "Dataset", "model.variant": "Model", "preset": "Preset"}
OUTSIDE_FIELDS = tuple(OUTSIDE_LABELS)
# The one place a field's name on the page comes from: its widget's label.
LABELS = {f.name: f.label for f in FIELDS} | OUTSIDE_LABELS


def preset_values(preset: str) -> dict[str, Any]:
    """The preset's value of every form field, in the widget's own type."""
    cfg = PRESETS[preset]().to_dict()
    values: dict[str, Any] = {}
    for spec in FIELDS:
        section, key = spec.name.split(".")
        values[spec.name] = to_widget(spec, cfg[section][key])
    return values


def to_widget(spec: FieldSpec, value: Any) -> Any:
    """A config value as its widget holds it: lists and floats become editable text."""
    if spec.kind == "list":
        return ", ".join(str(v) for v in value)
    if spec.kind == "float":
        return format_float(value)
    if spec.kind == "optional_text":
        return value or ""
    return value


def format_float(value: float) -> str:
    """Short, exact text for a float: 0.001 reads as 1e-3, 0.1 as 0.1."""
    if value != 0 and abs(value) < 1e-2:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{value:g}"


def to_override(spec: FieldSpec, value: Any) -> str:
    """A widget value as the text override `apply_overrides` parses."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "none" if spec.kind in ("optional_int", "optional_text") else ""
    if spec.kind == "bool":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and spec.kind in ("int", "optional_int"):
        return str(int(value))
    return str(value)


_TYPE_WORDS = {
    "is not int": "is not a whole number",
    "is not float": "is not a number",
    "is not NoneType": "is not a whole number",
}


def friendly(message: str) -> str:
    """A ConfigError message with Python type names replaced by words."""
    for python, words in _TYPE_WORDS.items():
        message = message.replace(python, words)
    return message


def field_for_error(
    fields: Sequence[str], changed: Collection[str] = (), shown: Collection[str] | None = None
) -> str | None:
    """The form field an error about `fields` (ConfigError.fields) belongs under, or where
    outside the grid.

    A rule between two fields (`image_size` not divisible by `patch_size`) names both: the
    message goes under the one the user changed, so it shows where they are looking; else
    under the first one named that the form shows (`shown`, None: every field).
    """
    named = [
        name
        for name in fields
        if name in OUTSIDE_FIELDS or (name in FIELDS_BY_NAME and (shown is None or name in shown))
    ]
    return next((n for n in named if n in changed), named[0] if named else None)


def labelled(message: str, fields: Sequence[str]) -> str:
    """A config message as Markdown for the page: each of `fields` it names (`model.patch_size=5`)
    said with its widget's label (**Patch size** 5), the rest shown as written (`md_text`).

    Fields without a widget keep their dotted name, which is what the Train-again note and
    `--set` call them.
    """
    names = [name for name in fields if name in LABELS]
    if not names:
        return md_text(message)
    pattern = re.compile(
        r"(?<![\w./-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w/-])(=(?:None\b)?)?"
    )
    parts, last = [], 0
    for match in pattern.finditer(message):
        parts.append(md_text(message[last : match.start()]))
        name, value = match.groups()
        # `=None` is an empty field, which the page writes as a dash.
        parts.append(f"**{LABELS[name]}**" + (" —" if value == "=None" else " " if value else ""))
        last = match.end()
    parts.append(md_text(message[last:]))
    return "".join(parts)


def error_text(err: ConfigError) -> str:
    """A ConfigError as the page shows it: in words, with its fields' labels."""
    return labelled(friendly(str(err)), err.fields)


def fields_for(variant: str, task: str = "classify") -> tuple[FieldSpec, ...]:
    """The fields the form shows for a `task` run of `variant`: those it reads
    (`FieldSpec.used_by`)."""
    return tuple(spec for spec in FIELDS if spec.used_by(variant, task))


def presets_for(task: str) -> list[str]:
    """The presets whose runs have this task, in the table's order."""
    return [name for name, make in PRESETS.items() if make().task == task]


def variants_for(task: str) -> list[str]:
    """The model variants a `task` run can use: all for classifying, the encoders with the
    `captions` ability for captioning."""
    return [name for name, row in VARIANTS.items() if task != "caption" or row.captions]


def changed_fields(preset: str, values: Mapping[str, Any]) -> set[str]:
    """The fields whose value differs from the preset's: what the user edited."""
    defaults = preset_values(preset) if preset in PRESETS else {}
    return {name for name, value in values.items() if name in defaults and value != defaults[name]}


def warning_text(warning: ConfigWarning) -> str:
    """A config warning as the page shows it, led by the label of the field it is about."""
    text = labelled(warning.message, (warning.field,))
    label = LABELS.get(warning.field)
    if label is None or text.startswith(f"**{label}**"):
        return text
    return f"**{label}**: {text}"


@dataclass
class FormResult:
    """A validated config, or the errors to show (Markdown, fields named by their labels): by
    field name, and any left over; with a config, the warnings a person confirms ("Start
    anyway") before it is queued."""

    config: RunConfig | None
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.config is not None


def build_config(
    dataset: str | None,
    variant: str,
    preset: str,
    values: Mapping[str, Any],
    *,
    teacher: str | None = None,
    store: RunStore | None = None,
    extra: Mapping[str, str] | None = None,
    task: str = "classify",
) -> FormResult:
    """Validate widget values into a RunConfig, collecting as many field errors as it can.

    Text that does not parse is caught per field first, so several typos show at once;
    then the first rule the whole config breaks is reported under the field it names.
    The pre-flight checks and warnings follow, as the CLI runs them; a DeiT student's
    `teacher` is checked against `store` (when given), and its problems are general messages,
    since the teacher picker is not a field of the grid. `extra`: overrides of fields the
    form has no widget for; `task` what the run learns.
    """
    result = FormResult(None)
    if not dataset:
        result.errors["data.dataset"] = "Pick a dataset first."
        return result
    if preset not in PRESETS:
        result.errors["preset"] = md_text(
            f"Unknown preset '{preset}'; choose one of {', '.join(PRESETS)}."
        )
        return result
    overrides: dict[str, str] = {}
    shown = fields_for(variant, task)
    for spec in shown:
        # A field the variant does not read keeps the preset's value, whatever a hidden
        # widget still holds from another variant.
        if spec.name not in values:
            continue
        text = to_override(spec, values[spec.name])
        if text == "" and spec.kind != "list":
            result.errors[spec.name] = f"{spec.label} is required."
            continue
        try:
            # The CLI's parser, on the preset alone: one set of parsing rules for both.
            apply_overrides(PRESETS[preset](), {spec.name: text})
        except ConfigError as exc:
            result.errors[spec.name] = error_text(exc)
            continue
        overrides[spec.name] = text
    if result.errors:
        return result
    # Fields without a widget, carried over from a run trained again (as `--set` text).
    overrides = dict(extra or {}) | overrides
    if variant in VARIANTS and VARIANTS[variant].distills:
        if not teacher:
            result.general.append(
                "Pick a teacher: a DeiT student learns from a completed run on these classes."
            )
            return result
        overrides["distill.teacher"] = str(teacher)
    try:
        checked = check_run(make_config(preset, dataset, variant, overrides, task), store)
        result.config, result.warnings = checked.config, checked.warnings
    except ConfigError as exc:
        result.config = None
        where = field_for_error(
            exc.fields, changed_fields(preset, values), {spec.name for spec in shown}
        )
        if where:
            result.errors[where] = error_text(exc)
        else:
            result.general.append(error_text(exc))
    return result
