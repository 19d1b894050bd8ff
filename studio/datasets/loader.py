"""`load_dataset`: one entry point from a DataConfig to in-memory train/val/test arrays."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.config.datasets import BUILTIN, NATIVE_SIZES, folder_of
from studio.datasets.dataset import Dataset
from studio.datasets.decoding import Progress
from studio.datasets.errors import DatasetError

if TYPE_CHECKING:
    from studio.config import DataConfig
    from studio.datasets.captions import CaptionDataset


def resolve_input_size(data_cfg: DataConfig, image_size: int) -> int:
    """data.input_size, else 32 for CIFAR and digits, else the model's image_size."""
    if data_cfg.input_size is not None:
        return data_cfg.input_size
    return NATIVE_SIZES.get(data_cfg.dataset, image_size)


def load_dataset(
    data_cfg: DataConfig,
    image_size: int,
    seed: int,
    cache_dir: Path,
    *,
    progress: Progress | None = None,
) -> Dataset:
    """Load `data_cfg.dataset` as uint8 arrays split into train / val / test.

    Args:
        data_cfg: which dataset, its fractions, input size and training-image limit.
        image_size: the model's input side, used as the stored size of photo datasets
            (tf_flowers, folder:PATH) when data_cfg.input_size is None.
        seed: seeds the split, the limit subset and the order of each split.
        cache_dir: downloads and decoded arrays; reused by later loads.
        progress: called as progress(done, total) while image files are decoded.

    Raises:
        DatasetUnavailable: a built-in dataset is neither cached nor downloadable.
        DatasetError: the data breaks a rule (unknown name, too few classes, ...).
    """
    name = data_cfg.dataset
    size = resolve_input_size(data_cfg, image_size)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    common = {"limit": data_cfg.limit, "seed": seed}
    if name in ("cifar10", "cifar100"):
        from studio.datasets.cifar import load_cifar

        return load_cifar(
            name, input_size=size, val_fraction=data_cfg.val_fraction, cache_dir=cache_dir, **common
        )
    if name == "digits":
        from studio.datasets.digits import load_digits

        fractions = {"val_fraction": data_cfg.val_fraction, "test_fraction": data_cfg.test_fraction}
        return load_digits(input_size=size, **fractions, **common)
    folder = folder_of(name)
    if name == "tf_flowers" or folder:
        from studio.datasets.catalog import FLOWERS_URL
        from studio.datasets.flowers import fetch_flowers
        from studio.datasets.folder import load_folder

        flowers = name == "tf_flowers"
        root = fetch_flowers(cache_dir) if flowers else Path(folder)
        return load_folder(
            root.expanduser(),
            name=name,
            input_size=size,
            val_fraction=data_cfg.val_fraction,
            test_fraction=data_cfg.test_fraction,
            cache_dir=cache_dir,
            progress=progress,
            source=f"TF Flowers ({FLOWERS_URL}), extracted to {root}" if flowers else None,
            group_by=data_cfg.group_by,
            **common,
        )
    raise DatasetError(
        f"data.dataset='{name}' is unknown; choose one of {', '.join(BUILTIN)} or folder:PATH"
    )


def load_caption_dataset(
    data_cfg: DataConfig,
    image_size: int,
    seed: int,
    cache_dir: Path | None = None,
    *,
    progress: Progress | None = None,
) -> CaptionDataset:
    """Load a captioning dataset (`shapes`, `coco:PATH`, `folder:PATH` with captions.csv or
    captions.jsonl) as uint8 images with their captions, split by image.

    Args mean what they do for `load_dataset`; images are stored at data_cfg.input_size,
    else at `image_size`. Raises DatasetError when nothing usable is left.
    """
    from studio.datasets.captions import load_captions

    return load_captions(
        data_cfg.dataset,
        input_size=resolve_input_size(data_cfg, image_size),
        val_fraction=data_cfg.val_fraction,
        test_fraction=data_cfg.test_fraction,
        limit=data_cfg.limit,
        seed=seed,
        cache_dir=cache_dir,
        progress=progress,
    )
