"""Real images from ../shared/data loaded as folder:PATH datasets (skipped when absent)."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from studio.config import DataConfig
from studio.datasets.catalog import CIFAR10_CLASSES
from studio.datasets.loader import load_dataset
from studio.datasets.scan import scan_folder
from tests.conftest import shared_data


def load(path, cache, input_size, seed=42):
    cfg = DataConfig(dataset=f"folder:{path}", input_size=input_size)
    return load_dataset(cfg, image_size=72, seed=seed, cache_dir=cache)


def test_cifar10_mini_keeps_its_test_folder_and_carves_val_from_train(tmp_path):
    root = shared_data("cifar10-mini")
    data = load(root, tmp_path, input_size=32)
    assert data.class_names == CIFAR10_CLASSES  # folder order is keras' label order
    assert len(data.y_train) + len(data.y_val) == 5000
    assert len(data.y_val) == 500 and len(data.y_test) == 1000
    assert set(data.report.class_counts["val"].values()) == {50}
    assert set(data.report.class_counts["test"].values()) == {100}
    assert data.report.skipped == []
    # Lossless PNGs at their native size come through pixel for pixel.
    first_cat = sorted((root / "test" / "cat").glob("*.png"))[0]
    expected = np.asarray(Image.open(first_cat).convert("RGB"))
    cats = data.x_test[data.y_test == CIFAR10_CLASSES.index("cat")]
    assert any(np.array_equal(img, expected) for img in cats)


def test_flowers_mini_is_split_by_fraction_and_cached(tmp_path):
    root = shared_data("flowers-mini")
    assert scan_folder(root).counts["all"] == {
        name: 160 for name in ("daisy", "dandelion", "roses", "sunflowers", "tulips")
    }
    started = time.perf_counter()
    first = load(root, tmp_path, input_size=72)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = load(root, tmp_path, input_size=72)
    second_s = time.perf_counter() - started
    assert first.x_train.shape == (640, 72, 72, 3)
    assert len(first.y_val) == 80 and len(first.y_test) == 80
    np.testing.assert_array_equal(first.x_test, second.x_test)
    assert second_s < first_s
