"""scikit-learn's bundled 8x8 handwritten digits: a dataset that works offline, in seconds."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from studio.datasets.dataset import Dataset, build_dataset, split_info
from studio.datasets.images import decode_image
from studio.datasets.splits import stratified_partition

NATIVE_SIZE = 8


def load_digits(
    *,
    input_size: int,
    val_fraction: float,
    test_fraction: float,
    limit: int | None,
    seed: int,
) -> Dataset:
    """1,797 digits, 0..16 ink scaled to 0..255, upscaled to input_size and made RGB."""
    gray, y = digits_uint8()
    # Through the shared decoder, so the demo upscales a drawn digit exactly the same way.
    x = np.stack([decode_image(Image.fromarray(g), size=input_size) for g in gray])
    rng = np.random.default_rng([seed, 0])
    train_i, val_i, test_i = stratified_partition(y, [val_fraction, test_fraction], rng)
    return build_dataset(
        {
            "train": (x[train_i], y[train_i]),
            "val": (x[val_i], y[val_i]),
            "test": (x[test_i], y[test_i]),
        },
        class_names=[str(d) for d in range(10)],
        name="digits",
        input_size=input_size,
        source=f"scikit-learn digits (8x8, 1,797 images) upscaled to {input_size} px",
        limit=limit,
        seed=seed,
        notes=[
            f"val: {val_fraction:.0%}, test: {test_fraction:.0%} of all images, "
            f"stratified, seed {seed}"
        ],
        split_record=split_info(seed=seed, fractions={"val": val_fraction, "test": test_fraction}),
    )


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float (1797, 8, 8) ink levels 0..16 and their (1797,) labels."""
    # Importing sklearn.datasets costs seconds (scipy); its bundled CSV is all we need, so read
    # it straight from the installed package and ask sklearn only if that file has moved.
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        csv = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            table = np.loadtxt(csv, delimiter=",")
            return table[:, :-1].reshape(-1, NATIVE_SIZE, NATIVE_SIZE), table[:, -1]
    from sklearn.datasets import load_digits as load_with_sklearn

    bunch = load_with_sklearn()
    return bunch.images, bunch.target


@functools.cache
def digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    """The digits as 8x8 uint8 images (ink 0..16 scaled to 0..255) and int64 labels."""
    images, targets = sklearn_digits()
    gray = np.round(images * (255.0 / 16.0)).astype(np.uint8)
    gray.setflags(write=False)  # shared by every caller
    labels = np.asarray(targets, dtype=np.int64)
    labels.setflags(write=False)
    return gray, labels
