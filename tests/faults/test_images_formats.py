"""Image formats and sizes: odd, hostile and disguised files through the one decoder.

Each case is a file made here; it must decode to the expected pixels or be refused with an
ImageDecodeError whose reason holds the given words, never another exception, and fast.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from studio.datasets import images
from studio.datasets.images import ImageDecodeError, decode_image, image_info

CAP = 1_000_000  # a small pixel cap keeps "just over the cap" cases cheap


def _encoded(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png_with(extra: bytes, width: int = 4, height: int = 4) -> bytes:
    """A valid 8-bit gray PNG with `extra` chunks before its pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([77]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + extra
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def _huge_compressed_chunk(kind: bytes, keyword: bytes, megabytes: int) -> bytes:
    # 64 MB of zeros compresses to 64 KB: a small file that asks for a large allocation.
    payload = zlib.compress(b"\x00" * (megabytes * 2**20), 9)
    return _chunk(kind, keyword + b"\x00\x00" + payload)


def _animated_gif(frames: int, side: int = 8) -> bytes:
    shots = [Image.new("P", (side, side), i % 256) for i in range(frames)]
    return _encoded(shots[0], "GIF", save_all=True, append_images=shots[1:], duration=10)


def _apng(frames: int) -> bytes:
    shots = [Image.new("RGB", (8, 8), (i % 256, 0, 0)) for i in range(frames)]
    return _encoded(shots[0], "PNG", save_all=True, append_images=shots[1:])


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose SOF header claims another size; its data is 8x8's."""
    data = bytearray(_encoded(Image.new("RGB", (8, 8), (200, 10, 10)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _rotated(orientation: int) -> bytes:
    pixels = np.zeros((2, 3, 3), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encoded(Image.fromarray(pixels), "PNG", exif=exif)


# name -> (bytes, expected (H, W) of the unresized decode, or the words of the refusal)
GOOD = {
    "1x1 png": (_encoded(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"), (1, 1)),
    "1x100000 png": (_encoded(Image.new("L", (1, 100_000), 5), "PNG"), (100_000, 1)),
    "100000x1 png": (_encoded(Image.new("L", (100_000, 1), 5), "PNG"), (1, 100_000)),
    "cmyk tiff": (_encoded(Image.new("CMYK", (5, 4), (0, 255, 0, 0)), "TIFF"), (4, 5)),
    "cmyk jpeg": (_encoded(Image.new("CMYK", (5, 4), (0, 255, 0, 0)), "JPEG"), (4, 5)),
    "16-bit png": (
        _encoded(Image.fromarray(np.full((3, 4), 65535, dtype=np.uint16)), "PNG"),
        (3, 4),
    ),
    "palette png": (
        _encoded(Image.new("RGB", (6, 6), (0, 90, 200)).convert("P"), "PNG"),
        (6, 6),
    ),
    "LA png": (_encoded(Image.new("LA", (4, 2), (30, 0)), "PNG"), (2, 4)),
    "RGBA webp": (_encoded(Image.new("RGBA", (4, 4), (9, 9, 9, 0)), "WEBP"), (4, 4)),
    "bilevel tiff": (_encoded(Image.new("1", (9, 3), 1), "TIFF"), (3, 9)),
    "bmp": (_encoded(Image.new("RGB", (3, 2), (5, 6, 7)), "BMP"), (2, 3)),
    "gif, 3000 frames": (_animated_gif(3000), (8, 8)),
    "apng, 2000 frames": (_apng(2000), (8, 8)),
    "exif orientation 6 swaps the sides": (_rotated(6), (3, 2)),
    "exif orientation 3 keeps them": (_rotated(3), (2, 3)),
    "exif orientation 99 (invalid) is ignored": (_rotated(99), (2, 3)),
    "image at the cap exactly": (_encoded(Image.new("L", (1000, 1000)), "PNG"), (1000, 1000)),
    # libjpeg fills what the data lacks with gray and Pillow reports no error: the pixel cap
    # and the memory budget still bound it (the upload probe reads the markers, not the size).
    "jpeg claiming 900x900 with 8x8 of data": (_jpeg_claiming(900, 900), (900, 900)),
}

BAD = {
    "zero bytes": (b"", "empty file"),
    "text named .png": (b"just some notes\n", "not an image"),
    "svg named .png": (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "an SVG drawing"),
    "html named .png": (b"<html><script>alert(1)</script></html>", "HTML or XML"),
    "png signature alone": (b"\x89PNG\r\n\x1a\n", "a damaged PNG file"),
    "jpeg markers alone": (b"\xff\xd8\xff\xe0" + b"\x00" * 12, "a damaged JPEG file"),
    "one pixel over the cap": (_encoded(Image.new("L", (1001, 1000)), "PNG"), "above the 1 MP"),
    "header claims 100000x100000": (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
        + _chunk(b"IEND", b""),
        "above the 1 MP",
    ),
    "jpeg claiming 60000x60000": (_jpeg_claiming(60_000, 60_000), "above the 1 MP"),
    "png with a 64 MB zTXt chunk": (
        _png_with(_huge_compressed_chunk(b"zTXt", b"Comment", 64)),
        "metadata chunk",
    ),
    "png with a 64 MB iCCP profile": (
        _png_with(_huge_compressed_chunk(b"iCCP", b"icc", 64)),
        "metadata chunk",
    ),
    "tga named .png": (_encoded(Image.new("RGB", (4, 4)), "TGA"), "TGA images are not accepted"),
    "pcx named .png": (_encoded(Image.new("RGB", (4, 4)), "PCX"), "PCX images are not accepted"),
    "ppm named .png": (_encoded(Image.new("RGB", (4, 4)), "PPM"), "PPM images are not accepted"),
    "ico named .png": (_encoded(Image.new("RGB", (16, 16)), "ICO"), "ICO images are not accepted"),
    "qoi named .png": (_encoded(Image.new("RGB", (4, 4)), "QOI"), "QOI images are not accepted"),
    "sgi named .png": (_encoded(Image.new("RGB", (4, 4)), "SGI"), "SGI images are not accepted"),
    "dds named .png": (_encoded(Image.new("RGB", (4, 4)), "DDS"), "DDS images are not accepted"),
    "im named .png": (_encoded(Image.new("RGB", (4, 4)), "IM"), "IM images are not accepted"),
    "eps named .png": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\n", "EPS images"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_odd_but_valid_images_decode(name, tmp_path):
    data, (height, width) = GOOD[name]
    path = tmp_path / "upload.png"  # every case under a misleading name
    path.write_bytes(data)
    out = decode_image(path, max_pixels=CAP)
    assert out.dtype == np.uint8 and out.shape == (height, width, 3)
    assert decode_image(data, size=16, max_pixels=CAP).shape == (16, 16, 3)
    info = image_info(path, max_pixels=CAP)
    assert (info.height, info.width) == (height, width)


@pytest.mark.parametrize("name", list(BAD))
def test_hostile_or_disguised_files_are_refused_in_words(name, tmp_path):
    data, words = BAD[name]
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    for source in (path, data, io.BytesIO(data)):
        with pytest.raises(ImageDecodeError) as caught:
            decode_image(source, max_pixels=CAP)
        assert words in caught.value.reason, caught.value.reason
        assert "Traceback" not in caught.value.reason


def test_orientation_six_turns_the_red_corner_to_the_top_right():
    out = decode_image(_rotated(6))
    assert out[0, -1].tolist() == [255, 0, 0] and out[0, 0].tolist() == [0, 0, 0]


def test_only_allowed_plugins_ever_decode_pixels(monkeypatch):
    # A refused format's header may be read to name it, but its decoder never runs.
    loaded: list[str] = []
    real_load = Image.Image.load

    def spy(self):
        loaded.append(getattr(self, "format", None) or "?")
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", lambda self: spy(self), raising=True)
    for name, (data, _) in BAD.items():
        if "named .png" in name:
            with pytest.raises(ImageDecodeError):
                decode_image(data)
    refused = {"TGA", "PCX", "PPM", "ICO", "QOI", "SGI", "DDS", "IM", "EPS"}
    assert not refused & set(loaded), loaded
    assert set(images.ALLOWED_FORMATS) == {"PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"}
