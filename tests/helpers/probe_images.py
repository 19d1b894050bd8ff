"""Image files that exercise the decoder's edges, for the demo's tests and benchmark.

`write_good_images` writes files every prediction path must accept (odd modes included) and
`write_bad_images` files it must refuse with a reason, each with the words the reason holds.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def _gradient(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256])
    noise = rng.integers(0, 40, (3, height, width))
    return np.clip(base + noise, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def write_good_images(folder: Path) -> dict[str, Path]:
    """RGB PNG, JPEG (EXIF-rotated), palette with transparency, 16-bit gray, CMYK, a photo."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    rgb = Image.fromarray(_gradient(40, 30, 1))
    files["rgb_png"] = folder / "rgb.png"
    rgb.save(files["rgb_png"])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    files["rotated_jpeg"] = folder / "rotated.jpg"
    Image.fromarray(_gradient(64, 48, 2)).save(files["rotated_jpeg"], quality=90, exif=exif)
    palette = Image.fromarray(_gradient(33, 33, 3)).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    files["palette_png"] = folder / "palette.png"
    palette.save(files["palette_png"], transparency=0)
    gray16 = (np.arange(50 * 20, dtype=np.uint16).reshape(20, 50) * 60).astype(np.uint16)
    files["gray16_png"] = folder / "gray16.png"
    Image.fromarray(gray16).save(files["gray16_png"])
    files["cmyk_jpeg"] = folder / "cmyk.jpg"
    Image.fromarray(_gradient(30, 30, 4)).convert("CMYK").save(files["cmyk_jpeg"], quality=95)
    files["photo_jpeg"] = folder / "photo.jpg"
    Image.fromarray(_gradient(1200, 900, 5)).save(files["photo_jpeg"], quality=85)
    return files


def write_bad_images(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a phrase the refusal must contain)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, str]] = {}
    text = folder / "notes.png"
    text.write_text("this is not an image, whatever its name says\n")
    files["not_an_image"] = (text, "not an image")
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    files["empty"] = (empty, "empty file")
    buffer = io.BytesIO()
    Image.fromarray(_gradient(200, 150, 6)).save(buffer, format="JPEG", quality=90)
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    files["truncated"] = (truncated, "truncated")
    huge = folder / "huge.png"  # 9000 x 9000 = 81 MP: small on disk, above the 64 MP cap
    Image.new("L", (9000, 9000)).save(huge, optimize=False)
    files["huge"] = (huge, "MP cap")
    return files
