"""TF Flowers: the official flower_photos archive, fetched once into the studio cache.

After extraction it is an ordinary flat class-folder dataset, read by `load_folder`.
"""

from __future__ import annotations

from pathlib import Path

from studio.datasets.errors import DatasetUnavailable

URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
ARCHIVE = "flower_photos.tgz"
CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
_SUBDIR = "datasets"


def archive_path(cache_dir: Path) -> Path:
    """Where the downloaded archive lives (and where to put one fetched by hand)."""
    return Path(cache_dir) / _SUBDIR / ARCHIVE


def flowers_folder(cache_dir: Path) -> Path:
    """The extracted flower_photos folder, downloading and extracting it on first use."""
    # keras.utils.get_file with extract=True names the extraction folder "<stem>_extracted".
    root = Path(cache_dir) / _SUBDIR / "flower_photos_extracted" / "flower_photos"
    if _complete(root):
        return root
    import keras

    try:
        keras.utils.get_file(
            fname=ARCHIVE,
            origin=URL,
            extract=True,
            cache_dir=str(cache_dir),
            cache_subdir=_SUBDIR,
        )
    except Exception as err:  # keras raises a bare Exception for URL failures
        raise DatasetUnavailable(
            f"TF Flowers is not cached and could not be downloaded ({err}). On a machine "
            f"with internet, download {URL} (about 220 MB) and put it at "
            f"{archive_path(cache_dir)}, then try again; or extract it anywhere and use "
            "folder:PATH/flower_photos."
        ) from err
    if not _complete(root):
        raise DatasetUnavailable(
            f"{archive_path(cache_dir)} did not extract to {root} with the folders "
            f"{', '.join(CLASSES)}: delete it so the next load downloads it again"
        )
    return root


def _complete(root: Path) -> bool:
    return all((root / name).is_dir() for name in CLASSES)
