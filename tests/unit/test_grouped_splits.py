"""Grouped splits (data.group_by): a patient or writer never lies on two sides of a split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.config import ConfigError, DataConfig, apply_overrides, make_config
from studio.datasets.errors import DatasetError
from studio.datasets.loader import load_dataset
from studio.datasets.splits import GroupSplitError, check_groupable, grouped_partition
from studio.runs.preflight import preflight
from tests.helpers.image_folders import groups_from_pixels, make_grouped_tree

PATTERN = r"^(p\d+)_"


def _patients(n_per_class: int, classes=("AD", "CN", "MCI"), sizes=(2, 3, 4)):
    """class -> {patient: images}: n patients per class, 2-4 images each, ids unique."""
    return {
        c: {f"p{k}{i:02d}": sizes[i % len(sizes)] for i in range(n_per_class)}
        for k, c in enumerate(classes)
    }


def _arrays(layout):
    labels, groups = [], []
    for c, per_class in enumerate(layout.values()):
        for g, n in per_class.items():
            labels += [c] * n
            groups += [g] * n
    return np.array(labels), np.array(groups)


def _load(root, tmp_path, seed=7, **data):
    cfg = DataConfig(dataset=f"folder:{root}", **data)
    return load_dataset(cfg, image_size=16, seed=seed, cache_dir=tmp_path / "cache")


def _group_sets(data, names):
    return {s: set(groups_from_pixels(data.split(s)[0], names)) for s in ("train", "val", "test")}


def _preflight_error(data_overrides: dict[str, str], dataset: str) -> str:
    with pytest.raises(ConfigError) as err:
        preflight(make_config("cpu-quick", dataset, overrides=data_overrides), None)
    return str(err.value)


# -- the partition itself ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_no_group_is_in_two_parts_and_every_image_is_in_one(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, 60)
    groups = np.repeat([f"g{i}" for i in range(60)], sizes)
    # A third of the groups span two classes (a patient scanned at two stages).
    labels = np.repeat(np.arange(60) % 4, sizes)
    labels[rng.random(len(labels)) < 0.15] = 3
    parts = grouped_partition(labels, groups, [0.15, 0.2], seed).parts
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    seen = [set(groups[p]) for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_fractions_hold_roughly_and_every_class_is_in_every_part():
    labels, groups = _arrays(_patients(20))  # 60 patients, 180 images
    train, val, test = grouped_partition(labels, groups, [0.1, 0.2], seed=3).parts
    n = len(labels)
    assert abs(len(val) / n - 0.1) < 0.04 and abs(len(test) / n - 0.2) < 0.05
    for part in (train, val, test):
        assert set(labels[part]) == {0, 1, 2}  # stratified by group


def test_the_seed_decides_the_split():
    labels, groups = _arrays(_patients(10))
    first = grouped_partition(labels, groups, [0.2, 0.2], seed=1).parts
    again = grouped_partition(labels, groups, [0.2, 0.2], seed=1).parts
    other = grouped_partition(labels, groups, [0.2, 0.2], seed=2).parts
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_too_few_groups_names_the_numbers():
    labels, groups = np.array([0, 0, 1, 1]), np.array(["a", "b", "a", "b"])
    with pytest.raises(GroupSplitError, match=r"2 group\(s\) are too few: training and 2 held-out"):
        check_groupable(labels, groups, [0.1, 0.1])
    check_groupable(labels, groups, [0.1, 0.0])  # one held-out split: 2 groups will do


def test_one_group_per_class_is_refused_as_the_writer_case():
    labels, groups = np.array([0, 0, 1, 1, 2]), np.array(["w1", "w1", "w2", "w2", "w3"])
    with pytest.raises(GroupSplitError, match=r"each class is a single group \(3 classes, 3"):
        grouped_partition(labels, groups, [0.2, 0.2], seed=0)


def test_a_class_with_a_single_group_keeps_it_for_training():
    layout = _patients(6) | {"rare": {"p900": 3}}
    labels, groups = _arrays(layout)
    result = grouped_partition(labels, groups, [0.2, 0.2], seed=0)
    assert result.pinned == ["p900"]
    assert set(groups[result.parts[0]]) >= {"p900"}


# -- folder datasets -----------------------------------------------------------------------


def test_a_grouped_folder_reports_how_it_was_split(tmp_path):
    names = make_grouped_tree(tmp_path / "mri", _patients(10))
    data = _load(tmp_path / "mri", tmp_path, group_by=PATTERN)
    sets = _group_sets(data, names)
    assert not (
        sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"]
    )
    split = data.report.to_dict()["split"]
    counts = {s: len(v) for s, v in sets.items()}
    assert split == {
        "method": "grouped",
        "seed": 7,
        "given": [],
        "fractions": {"val": 0.1, "test": 0.1},
        "group_by": PATTERN,
        "groups": counts,
        "shared_groups": {"train/val": 0, "train/test": 0, "val/test": 0},
    }
    assert sum(counts.values()) == 30
    assert f"grouped by pattern '{PATTERN}': 30 groups" in data.report.source
    assert "no group in two splits" in data.report.source
    assert any(n.startswith("val: 10% of all images asked, by group") for n in data.report.notes)
    json.dumps(data.report.to_dict())


def test_stratified_folders_and_builtins_say_so_in_the_split_field(tmp_path):
    make_grouped_tree(tmp_path / "mri", _patients(4))
    split = _load(tmp_path / "mri", tmp_path).report.split
    assert split["method"] == "stratified" and split["group_by"] is None
    assert split["groups"] is None and split["fractions"] == {"val": 0.1, "test": 0.1}


def test_another_group_key_on_the_same_cache_gives_another_split(tmp_path):
    # The decoded-image cache holds pixels only; the split is made afresh on every load.
    layout = {"AD": {"p01": 6, "p02": 6, "p03": 6}, "CN": {"p04": 6, "p05": 6, "p06": 6}}
    names = make_grouped_tree(tmp_path / "mri", layout, name="{group}_s{i:02d}_x.png")
    plain = _load(tmp_path / "mri", tmp_path, val_fraction=0.3, test_fraction=0.3)
    grouped = _load(
        tmp_path / "mri", tmp_path, val_fraction=0.3, test_fraction=0.3, group_by=PATTERN
    )
    by_scan = _load(
        tmp_path / "mri", tmp_path, val_fraction=0.3, test_fraction=0.3, group_by=r"_(s\d+)_"
    )
    assert len(_group_sets(plain, names)["train"] & _group_sets(plain, names)["test"]) > 0
    sets = _group_sets(grouped, names)
    assert not sets["train"] & sets["test"] and not sets["train"] & sets["val"]
    # Grouped by scan number, every patient's other scans land in every split.
    assert _group_sets(by_scan, names)["test"] == set(names) != sets["test"]
    assert by_scan.report.split["group_by"] == r"_(s\d+)_"
    again = _load(tmp_path / "mri", tmp_path, val_fraction=0.3, test_fraction=0.3, group_by=PATTERN)
    assert np.array_equal(
        np.sort(again.x_test.reshape(len(again.x_test), -1), axis=0),
        np.sort(grouped.x_test.reshape(len(grouped.x_test), -1), axis=0),
    )


def test_a_group_spanning_classes_stays_whole(tmp_path):
    layout = _patients(8)
    layout["CN"]["p000"] = 2  # p000 of AD also has two CN scans
    names = make_grouped_tree(tmp_path / "mri", layout)
    data = _load(tmp_path / "mri", tmp_path, group_by=PATTERN, val_fraction=0.2, test_fraction=0.2)
    holders = [s for s, groups in _group_sets(data, names).items() if "p000" in groups]
    assert len(holders) == 1
    assert any(
        "1 group(s) hold images of several classes (e.g. p000: AD, CN)" in n
        for n in data.report.notes
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_given_test_folder_groups_carve_val_and_shared_groups_are_reported(tmp_path, seed):
    root = tmp_path / "split"
    make_grouped_tree(root / "train", _patients(3))
    test_layout = {"AD": {"p000": 2, "p900": 2}, "CN": {"p901": 2}, "MCI": {"p902": 2}}
    make_grouped_tree(root / "test", test_layout)
    data = _load(root, tmp_path, seed=seed, group_by=PATTERN, val_fraction=0.3)
    split = data.report.split
    assert split["given"] == ["test"] and split["fractions"] == {"val": 0.3}
    shared = split["shared_groups"]
    assert shared["train/val"] == 0 and shared["train/test"] + shared["val/test"] == 1
    where = "train/" if shared["train/test"] else "val (carved from train/)"
    warning = f"WARNING: 1 group(s) are in both {where} and test/ as given (e.g. p000)"
    assert any(n.startswith(warning) for n in data.report.notes), data.report.notes
    assert "test: as given in test/" in data.report.notes
    assert "see the WARNING notes" in data.report.source


# -- bad keys: clear messages, from the pre-flight before a run is queued ------------------


def test_a_pattern_that_matches_no_file_or_only_some_is_refused(tmp_path):
    make_grouped_tree(tmp_path / "mri", _patients(4))
    dataset = f"folder:{tmp_path / 'mri'}"
    message = _preflight_error({"data.group_by": r"^(q\d+)_"}, dataset)
    assert message.startswith(r"data.group_by='^(q\d+)_' matches no image; every image needs")
    assert "searched in the path below the class folder, e.g. 'p000_00.png'" in message
    message = _preflight_error({"data.group_by": r"^(p[01]\d+)_"}, dataset)
    assert "matches 22 of 33 images" in message and "MCI/p200_00.png" in message
    with pytest.raises(DatasetError, match="matches 22 of 33 images"):
        _load(tmp_path / "mri", tmp_path, group_by=r"^(p[01]\d+)_")


def test_too_few_groups_and_the_writer_case_are_refused_before_queueing(tmp_path):
    make_grouped_tree(tmp_path / "few", {"AD": {"p1": 3, "p2": 3}, "CN": {"p1": 2, "p2": 2}})
    message = _preflight_error({"data.group_by": PATTERN}, f"folder:{tmp_path / 'few'}")
    assert "2 group(s) are too few: training and 2 held-out split(s) need at least 3" in message
    assert "data.val_fraction=0.1, data.test_fraction=0.1" in message
    make_grouped_tree(tmp_path / "writers", {"w1": {"w1": 4}, "w2": {"w2": 4}, "w3": {"w3": 4}})
    message = _preflight_error({"data.group_by": r"^(w\d)_"}, f"folder:{tmp_path / 'writers'}")
    assert "each class is a single group (3 classes, 3 groups)" in message
    assert "writer identification" in message and "page or session" in message


def _csv(path, text):
    path.write_text(text)
    return path


def test_a_csv_of_file_and_group_splits_like_a_pattern(tmp_path):
    layout = _patients(6)
    names = make_grouped_tree(tmp_path / "mri", layout)
    rows = ["file,group"] + [
        f"{c}/{g}_{i:02d}.png,{g}"
        for c, per in layout.items()
        for g, n in per.items()
        for i in range(n)
    ]
    _csv(tmp_path / "mri" / "groups.csv", "\n".join([*rows, "gone/x.png,p999"]) + "\n")
    # A relative path is looked for in the dataset folder too, and made absolute.
    cfg = preflight(
        make_config(
            "cpu-quick", f"folder:{tmp_path / 'mri'}", overrides={"data.group_by": "csv:groups.csv"}
        ),
        None,
    )
    assert cfg.data.group_by == f"csv:{(tmp_path / 'mri' / 'groups.csv').resolve()}"
    data = _load(tmp_path / "mri", tmp_path, group_by=cfg.data.group_by)
    sets = _group_sets(data, names)
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"]
    assert data.report.split["group_by"] == cfg.data.group_by
    assert "grouped by CSV" in data.report.source
    assert any(
        "1 row(s) name files that are not images of the dataset" in n for n in data.report.notes
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "path,patient\nAD/p000_00.png,p000\n",
            "needs the columns file,group in its first row; it has: path, patient",
        ),
        ("", "is empty; it needs a header row: file,group"),
        ("file,group\n", "has a header but no rows"),
        ("file,group\nAD/p000_00.png,\n", "line 2: the group of AD/p000_00.png is empty"),
        (
            "file,group\nAD/p000_00.png,a\nAD/p000_00.png,b\n",
            "lines 2 and 3: AD/p000_00.png is in two groups",
        ),
        (
            "file,group\nAD/p000_00.png,a\n",
            "26 of 27 images are not in groups.csv, and every image needs a group",
        ),
        (
            "file,group\np000_00.png,a\n",
            "none of its 1 row(s) names an image of the dataset, e.g. p000_00.png: files are",
        ),
    ],
)
def test_bad_csvs_are_refused_with_the_reason(tmp_path, text, message):
    make_grouped_tree(tmp_path / "mri", _patients(3))
    csv_path = _csv(tmp_path / "groups.csv", text)
    refusal = _preflight_error({"data.group_by": f"csv:{csv_path}"}, f"folder:{tmp_path / 'mri'}")
    assert refusal.startswith(f"data.group_by='csv:{csv_path}'")
    assert message in refusal


def test_a_missing_csv_is_refused(tmp_path):
    make_grouped_tree(tmp_path / "mri", _patients(3))
    message = _preflight_error({"data.group_by": "csv:nowhere.csv"}, f"folder:{tmp_path / 'mri'}")
    assert message.startswith("data.group_by='csv:nowhere.csv': no CSV file at")


# -- the config field ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("(", "data.group_by='(' is not a valid regular expression: missing )"),
        (r"p\d+", r"data.group_by='p\d+' needs exactly one capture group"),
        (r"(p)(\d+)", "and has 2; write (?:...) for other parentheses"),
        ("csv:", "data.group_by='csv:' needs the CSV's path"),
    ],
)
def test_bad_group_keys_are_refused_without_the_disk(value, message):
    with pytest.raises(ConfigError, match=re_escape(message)):
        make_config("cpu-quick", "folder:/nowhere", overrides={"data.group_by": value})


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_group_by_is_for_folder_datasets_only():
    with pytest.raises(
        ConfigError,
        match=r"data.group_by='\^\(p\)' is for folder:PATH datasets only; data.dataset='digits'",
    ):
        make_config("cpu-quick", "digits", overrides={"data.group_by": "^(p)"})


def test_set_overrides_reach_group_by_and_none_or_empty_unset_it():
    cfg = make_config("cpu-quick", "folder:/x", overrides={"group_by": PATTERN})
    assert cfg.data.group_by == PATTERN
    for text in ("none", ""):
        assert apply_overrides(cfg, {"data.group_by": text}).data.group_by is None


def test_the_cli_refuses_a_bad_group_key_in_one_line(studio_home, run_cli, tmp_path):
    make_grouped_tree(tmp_path / "mri", _patients(3))
    folder = f"folder:{tmp_path / 'mri'}"
    for flags in (["--group-by", r"^(q\d+)_"], ["--set", r"data.group_by=^(q\d+)_"]):
        code, _, err = run_cli("train", "--dataset", folder, *flags)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(r"error: data.group_by='^(q\d+)_' matches no image")
    code, _, err = run_cli("train", "--dataset", "digits", "--group-by", r"^(p\d+)_")
    assert code == 2 and "is for folder:PATH datasets only" in err


def test_a_pattern_can_group_by_sub_folder(tmp_path):
    layout = _patients(5)
    names = make_grouped_tree(tmp_path / "mri", layout, name="{group}/scan{i}.png")
    data = _load(tmp_path / "mri", tmp_path, group_by=r"^([^/]+)/", val_fraction=0.2)
    sets = _group_sets(data, names)
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"]
    assert data.report.split["groups"]["train"] + len(sets["val"] | sets["test"]) == 15
