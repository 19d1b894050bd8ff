"""Classes too small for the split: named before training, with the minimum, by the pre-flight
(CLI and Train page) and on the dataset card."""

from __future__ import annotations

import pytest

from studio.datasets.small_classes import min_class_size
from studio.runs.preflight import check_run
from studio.ui.dataset_preview import preview_folder
from tests.helpers.image_folders import make_tree
from tests.helpers.tiny import tiny_config


def _warnings(root, **data) -> list[str]:
    overrides = {"train.batch_size": "2", **{f"data.{k}": v for k, v in data.items()}}
    cfg = tiny_config("vit", f"folder:{root}", **overrides)
    return [w.message for w in check_run(cfg, None).warnings]


@pytest.mark.parametrize(
    ("fractions", "minimum"),
    [((0.1, 0.1), 5), ((0.2, 0.1), 5), ((0.2, 0.0), 3), ((0.3, 0.3), 3), ((0.01, 0.01), 50)],
)
def test_the_minimum_is_what_the_stratified_split_needs(fractions, minimum):
    assert min_class_size(fractions) == minimum


def test_small_classes_are_named_with_the_minimum_before_training(tmp_path):
    root = make_tree(tmp_path / "data", {"big": 20, "one": 1, "three": 3})
    said = [w for w in _warnings(root) if "too small" in w]
    assert len(said) == 1
    assert "one (1 image" in said[0] and "three (3 images" in said[0]
    assert "big" not in said[0] and "at least 5 images" in said[0]


def test_only_carved_splits_count(tmp_path):
    make_tree(tmp_path / "data" / "train", {"big": 20, "two": 2})
    make_tree(tmp_path / "data" / "test", {"big": 2, "two": 2})
    said = [w for w in _warnings(tmp_path / "data", val_fraction=0.2) if "too small" in w]
    assert len(said) == 1 and "no validation" in said[0] and "no test" not in said[0]


def test_no_warning_without_carved_splits(tmp_path):
    root = make_tree(tmp_path / "data", {"big": 20, "one": 1})
    assert not [w for w in _warnings(root, val_fraction=0, test_fraction=0) if "too small" in w]


def test_the_card_names_small_classes(tmp_path):
    root = make_tree(tmp_path / "data", {"big": 20, "one": 1})
    card = preview_folder(root)
    assert any("too small" in n and "one (1 image" in n for n in card.notes)
