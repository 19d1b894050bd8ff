"""studio.datasets.images.decode_image on images made here with Pillow, one behaviour per test."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from studio.datasets import images
from studio.datasets.images import ImageDecodeError, decode_image, image_info


def _save(im: Image.Image, path, **kwargs):
    im.save(path, **kwargs)
    return path


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but carries almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_rgb_png_round_trips_exactly(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = _save(Image.fromarray(pixels), tmp_path / "x.png")
    out = decode_image(path)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, pixels)


@pytest.mark.parametrize("kind", ["str", "path", "bytes", "file", "pil"])
def test_every_source_kind_decodes_the_same(tmp_path, kind):
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    path = _save(Image.fromarray(pixels), tmp_path / "x.png")
    source = {
        "str": str(path),
        "path": path,
        "bytes": path.read_bytes(),
        "file": io.BytesIO(path.read_bytes()),
        "pil": Image.open(path),
    }[kind]
    np.testing.assert_array_equal(decode_image(source), pixels)


def test_bilevel_and_grayscale_become_gray_rgb(tmp_path):
    bilevel = Image.new("1", (2, 2), 0)
    bilevel.putpixel((1, 0), 1)
    out = decode_image(_save(bilevel, tmp_path / "b.png"))
    assert out[0, 1].tolist() == [255, 255, 255] and out[0, 0].tolist() == [0, 0, 0]
    gray = decode_image(_save(Image.new("L", (3, 2), 77), tmp_path / "g.png"))
    assert gray.shape == (2, 3, 3) and (gray == 77).all()


def test_alpha_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (3, 1))
    rgba.putdata([(255, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)])
    out = decode_image(_save(rgba, tmp_path / "a.png"))
    assert out[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white, not red
    assert out[0, 1].tolist() == [255, 0, 0]
    assert np.abs(out[0, 2].astype(int) - 127).max() <= 1  # half black over white

    la = Image.new("LA", (2, 1))
    la.putdata([(100, 0), (100, 255)])
    out = decode_image(_save(la, tmp_path / "la.png"))
    assert out[0, 0].tolist() == [255] * 3 and out[0, 1].tolist() == [100] * 3


def test_palette_with_transparent_index_is_composited_on_white(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    pal.putdata([0, 1])
    pal.info["transparency"] = 0
    out = decode_image(_save(pal, tmp_path / "p.png", transparency=0))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 255, 0]
    opaque = decode_image(_save(Image.new("P", (2, 2), 1), tmp_path / "p2.gif"))
    assert opaque.shape == (2, 2, 3)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no cyan or black: red
    out = decode_image(_save(cmyk, tmp_path / "c.jpg", quality=100))
    assert out.shape == (8, 8, 3)
    red, green, blue = out[4, 4].astype(int)
    assert red > 240 and green < 15 and blue < 15


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 25700, 65535]], dtype=np.uint16)
    path = _save(Image.fromarray(values), tmp_path / "deep.png")
    assert Image.open(path).mode == "I;16"
    out = decode_image(path)
    assert out[0, :, 0].tolist() == [0, 1, 100, 255]
    assert (out[..., 0] == out[..., 2]).all()


def test_thirty_two_bit_int_uses_its_range(tmp_path):
    eight_bit = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))
    assert eight_bit.mode == "I"
    assert decode_image(eight_bit)[0, :, 0].tolist() == [0, 100, 255]
    sixteen = Image.fromarray(np.array([[0, 25700, 65535]], dtype=np.int32))
    assert decode_image(_save(sixteen, tmp_path / "i.tif"))[0, :, 0].tolist() == [0, 100, 255]
    signed = Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32))
    assert decode_image(signed)[0, :, 0].tolist() == [0, 128, 255]


def test_float_images_map_unit_range_to_bytes(tmp_path):
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert unit.mode == "F"
    assert decode_image(_save(unit, tmp_path / "f.tif"))[0, :, 0].tolist() == [0, 128, 255]
    wide = Image.fromarray(np.array([[-2.0, 0.0, 2.0, np.nan]], dtype=np.float32))
    assert decode_image(wide)[0, :, 0].tolist() == [0, 128, 255, 128]


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _save(im, tmp_path / "phone.jpg", exif=exif, quality=95)
    out = decode_image(path)
    assert out.shape == (40, 20, 3)  # portrait now
    assert out[5, 10, 0] > 200 and out[5, 10, 2] < 60  # the red half is on top
    assert out[35, 10, 2] > 200 and out[35, 10, 0] < 60
    info = image_info(path)
    assert (info.width, info.height, info.orientation, info.format) == (20, 40, 6, "JPEG")


def test_first_frame_of_an_animation(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out = decode_image(path)
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50
    assert image_info(path).frames == 2


@pytest.mark.parametrize("shape", [(1, 500), (500, 1), (1, 1)])
def test_one_pixel_wide_images_resize_without_crashing(tmp_path, shape):
    width, height = shape
    path = _save(Image.new("RGB", (width, height), (10, 20, 30)), tmp_path / "line.png")
    out = decode_image(path, size=72)
    assert out.shape == (72, 72, 3)
    assert (np.abs(out.astype(int) - [10, 20, 30]) <= 1).all()


def test_resize_makes_a_square_and_none_keeps_the_size(tmp_path):
    path = _save(Image.new("RGB", (64, 32), (200, 100, 50)), tmp_path / "wide.png")
    assert decode_image(path, size=16).shape == (16, 16, 3)
    assert decode_image(path).shape == (32, 64, 3)
    with pytest.raises(ValueError, match="size=0"):
        decode_image(path, size=0)


def test_large_jpeg_shortcut_matches_a_full_decode(tmp_path):
    # The JPEG draft shortcut (decoding at 1/8 scale) must not visibly change the result.
    yy, xx = np.mgrid[0:960, 0:1280]
    pixels = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    path = _save(Image.fromarray(pixels), tmp_path / "big.jpg", quality=92)
    fast = decode_image(path, size=72)
    full = decode_image(Image.open(path), size=72)  # a PIL image skips the shortcut
    assert np.abs(fast.astype(int) - full.astype(int)).mean() < 4


def test_truncated_jpeg_is_reported_as_truncated(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = io.BytesIO()
    Image.fromarray(noise).save(data, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageDecodeError, match=r"^truncated file$"):
        decode_image(path)


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels")
    with pytest.raises(ImageDecodeError) as err:
        decode_image(path)
    assert err.value.reason == "not an image (PIL could not identify it)"


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match=r"empty file \(0 bytes\)"):
        decode_image(tmp_path / "empty.png")
    with pytest.raises(ImageDecodeError, match="file not found"):
        decode_image(tmp_path / "missing.png")


def test_pixel_cap_stops_a_bomb_before_decoding():
    bomb = _png_header_only(20000, 20000)
    with pytest.raises(ImageDecodeError) as err:
        decode_image(bomb)
    assert err.value.reason == "image is 20000x20000 = 400 MP, above the 64 MP cap"


def test_pixel_cap_is_configurable(tmp_path):
    path = _save(Image.new("L", (3000, 3000)), tmp_path / "big.png")
    with pytest.raises(ImageDecodeError, match=r"3000x3000 = 9 MP, above the 1 MP cap"):
        decode_image(path, max_pixels=1_000_000)
    assert decode_image(path, size=8).shape == (8, 8, 3)


def test_our_cap_replaces_pillows_global_limit_only_inside_the_decoder(monkeypatch, recwarn):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # someone set Pillow's guard low
    bomb = _png_header_only(100, 100)
    with pytest.raises(ImageDecodeError, match=r"^image is 100x100 = 0.01 MP, above the 0.005"):
        decode_image(bomb, max_pixels=5000)
    png = io.BytesIO()
    Image.new("RGB", (60, 60), (1, 2, 3)).save(png, "PNG")  # 3,600 px: over Pillow's, under ours
    assert decode_image(png.getvalue(), max_pixels=5000).shape == (60, 60, 3)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    with pytest.raises(Image.DecompressionBombError):  # outside decode_image: Pillow's rules
        Image.open(io.BytesIO(bomb))


def test_pillows_own_bomb_error_becomes_ours(monkeypatch):
    def refuse(*args, **kwargs):
        raise Image.DecompressionBombError(
            "Image size (400000000 pixels) exceeds limit of 178956970 pixels, could be "
            "decompression bomb DOS attack."
        )

    monkeypatch.setattr(images.Image, "open", refuse)
    with pytest.raises(ImageDecodeError, match=r"^image is 400 MP, above the 64 MP cap$"):
        decode_image(b"anything")


# -- formats outside the allowlist, and the memory budget -----------------------------------


@pytest.mark.parametrize("fmt", ["TGA", "PCX", "PPM", "SGI", "ICO"])
def test_a_format_outside_the_allowlist_is_refused_by_name_whatever_the_file_is_called(
    tmp_path, fmt
):
    disguised = _save(Image.new("RGB", (16, 16), (9, 8, 7)), tmp_path / "photo.png", format=fmt)
    for source in (disguised, disguised.read_bytes()):
        with pytest.raises(ImageDecodeError, match=rf"^{fmt} images are not accepted"):
            decode_image(source)
    with pytest.raises(ImageDecodeError, match="PNG, JPEG, WebP, BMP, GIF or TIFF"):
        image_info(disguised)


def test_the_allowlist_is_one_exported_constant_every_allowed_format_decodes():
    assert images.ALLOWED_FORMATS == ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
    assert {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"} <= set(
        images.ALLOWED_EXTENSIONS
    )
    for fmt in images.ALLOWED_FORMATS:
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, format=fmt)
        assert decode_image(buffer.getvalue()).shape == (4, 4, 3), fmt


def test_svg_and_html_named_png_are_named_as_text():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'
    with pytest.raises(ImageDecodeError, match="not an image: an SVG drawing"):
        decode_image(svg)
    with pytest.raises(ImageDecodeError, match="not an image: an HTML or XML text file"):
        decode_image(b"\n<!DOCTYPE html><html><body>hi</body></html>")


def test_a_decode_that_does_not_fit_the_budget_is_refused_at_once_without_wait(monkeypatch):
    from studio.datasets.decode_budget import MemoryBudget

    budget = MemoryBudget(10 * 2**20)
    monkeypatch.setattr(images, "DECODING", budget)
    png = io.BytesIO()
    Image.new("RGB", (400, 400)).save(png, format="PNG")
    busy = pytest.raises(images.DecoderBusy, match=r"busy decoding other images.*try again")
    with budget.reserve(9 * 2**20), busy:
        decode_image(png.getvalue(), wait=False)
    assert budget.in_use == 0
    assert decode_image(png.getvalue(), wait=False).shape == (400, 400, 3)
    assert 0 < budget.peak <= 10 * 2**20 and budget.in_use == 0


def test_an_image_larger_than_the_whole_budget_still_decodes_alone(monkeypatch):
    from studio.datasets.decode_budget import MemoryBudget

    budget = MemoryBudget(1024)
    monkeypatch.setattr(images, "DECODING", budget)
    png = io.BytesIO()
    Image.new("RGB", (64, 64)).save(png, format="PNG")
    assert decode_image(png.getvalue(), wait=False).shape == (64, 64, 3)
    assert budget.peak == 64 * 64 * 15
