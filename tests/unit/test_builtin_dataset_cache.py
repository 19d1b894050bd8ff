"""CIFAR and TF Flowers ask keras once, then load from the studio cache without it."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from studio.config import DataConfig
from studio.datasets import cifar
from studio.datasets.catalog import FLOWERS_URL
from studio.datasets.loader import load_dataset
from tests.helpers.image_folders import make_tree

FLOWERS = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def load(dataset: str, tmp_path, **data):
    cfg = DataConfig(dataset=dataset, **data)
    return load_dataset(cfg, image_size=16, seed=0, cache_dir=tmp_path / "cache")


def fake_cifar(train_per_class=20, test_per_class=3):
    rng = np.random.default_rng(0)
    n_train, n_test = 10 * train_per_class, 10 * test_per_class
    return (
        rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        np.repeat(np.arange(10), train_per_class),
        rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        np.repeat(np.arange(10), test_per_class),
    )


def test_cifar_asks_keras_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cifar, "_load_with_keras", lambda name: calls.append(name) or fake_cifar())
    first = load("cifar10", tmp_path, val_fraction=0.1)
    assert calls == ["cifar10"] and (tmp_path / "cache" / "cifar10-32px.npz").is_file()
    second = load("cifar10", tmp_path, val_fraction=0.1)
    assert calls == ["cifar10"]
    np.testing.assert_array_equal(first.x_val, second.x_val)
    assert first.input_size == 32 and first.class_names[:2] == ["airplane", "automobile"]
    assert len(first.y_train) == 180 and len(first.y_val) == 20 and len(first.y_test) == 30
    assert set(first.report.class_counts["val"].values()) == {2}


def test_cifar_input_size_upscales_every_split(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "_load_with_keras", lambda name: fake_cifar(4, 1))
    data = load("cifar100", tmp_path, input_size=40, val_fraction=0.25)
    assert data.x_train.shape[1:] == (40, 40, 3) and data.x_test.shape == (10, 40, 40, 3)
    assert data.class_names[-1] == "worm" and len(data.class_names) == 100


def test_tf_flowers_downloads_once_through_keras_get_file(tmp_path, monkeypatch):
    calls = []

    def get_file(fname, origin, extract, cache_dir, cache_subdir):
        calls.append((fname, origin))
        out = tmp_path / "cache" / cache_subdir / "flower_photos_extracted"
        make_tree(out / "flower_photos", {name: 4 for name in FLOWERS})
        (out / "flower_photos" / "LICENSE.txt").write_text("CC-BY")
        return str(out)

    fake_keras = types.SimpleNamespace(utils=types.SimpleNamespace(get_file=get_file))
    monkeypatch.setitem(sys.modules, "keras", fake_keras)
    data = load("tf_flowers", tmp_path, val_fraction=0.25, test_fraction=0.25)
    assert calls == [("flower_photos.tgz", FLOWERS_URL)]
    assert data.class_names == list(FLOWERS) and data.input_size == 16
    assert len(data.y_train) == 10 and data.report.skipped == []  # LICENSE.txt is not a class

    monkeypatch.setitem(sys.modules, "keras", None)  # extracted already: keras not needed
    again = load("tf_flowers", tmp_path, val_fraction=0.25, test_fraction=0.25)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert len(calls) == 1


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_class_names_match_the_label_count(name):
    assert len(cifar.ARCHIVES[name].classes) == (10 if name == "cifar10" else 100)
