"""A run's dataset (images and labels, or images and captions), as its config and the store's
dataset cache make it."""

from __future__ import annotations

from studio.config.schema import RunConfig
from studio.datasets.captions import CaptionDataset
from studio.datasets.dataset import Dataset
from studio.datasets.loader import load_caption_dataset, load_dataset
from studio.runs.paths import dataset_cache_dir
from studio.runs.store import RunStore


def load_run_data(store: RunStore, cfg: RunConfig) -> Dataset:
    """The same images, split the same way, for training, resuming and evaluating."""
    return load_dataset(
        cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
    )


def load_run_captions(store: RunStore, cfg: RunConfig) -> CaptionDataset:
    """A captioning run's images and captions, split the same way every time."""
    return load_caption_dataset(
        cfg.data, cfg.model.image_size, cfg.train.seed, dataset_cache_dir(store.home)
    )
