"""Where the Patches page gets an image: shipped samples, an upload, or a dataset image.

Every source ends as the file's bytes (digits become a lossless 8x8 PNG), so one decoder
(`studio.images.decode_image`) turns them into pixels and one digest names them in caches.
No Streamlit and no keras here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from studio.datasets.scan import IMAGE_EXTENSIONS, scan_folder

REPO = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO / "assets" / "samples"
SHARED_DATA = REPO.parent / "shared" / "data"
DIGITS = "digits"


@dataclass(frozen=True)
class PickedImage:
    """An image chosen on the page: a label for people and the file's bytes."""

    label: str
    data: bytes


def sample_paths(folder: Path = SAMPLES_DIR) -> list[Path]:
    """The sample photos shipped in assets/samples, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def sample_title(path: Path) -> str:
    """`chelsea-cat.jpg` -> `Chelsea cat`."""
    return path.stem.replace("-", " ").replace("_", " ").capitalize()


def dataset_sources(shared: Path = SHARED_DATA) -> dict[str, str]:
    """name -> title of the datasets to pick an image from: digits, then ../shared/data folders."""
    sources = {DIGITS: "Digits (scikit-learn, 8×8)"}
    if shared.is_dir():
        for folder in sorted(p for p in shared.iterdir() if p.is_dir()):
            sources[str(folder)] = f"{folder.name} (../shared/data)"
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
    _, labels = _digits()
    return {str(d): [int(i) for i in np.flatnonzero(labels == d)] for d in range(10)}


def digit_png(index: int) -> bytes:
    """Digit `index` as an 8x8 grayscale PNG, ink scaled 0..16 -> 0..255 as in training."""
    images, _ = _digits()
    gray = np.round(images[index] * (255.0 / 16.0)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    return buffer.getvalue()


_DIGITS_CACHE: list[tuple[np.ndarray, np.ndarray]] = []


def _digits() -> tuple[np.ndarray, np.ndarray]:
    if not _DIGITS_CACHE:
        from studio.datasets.digits import sklearn_digits

        images, labels = sklearn_digits()
        _DIGITS_CACHE.append((images, np.asarray(labels, dtype=np.int64)))
    return _DIGITS_CACHE[0]
