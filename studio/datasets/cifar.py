"""CIFAR-10 / CIFAR-100 through keras.datasets, kept as a native 32 px .npz after first use.

Keras is imported only when that .npz is missing: it downloads (or finds in its own cache)
the official archive. The official train set is split into train/val by `val_fraction`
(stratified, seeded); the official test set is the test split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from studio.datasets.catalog import ARCHIVES, NATIVE_SIZE, cifar_cache_file
from studio.datasets.dataset import Dataset, build_dataset, split_info
from studio.datasets.decoding import resize_all
from studio.datasets.errors import DatasetUnavailable
from studio.datasets.splits import stratified_partition


def load_cifar(
    name: str,
    *,
    input_size: int,
    val_fraction: float,
    limit: int | None,
    seed: int,
    cache_dir: Path,
) -> Dataset:
    """CIFAR-10 or CIFAR-100 (fine labels); raises DatasetUnavailable when offline, uncached."""
    archive = ARCHIVES[name]
    cache_file = cifar_cache_file(cache_dir, name)
    arrays = _read_cache(cache_file)
    if arrays is None:
        arrays = _load_with_keras(name)
        _write_cache(cache_file, arrays)
    x_train, y_train, x_test, y_test = arrays
    if input_size != NATIVE_SIZE:
        x_train, x_test = resize_all(x_train, input_size), resize_all(x_test, input_size)
    rng = np.random.default_rng([seed, 0])
    train_i, val_i = stratified_partition(y_train, [val_fraction], rng)
    return build_dataset(
        {
            "train": (x_train[train_i], y_train[train_i]),
            "val": (x_train[val_i], y_train[val_i]),
            "test": (x_test, y_test),
        },
        class_names=archive.classes,
        name=name,
        input_size=input_size,
        source=f"{archive.title} via keras.datasets ({archive.url}); official test split",
        limit=limit,
        seed=seed,
        notes=[f"val: {val_fraction:.0%} of the official train split, stratified, seed {seed}"],
        split_record=split_info(seed=seed, given=["test"], fractions={"val": val_fraction}),
    )


def keras_datasets_dir() -> Path:
    """Where keras.datasets keeps downloads: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    # keras.utils.get_file falls back to /tmp/.keras when the home is not writable.
    if not os.access(os.path.expanduser(home), os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home).expanduser() / "datasets"


def _load_with_keras(name: str) -> tuple[np.ndarray, ...]:
    import keras

    module = keras.datasets.cifar10 if name == "cifar10" else keras.datasets.cifar100
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as err:  # keras raises a bare Exception for URL failures
        raise DatasetUnavailable(_unavailable_message(name, err)) from err
    return (
        np.asarray(x_train, dtype=np.uint8),
        np.asarray(y_train, dtype=np.int64).reshape(-1),
        np.asarray(x_test, dtype=np.uint8),
        np.asarray(y_test, dtype=np.int64).reshape(-1),
    )


def _unavailable_message(name: str, err: Exception) -> str:
    archive = ARCHIVES[name]
    target = keras_datasets_dir() / archive.keras_name
    return (
        f"{archive.title} is not cached and could not be downloaded ({err}). "
        f"On a machine with internet, download {archive.url} ({archive.megabytes} MB) and save "
        f"it as {target} (the name keras.datasets gives the archive in its cache), then "
        "try again; or train on your own images with folder:PATH."
    )


def _read_cache(cache_file: Path) -> tuple[np.ndarray, ...] | None:
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            return tuple(data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except Exception:  # a half-written cache is a miss: keras still has the archive
        return None


def _write_cache(cache_file: Path, arrays: tuple[np.ndarray, ...]) -> None:
    x_train, y_train, x_test, y_test = arrays
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            np.savez(handle, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(tmp, cache_file)
    except OSError:
        tmp.unlink(missing_ok=True)  # without the cache the next load just asks keras again
