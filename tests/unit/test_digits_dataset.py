"""The bundled scikit-learn digits: offline, 10 classes, RGB uint8 at 32 px by default."""

from __future__ import annotations

import numpy as np

from studio.config import DataConfig
from studio.datasets.loader import load_dataset


def load(tmp_path, **data):
    cfg = DataConfig(dataset="digits", **data)
    return load_dataset(cfg, image_size=72, seed=3, cache_dir=tmp_path / "cache")


def test_digits_are_rgb_uint8_at_32_px_in_10_stratified_classes(tmp_path):
    data = load(tmp_path)
    assert data.name == "digits" and data.input_size == 32
    assert data.class_names == [str(d) for d in range(10)]
    assert data.x_train.shape[1:] == (32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64
    sizes = [len(data.y_train), len(data.y_val), len(data.y_test)]
    assert sum(sizes) == 1797 and 170 <= sizes[1] <= 190 and 170 <= sizes[2] <= 190
    for split in ("train", "val", "test"):
        assert set(data.split(split)[1].tolist()) == set(range(10))
    assert data.x_train.max() == 255 and data.x_train.min() == 0  # 16 ink -> 255
    assert (data.x_train[..., 0] == data.x_train[..., 2]).all()  # gray made RGB


def test_digits_follow_input_size_limit_and_seed(tmp_path):
    data = load(tmp_path, input_size=48, limit=100)
    assert data.x_train.shape == (100, 48, 48, 3)
    assert set(data.report.class_counts["train"].values()) == {10}
    np.testing.assert_array_equal(load(tmp_path, input_size=48, limit=100).x_val, data.x_val)
