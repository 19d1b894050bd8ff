"""Config extremes: every numeric field given NaN, infinities, negatives, huge numbers,
true/false and text, through `--set` and through a stored config.json row. Refused with one
line naming the field (nothing queued), or, stored, the run listed as damaged with the reason
while the other runs stay readable. Values that work but are very likely a mistake warn and
wait for `--yes`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields

import pytest

from studio.config import make_config
from studio.config.schema import SECTION_CLASSES
from studio.runs.store import RunStore

NUMERIC = [
    f"{section}.{f.name}"
    for section, cls in SECTION_CLASSES.items()
    for f in fields(cls)
    if f.type in ("int", "float", "int | None")
]
# What a person might type; all are refused for every numeric field, except a huge
# data.limit ("keep at most N images": any N above the dataset's size keeps them all).
TYPED = ["nan", "inf", "-inf", "-1", "1" + "0" * 30, "true", "ten", ""]
HARMLESS = {("data.limit", "1" + "0" * 30)}
# What a hand-edited or foreign config.json row may hold in a numeric field.
STORED = [float("nan"), float("inf"), True, "ten", [1], {"a": 1}]


@pytest.fixture
def cli(studio_home, run_cli, monkeypatch):
    # A queued run needs no worker here: these tests are about what gets in.
    monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None)
    return run_cli


def _deit(name: str) -> list[str]:
    # distill.* are checked only for a student; its teacher is refused after the values.
    return ["--model", "deit", "--teacher", "x"] if name.startswith("distill.") else []


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_field_refuses_extremes_typed_with_set(cli, name):
    refused = []
    for value in TYPED:
        if (name, value) in HARMLESS:
            continue
        code, out, err = cli(
            "train", "--dataset", "digits", *_deit(name), "--set", f"{name}={value}"
        )
        lines = err.strip().splitlines()
        assert code == 2, (name, value, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, value, err)
        if not name.startswith("distill."):
            assert name in lines[0], (name, value, err)
        refused.append(value)
    assert len(refused) >= len(TYPED) - 1
    assert RunStore().list_runs() == []


@pytest.mark.parametrize("value", STORED, ids=repr)
def test_a_stored_config_with_a_wrong_value_shows_that_run_damaged(cli, value):
    store = RunStore()
    good = store.create_run(make_config("cpu-quick", "digits").to_dict())
    for name in NUMERIC:
        cfg = make_config("cpu-quick", "digits").to_dict()
        run = store.create_run(cfg)
        section, key = name.split(".")
        cfg[section][key] = value
        with sqlite3.connect(store.db_path) as conn:
            conn.execute("UPDATE runs SET config_json=? WHERE id=?", (json.dumps(cfg), run.id))
    runs = store.list_runs()
    damaged = [r for r in runs if r.damage]
    assert len(damaged) == len(NUMERIC) and not any(r.id == good.id for r in damaged)
    for run, name in zip(runs[1:], NUMERIC, strict=True):
        assert f"{name}=" in run.damage and run.config == {}
    code, out, err = cli("list")
    assert code == 0 and not err
    assert good.id in out and out.count("damaged") == 2 * len(NUMERIC)  # column + note
    for run in damaged[:3]:
        code, out, err = cli("show", run.id)
        assert code == 0 and "damaged" in out
        code, out, err = cli("evaluate", run.id)
        assert code == 2 and "damaged" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "a JSON object, not a list"),
        ('"text"', "a JSON object, not text"),
        ("null", "a JSON object, not null"),
        ('{"train": [1, 2]}', "config section 'train' must be an object of fields, not a list"),
        ('{"model": "vit"}', "config section 'model' must be an object of fields, not text"),
        ('{"optimizer": {}}', "unknown config section 'optimizer'"),
        ('{"train": {"momentum": 0.9}}', "unknown field(s) in 'train': momentum"),
        ('{"model": {"mlp_units": [128, "64"]}}', "model.mlp_units=[128, '64']"),
        ('{"model": {"flip": 1}}', "unknown field(s) in 'model': flip"),
        ('{"augment": {"flip": 1}}', "augment.flip=1 must be true or false"),
        ('{"data": {"dataset": 7}}', "data.dataset=7 must be text"),
        ('{"preset": ["a"]}', "preset=['a'] must be text"),
    ],
)
def test_a_stored_config_of_the_wrong_shape_is_named(cli, stored, reason):
    store = RunStore()
    bad = store.create_run(make_config("cpu-quick", "digits").to_dict())
    good = store.create_run(make_config("cpu-quick", "digits").to_dict())
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET config_json=? WHERE id=?", (stored, bad.id))
    first, second = store.list_runs(with_latest=True)
    assert reason in first.damage and second.damage is None
    code, out, _ = cli("list", "--json")
    listed = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and reason in listed[bad.id]["damaged"] and not listed[good.id]["damaged"]


def test_an_unknown_variant_in_a_stored_row_is_damaged_not_a_crash(cli):
    store = RunStore()
    run = store.create_run(make_config("cpu-quick", "digits").to_dict())
    with sqlite3.connect(store.db_path) as conn:
        cfg = {**run.config, "model": {**run.config["model"], "variant": "resnet"}}
        conn.execute(
            "UPDATE runs SET variant='resnet', config_json=? WHERE id=?", (json.dumps(cfg), run.id)
        )
    assert "model variant 'resnet'" in store.get(run.id).damage
    code, out, _ = cli("list")
    assert code == 0 and "damaged" in out and "resnet" in out


@pytest.mark.parametrize(
    ("flags", "warned"),
    [
        (["--epochs", "5000"], "train.epochs=5,000"),
        (["--lr", "0.5"], "train.learning_rate=0.5 is very high"),
        (["--set", "data.val_fraction=0"], "data.val_fraction=0"),
        (["--set", "data.test_fraction=0"], "data.test_fraction=0"),
        (["--batch-size", "4096"], "more than the about 1,438 training images"),
        (["--limit", "50", "--batch-size", "64"], "more than the about 50 training images"),
        (["--set", "train.weight_decay=5"], "train.weight_decay=5"),
        (["--set", "train.warmup_fraction=0.9"], "train.warmup_fraction=0.9"),
        (["--set", "train.label_smoothing=0.8"], "train.label_smoothing=0.8"),
    ],
)
def test_likely_mistakes_wait_for_yes(cli, flags, warned):
    code, _, err = cli("train", "--dataset", "digits", *flags)
    assert code == 2 and warned in err and "add --yes to queue it anyway" in err
    assert RunStore().list_runs() == []
    code, out, _ = cli("train", "--dataset", "digits", *flags, "--yes")
    assert code == 0 and out.startswith("queued ")
    assert len(RunStore().list_runs()) == 1


@pytest.mark.parametrize(
    ("flags", "limit"),
    [
        (["--epochs", "1000000000"], "train.epochs=1000000000 is more than the studio allows"),
        (["--lr", "1e3"], "train.learning_rate=1000.0 is more than the studio allows"),
        (["--batch-size", "1000000"], "train.batch_size=1000000 is more than"),
        (["--image-size", "4096", "--patch-size", "4"], "model.image_size=4096 is more than"),
        (["--image-size", "512", "--patch-size", "2"], "65,536 patches"),
        (["--set", "model.depth=1000"], "model.depth=1000 is more than"),
        (["--set", "model.mlp_units=100000,64"], "each width must be at most 65,536"),
        (["--seed", "-5"], "train.seed=-5 must be >= 0"),
        (["--seed", str(2**40)], "train.seed=1099511627776 is more than"),
    ],
)
def test_what_cannot_work_is_refused_even_with_yes(cli, flags, limit):
    code, _, err = cli("train", "--dataset", "digits", *flags, "--yes")
    assert code == 2 and limit in err and len(err.strip().splitlines()) == 1
    assert RunStore().list_runs() == []
