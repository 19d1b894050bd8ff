"""Bad configs are refused with a message that names the field and the rule."""

from __future__ import annotations

import re

import pytest

from studio.config import PRESETS, ConfigError, RunConfig, make_config
from studio.runs.preflight import preflight
from tests.helpers.image_folders import make_tree


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_size": "70"}, "model.image_size=70 is not divisible by model.patch_size=6"),
        (
            {"image_size": "4", "patch_size": "8"},
            "model.patch_size=8 is larger than model.image_size=4",
        ),
        ({"epochs": "0"}, "train.epochs=0 must be >= 1"),
        ({"batch_size": "0"}, "train.batch_size=0 must be >= 1"),
        ({"learning_rate": "0"}, "train.learning_rate=0.0 must be > 0"),
        ({"learning_rate": "-1e-3"}, "train.learning_rate=-0.001 must be > 0"),
        ({"model.dropout": "1.0"}, "model.dropout=1.0 must be in [0, 1)"),
        ({"head_dropout": "-0.1"}, "model.head_dropout=-0.1 must be in [0, 1)"),
        ({"variant": "resnet"}, "model.variant='resnet' is unknown"),
        ({"epochs": "ten"}, "train.epochs='ten' is not int"),
        ({"mlp_units": "128,32"}, "must end with model.projection_dim=64"),
        ({"nonsense": "1"}, "unknown config field 'nonsense'"),
    ],
)
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ConfigError) as err:
        make_config("keras-example", "cifar10", None, overrides)
    assert message in str(err.value)  # plain substring: messages hold brackets


def test_unknown_dataset_and_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("data.dataset='imagenet' is unknown")):
        make_config(dataset="imagenet")
    with pytest.raises(ConfigError, match=re.escape("data.dataset='folder:' needs a path")):
        make_config(dataset="folder: ")
    # Values alone pass; whether the folder exists is the pre-flight's question.
    missing = make_config(dataset=f"folder:{tmp_path / 'nope'}")
    with pytest.raises(ConfigError, match="does not exist"):
        preflight(missing, None)


def test_preflight_makes_folders_absolute(tmp_path, monkeypatch):
    make_tree(tmp_path / "pets", {"cats": 2, "dogs": 2})
    monkeypatch.chdir(tmp_path)
    cfg = preflight(make_config(dataset="folder:pets"), None)
    assert cfg.data.dataset == f"folder:{tmp_path / 'pets'}"
    (tmp_path / "lonely" / "cats").mkdir(parents=True)
    with pytest.raises(ConfigError, match="needs at least 2 class folders"):
        preflight(make_config(dataset="folder:lonely"), None)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="preset='huge' is unknown"):
        make_config(preset="huge")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_and_round_trip(name):
    dataset = "shapes" if PRESETS[name]().task == "caption" else "cifar100"
    cfg = make_config(preset=name, dataset=dataset)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_keras_example_preset_matches_the_recipe():
    cfg = make_config(preset="keras-example", dataset="cifar100")
    m, t, a = cfg.model, cfg.train, cfg.augment
    assert (m.image_size, m.patch_size, m.num_patches) == (72, 6, 144)
    assert (m.projection_dim, m.depth, m.num_heads) == (64, 8, 4)
    assert (m.mlp_units, m.head_units, m.dropout, m.head_dropout) == (
        [128, 64],
        [2048, 1024],
        0.1,
        0.5,
    )
    assert (t.learning_rate, t.weight_decay, t.batch_size, t.epochs) == (1e-3, 1e-4, 256, 50)
    assert (t.warmup_fraction, a.rotation, a.zoom, a.flip) == (0.1, 0.02, 0.2, True)
    assert (m.spt, m.lsa) == (True, True)


def test_variant_switches_are_independent():
    flags = {
        v: (make_config(variant=v).model.spt, make_config(variant=v).model.lsa)
        for v in ("vit", "spt", "lsa", "spt-lsa")
    }
    assert flags == {
        "vit": (False, False),
        "spt": (True, False),
        "lsa": (False, True),
        "spt-lsa": (True, True),
    }


def test_overrides_parse_types():
    cfg = make_config(
        overrides={"train.epochs": "3", "flip": "false", "input_size": "48", "head_units": "[]"}
    )
    assert cfg.train.epochs == 3
    assert cfg.augment.flip is False
    assert cfg.data.input_size == 48
    assert cfg.model.head_units == []


def test_digits_defaults_to_cpu_quick():
    assert make_config(dataset="digits").preset == "cpu-quick"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": str(10**9)}, "train.epochs=1000000000 is more than the studio allows"),
        ({"learning_rate": "1e3"}, "train.learning_rate=1000.0 is more than the studio allows"),
        ({"weight_decay": "inf"}, "train.weight_decay=inf must be a finite number"),
        ({"dropout": "nan"}, "model.dropout=nan must be a finite number"),
    ],
)
def test_values_that_cannot_work_are_refused(overrides, message):
    with pytest.raises(ConfigError) as err:
        make_config("cpu-quick", "digits", None, overrides)
    assert message in str(err.value)


def test_likely_mistakes_are_warnings_not_refusals():
    from studio.config.schema import value_warnings

    cfg = make_config(
        "cpu-quick", "digits", None, {"epochs": "2000", "learning_rate": "0.5", "val_fraction": "0"}
    )
    fields = [w.field for w in value_warnings(cfg)]
    assert fields == ["train.learning_rate", "train.epochs", "data.val_fraction"]
    assert value_warnings(make_config("cpu-quick", "digits")) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"train": {"epochs": True}}, "train.epochs=True must be a whole number"),
        ({"train": {"learning_rate": "1e-3"}}, "train.learning_rate='1e-3' must be a finite"),
        ({"train": [1]}, "config section 'train' must be an object of fields, not a list"),
        ([], "a run config is a JSON object, not a list"),
    ],
)
def test_a_stored_config_of_wrong_types_is_refused_naming_the_field(raw, message):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(raw)
    assert message in str(err.value)


def test_divisor_lists_stay_short_for_any_typed_number():
    from studio.config.schema import _divisors

    assert _divisors(32) == "1, 2, 4, 8, 16, 32"
    # Messages are built before their rule is checked: a huge value must not be factorised.
    assert _divisors(10**30).startswith("1, 2, 4, 5, 8, 10") and _divisors(10**30).endswith("...")
    assert _divisors(7919) == "1, ..."  # a prime past the search: the list says it is cut


# -- captioning runs (task=caption) ---------------------------------------------------------


def test_a_caption_run_starts_from_the_caption_preset_on_the_shapes_set():
    cfg = make_config(dataset="shapes", task="caption")
    assert (cfg.task, cfg.preset) == ("caption", "caption-quick")
    assert not cfg.augment.flip, "a mirrored scene would contradict its caption"
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("dataset", "task", "words"),
    [
        ("shapes", None, "is a captioning (task=caption) dataset"),
        ("digits", "caption", "is a classification dataset"),
        ("coco:", "caption", "needs the path of a COCO-format caption file"),
        ("coco:/data/train.json", None, "train it with task=caption"),
    ],
)
def test_a_dataset_of_the_other_task_is_refused_by_name(dataset, task, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        make_config(dataset=dataset, task=task)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"model.variant": "deit"}, "cannot encode images for captions"),
        ({"caption.decoder_heads": "3"}, "head counts that divide 64: 1, 2, 4, 8, 16, 32, 64"),
        ({"caption.max_length": "2"}, "leaves no room for a word"),
        ({"caption.vocab_size": "8"}, "too small"),
        ({"augment.mixup": "0.8"}, "does not mix their captions"),
        ({"caption.beam_width": "1000"}, "more than the studio allows"),
    ],
)
def test_caption_values_that_cannot_work_are_refused(overrides, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        make_config(dataset="shapes", task="caption", overrides=overrides)


def test_flipping_caption_images_is_warned_about():
    from studio.config.schema import value_warnings

    cfg = make_config(dataset="shapes", task="caption", overrides={"augment.flip": "true"})
    assert [w.field for w in value_warnings(cfg)] == ["augment.flip"]
    assert value_warnings(make_config(dataset="shapes", task="caption")) == []


def test_an_unknown_task_is_refused():
    with pytest.raises(ConfigError, match="task='segment' must be one of classify, caption"):
        make_config(dataset="digits", task="segment")
