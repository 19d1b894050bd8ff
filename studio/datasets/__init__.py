"""Datasets as in-memory uint8 arrays, and a keras-free look at folders before loading.

Importing this package never imports keras: CIFAR and TF Flowers import it only when they
must download.
"""

from studio.datasets.dataset import Dataset, DatasetReport
from studio.datasets.errors import DatasetError, DatasetUnavailable
from studio.datasets.loader import load_dataset, resolve_input_size
from studio.datasets.scan import FolderSummary, scan_folder

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetReport",
    "DatasetUnavailable",
    "FolderSummary",
    "load_dataset",
    "resolve_input_size",
    "scan_folder",
]
