"""Train-page values become the same validated RunConfig the CLI makes; errors land on fields."""

from __future__ import annotations

import pytest

from studio.config import ConfigError, make_config
from studio.config.schema import ConfigWarning
from studio.ui.forms import (
    FIELDS,
    FIELDS_BY_NAME,
    build_config,
    error_text,
    field_for_error,
    fields_for,
    format_float,
    preset_values,
    warning_text,
)


def test_untouched_preset_values_give_the_presets_config():
    result = build_config("digits", "spt-lsa", "cpu-quick", preset_values("cpu-quick"))
    assert result.ok, result.errors
    assert result.config.to_dict() == make_config("cpu-quick", "digits", "spt-lsa").to_dict()


def test_every_form_field_round_trips_through_the_widget_types():
    values = preset_values("paper")
    assert set(values) == {f.name for f in FIELDS}
    assert values["model.mlp_units"] == "384, 192"
    assert values["train.learning_rate"] == "1e-3"
    assert build_config("cifar10", "vit", "paper", values).ok


def test_edits_reach_the_config():
    values = preset_values("cpu-quick") | {
        "train.epochs": 3,
        "data.limit": 300,
        "train.batch_size": 64,
        "train.learning_rate": "5e-4",
        "model.head_units": "",
        "augment.flip": False,
    }
    cfg = build_config("digits", "vit", "cpu-quick", values).config
    assert (cfg.train.epochs, cfg.data.limit, cfg.train.batch_size) == (3, 300, 64)
    assert cfg.train.learning_rate == 5e-4
    assert cfg.model.head_units == [] and cfg.augment.flip is False
    assert cfg.model.variant == "vit"


def test_an_empty_limit_means_all_images():
    values = preset_values("cpu-quick") | {"data.limit": None}
    assert build_config("digits", "vit", "cpu-quick", values).config.data.limit is None


def test_a_broken_rule_is_reported_under_the_field_it_names():
    values = preset_values("cpu-quick") | {"model.patch_size": 5}
    result = build_config("digits", "vit", "cpu-quick", values)
    assert not result.ok
    assert list(result.errors) == ["model.patch_size"]  # the field the user changed
    message = result.errors["model.patch_size"]
    assert "patch sizes that divide 32: 1, 2, 4, 8, 16, 32" in message
    # Named as the form names them; the CLI's dotted names are for --set.
    assert message.startswith("**Image size** 32 is not divisible by **Patch size** 5;")
    assert "model." not in message


def test_typos_in_several_fields_are_all_reported_at_once():
    values = preset_values("cpu-quick") | {
        "train.learning_rate": "fast",
        "model.mlp_units": "128, lots",
        "train.epochs": 0,
    }
    result = build_config("digits", "vit", "cpu-quick", values)
    assert result.errors["train.learning_rate"] == "**Learning rate** 'fast' is not a number"
    assert "list of integers" in result.errors["model.mlp_units"]
    assert "train.epochs" not in result.errors  # parses fine; the rule check comes after typos


def test_rule_errors_follow_once_the_typos_are_fixed():
    values = preset_values("cpu-quick") | {"train.epochs": 0}
    result = build_config("digits", "vit", "cpu-quick", values)
    assert result.errors == {"train.epochs": "**Epochs** 0 must be >= 1"}


def test_a_required_field_left_empty_is_named():
    values = preset_values("cpu-quick") | {"train.weight_decay": "  "}
    result = build_config("digits", "vit", "cpu-quick", values)
    assert result.errors["train.weight_decay"] == "Weight decay is required."


def test_dataset_problems_are_keyed_to_the_dataset(tmp_path):
    missing = tmp_path / "nowhere"
    result = build_config(f"folder:{missing}", "vit", "cpu-quick", preset_values("cpu-quick"))
    assert "does not exist" in result.errors["data.dataset"]
    assert "Pick a dataset" in build_config(None, "vit", "cpu-quick", {}).errors["data.dataset"]


def test_unknown_preset_is_an_error_not_a_crash():
    assert "preset" in build_config("digits", "vit", "nope", {}).errors


def test_field_for_error_finds_the_first_named_form_field():
    fields = ConfigError("model.image_size=72 is not divisible by model.patch_size=5").fields
    assert fields == ("model.image_size", "model.patch_size")
    assert field_for_error(fields) == "model.image_size"
    assert field_for_error(ConfigError("data.dataset='x' is unknown").fields) == "data.dataset"
    assert field_for_error(ConfigError("something else entirely").fields) is None


def test_a_path_that_looks_like_a_field_is_not_one():
    err = ConfigError("data.dataset='folder:/d/train.epochs/': folder /d/train.epochs/ is gone")
    assert err.fields == ("data.dataset",)
    text = error_text(err)
    assert text.startswith("**Dataset** '`folder:/d/train.epochs/`'") and "Epochs" not in text


def test_labels_for_fields_without_a_widget_keep_their_dotted_name():
    err = ConfigError("model.key_dim=0 must be an integer >= 1; model.depth=None is empty")
    assert error_text(err) == "`model.key_dim=0` must be an integer >= 1; **Depth** — is empty"


def test_a_warning_names_its_field_by_label_once():
    lr = ConfigWarning("train.learning_rate", "train.learning_rate=0.5 is very high for AdamW")
    assert warning_text(lr) == "**Learning rate** 0.5 is very high for AdamW"
    other = ConfigWarning("data.val_fraction", "few validation images per class (2)")
    assert warning_text(other) == "**Validation fraction**: few validation images per class (2)"


def test_format_float_is_short_and_exact():
    assert [format_float(v) for v in (1e-3, 2e-3, 1e-4, 0.1, 0.0, 5e-2)] == [
        "1e-3",
        "2e-3",
        "1e-4",
        "0.1",
        "0",
        "0.05",
    ]


def test_a_group_key_reaches_the_config_and_its_errors_land_on_its_field(tmp_path):
    from tests.helpers.image_folders import make_grouped_tree

    layout = {c: {f"p{c}{i}": 2 for i in range(4)} for c in ("a", "b")}
    make_grouped_tree(tmp_path / "mri", layout)
    dataset = f"folder:{tmp_path / 'mri'}"
    values = preset_values("cpu-quick")
    assert values["data.group_by"] == ""
    assert build_config(dataset, "vit", "cpu-quick", values).config.data.group_by is None
    grouped = values | {"data.group_by": r"^(p\w\d)_"}
    assert build_config(dataset, "vit", "cpu-quick", grouped).config.data.group_by == r"^(p\w\d)_"
    for key, words in ((r"^(q\d)_", "matches no image"), ("(", "not a valid regular expression")):
        result = build_config(dataset, "vit", "cpu-quick", values | {"data.group_by": key})
        assert not result.ok and words in result.errors["data.group_by"]


def test_an_edited_image_size_gets_the_message_under_image_size():
    values = preset_values("cpu-quick") | {"model.image_size": 30}
    result = build_config("digits", "vit", "cpu-quick", values)
    assert list(result.errors) == ["model.image_size"]
    assert "a multiple of 4" in result.errors["model.image_size"]


def test_a_rule_between_two_fields_lands_under_the_changed_one():
    fields = ("model.image_size", "model.patch_size")
    assert field_for_error(fields, changed={"model.patch_size"}) == "model.patch_size"
    assert field_for_error(fields, shown={"model.patch_size"}) == "model.patch_size"


def test_the_variant_table_decides_which_fields_the_form_shows():
    scratch = {f.name for f in fields_for("vit")}
    pretrained = {f.name for f in fields_for("vit-b16")}
    assert "model.pretrained" not in scratch and "model.freeze_backbone" not in scratch
    assert {"model.pretrained", "model.freeze_backbone", "model.head_dropout"} <= pretrained
    assert not {"model.patch_size", "model.depth", "model.mlp_units"} & pretrained


def test_a_hidden_field_keeps_the_presets_value():
    # A patch size typed for a ViT does not leak into a ViT-B/16, whose form hides it.
    values = preset_values("finetune") | {"model.patch_size": 5}
    result = build_config("digits", "vit-b16", "finetune", values)
    assert result.ok, result.errors
    assert (
        result.config.model.patch_size
        == make_config("finetune", "digits", "vit-b16").model.patch_size
    )


def test_carried_overrides_reach_the_config():
    values = preset_values("cpu-quick")
    extra = {"model.key_dim": "16", "data.test_fraction": "0.2"}
    cfg = build_config("digits", "vit", "cpu-quick", values, extra=extra).config
    assert (cfg.model.key_dim, cfg.data.test_fraction) == (16, 0.2)


def test_errors_know_every_config_section():
    from studio.config.errors import SECTIONS
    from studio.config.schema import SECTION_CLASSES

    assert set(SECTIONS) == set(SECTION_CLASSES)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("train.epochs", 0),
        ("train.batch_size", 0),
        ("train.learning_rate", "0"),
        ("train.warmup_fraction", "1.5"),
        ("model.image_size", 30),
        ("model.num_heads", 3),
        ("model.mlp_units", "64, 33"),
        ("model.dropout", "1"),
        ("data.val_fraction", "1"),
        ("data.limit", 1),
        ("augment.rotation", "0.9"),
        ("augment.mixup", "-1"),
    ],
)
def test_the_form_names_a_broken_field_by_its_label(name, bad):
    values = preset_values("cpu-quick") | {name: bad}
    result = build_config("digits", "vit", "cpu-quick", values)
    message = result.errors[name]
    assert f"**{FIELDS_BY_NAME[name].label}**" in message, message
    # No dotted name of a field the form shows: those are the CLI's words.
    assert not any(spec.name in message for spec in FIELDS), message
