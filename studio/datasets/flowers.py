"""TF Flowers: the official flower_photos archive, fetched once into the studio cache.

After extraction it is an ordinary flat class-folder dataset, read by `load_folder`.
"""

from __future__ import annotations

from pathlib import Path

from studio.datasets.catalog import (
    FLOWERS_ARCHIVE,
    FLOWERS_CLASSES,
    FLOWERS_URL,
    flowers_archive,
    flowers_folder,
)
from studio.datasets.errors import DatasetUnavailable


def fetch_flowers(cache_dir: Path) -> Path:
    """The extracted flower_photos folder, downloading and extracting it on first use."""
    root = flowers_folder(cache_dir)
    archive = flowers_archive(cache_dir)
    if _complete(root):
        return root
    import keras

    try:
        keras.utils.get_file(
            fname=FLOWERS_ARCHIVE,
            origin=FLOWERS_URL,
            extract=True,
            cache_dir=str(cache_dir),
            cache_subdir=archive.parent.name,
        )
    except Exception as err:  # keras raises a bare Exception for URL failures
        raise DatasetUnavailable(
            f"TF Flowers is not cached and could not be downloaded ({err}). On a machine "
            f"with internet, download {FLOWERS_URL} (about 220 MB) and put it at "
            f"{archive}, then try again; or extract it anywhere and use "
            "folder:PATH/flower_photos."
        ) from err
    if not _complete(root):
        raise DatasetUnavailable(
            f"{archive} did not extract to {root} with the folders "
            f"{', '.join(FLOWERS_CLASSES)}: delete it so the next load downloads it again"
        )
    return root


def _complete(root: Path) -> bool:
    return all((root / name).is_dir() for name in FLOWERS_CLASSES)
