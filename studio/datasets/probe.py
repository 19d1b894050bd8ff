"""Is this file an image the decoder will take? Answered from its header and its end, cheaply.

Uploads and the dataset card ask before anything decodes, so a text file named .png, a cut
off JPEG or a header that claims a gigapixel image is listed as rejected with its reason
instead of being counted. The header goes through the decoder's own `image_info`, so its
format rules and pixel cap are the decoder's; whether the data is all there is read from the
file's structure (PNG chunks and their CRCs, the JPEG end marker, the RIFF size of WebP, the
rows of uncompressed formats), never by decoding pixels.
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path

from PIL import Image

from studio.datasets.images import DEFAULT_MAX_PIXELS, ImageDecodeError, image_info

_CACHE_SIZE = 200_000
_cache: dict[tuple[str, int, int, int], str | None] = {}
_cache_lock = threading.Lock()


def image_problem(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """Why `path` would not decode (in plain words), or None when it looks whole."""
    try:
        st = os.stat(path)
    except OSError as err:
        return f"cannot read file: {err.strerror or err}"
    key = (str(path), st.st_size, st.st_mtime_ns, max_pixels)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    problem = _problem(Path(path), st.st_size, max_pixels)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = problem
    return problem


def _problem(path: Path, size: int, max_pixels: int) -> str | None:
    try:
        info = image_info(path, max_pixels)
    except ImageDecodeError as err:
        return err.reason
    if info.width < 1 or info.height < 1:
        return f"image is {info.width}x{info.height} pixels"
    try:
        return _cut_short(path, info.format, size)
    except OSError as err:
        return f"cannot read file: {err.strerror or err}"


def _cut_short(path: Path, fmt: str | None, size: int) -> str | None:
    if fmt == "PNG":
        return _png_problem(path)
    if fmt == "JPEG":
        return _jpeg_problem(path, size)
    if fmt == "WEBP":
        with open(path, "rb") as f:
            declared = int.from_bytes(f.read(8)[4:8], "little") + 8
        return "truncated file" if declared > size else None
    return _raw_rows_problem(path, size)


def _png_problem(path: Path) -> str | None:
    # Pillow's verify walks every chunk to IEND and checks each CRC, without inflating.
    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        text = str(err).lower()
        if "truncated" in text or isinstance(err, EOFError):
            return "truncated file"
        return f"corrupt image data ({err})"
    return None


def _jpeg_problem(path: Path, size: int) -> str | None:
    """A JPEG is whole when an end marker follows the start of its first scan.

    Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so the first
    FFD9 after the scan starts is the image's end; an EXIF thumbnail's end lies before it.
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = 2
        while at + 4 <= size:
            if data[at] != 0xFF:
                return "corrupt image data (a marker is missing between JPEG segments)"
            marker = data[at + 1]
            if marker == 0xFF:
                at += 1
                continue
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                at += 2
                continue
            length = int.from_bytes(data[at + 2 : at + 4], "big")
            if marker == 0xDA:
                return None if data.find(b"\xff\xd9", at + 2 + length) >= 0 else "truncated file"
            at += 2 + length
        return "truncated file"


def _raw_rows_problem(path: Path, size: int) -> str | None:
    # Uncompressed formats (BMP, PPM, raw TIFF strips) say where their rows start and how long
    # they are: a file shorter than that is cut off.
    with Image.open(path) as im:
        tiles = list(im.tile)
        height = im.size[1]
    for tile in tiles:
        if tile[0] != "raw":
            continue
        args = tile[3] if isinstance(tile[3], tuple) else (tile[3],)
        stride = args[1] if len(args) > 1 and isinstance(args[1], int) and args[1] > 0 else 0
        rows = tile[1][3] - tile[1][1] if tile[1] else height
        if stride and tile[2] + stride * rows > size:
            return "truncated file"
    return None
