"""Where the Patches page gets an image: shipped samples, an upload, or a dataset image.

Every source ends as the file's bytes (digits become a lossless 8x8 PNG), so one decoder
(`studio.datasets.images.decode_image`) turns them into pixels and one digest names them in caches.
No Streamlit and no keras here.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from studio.datasets.digits import digits_uint8
from studio.datasets.scan import IMAGE_EXTENSIONS, scan_folder

SAMPLES_DIR = Path(__file__).with_name("samples")
# Folders of images (class folders, or photos) the Dataset source offers besides digits,
# separated like PATH: e.g. STUDIO_IMAGE_FOLDERS=/data/flowers:/data/photos.
IMAGE_FOLDERS_ENV = "STUDIO_IMAGE_FOLDERS"
DIGITS = "digits"


@dataclass(frozen=True)
class PickedImage:
    """An image chosen on the page: a label for people and the file's bytes."""

    label: str
    data: bytes


def sample_paths(folder: Path = SAMPLES_DIR) -> list[Path]:
    """The sample photos shipped with the studio (studio/ui/samples), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def sample_title(path: Path) -> str:
    """`chelsea-cat.jpg` -> `Chelsea cat`."""
    return path.stem.replace("-", " ").replace("_", " ").capitalize()


def image_folders(setting: str | None = None) -> list[Path]:
    """The existing folders named by STUDIO_IMAGE_FOLDERS (or `setting`), in its order."""
    raw = os.environ.get(IMAGE_FOLDERS_ENV, "") if setting is None else setting
    folders = [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]
    return [folder.resolve() for folder in folders if folder.is_dir()]


def dataset_sources(folders: list[Path] | None = None) -> dict[str, str]:
    """name -> title of the datasets to pick an image from: digits, then the image folders."""
    sources = {DIGITS: "Digits (scikit-learn, 8×8)"}
    for folder in image_folders() if folders is None else folders:
        sources[str(folder)] = f"{folder.name} ({folder.parent})"
    return sources


def folder_images(folder: str | Path) -> dict[str, list[Path]]:
    """class (or `images` for a flat folder of pictures) -> image files, listing only."""
    folder = Path(folder)
    summary = scan_folder(folder, samples_per_class=1)
    by_class: dict[str, list[Path]] = {}
    for per_class in summary.files.values():
        for name, paths in per_class.items():
            by_class.setdefault(name, []).extend(paths)
    if by_class:
        return {name: sorted(paths) for name, paths in sorted(by_class.items())}
    loose = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    return {"images": loose} if loose else {}


def digits_by_class() -> dict[str, list[int]]:
    """digit -> indices of scikit-learn's digits with that label."""
    _, labels = digits_uint8()
    return {str(d): [int(i) for i in np.flatnonzero(labels == d)] for d in range(10)}


def digit_png(index: int) -> bytes:
    """Digit `index` as an 8x8 grayscale PNG, ink scaled 0..16 -> 0..255 as in training."""
    gray = digits_uint8()[0][index]
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    return buffer.getvalue()
