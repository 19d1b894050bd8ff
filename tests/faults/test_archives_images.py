"""Files that only look like images: caught at upload from their headers and ends, listed as
rejected with a reason, and never counted, neither by the upload nor by the dataset card."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from studio.datasets.probe import image_problem
from studio.datasets.uploads import UploadError, extract_upload
from studio.ui.dataset_preview import preview_folder
from tests.helpers.zips import jpeg, make_zip, png


def _huge_png_header(width=100_000, height=100_000) -> bytes:
    ihdr = struct.pack(">2I5B", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b""))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _jpeg_with_thumbnail() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 1
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 20)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _corrupt_png() -> bytes:
    data = bytearray(png(size=(30, 30)))
    data[60] ^= 0xFF  # inside IDAT: its CRC no longer matches
    return bytes(data)


BAD = {
    "text.png": (b"hello, I am a text file", "not an image"),
    "truncated.png": (png(size=(40, 40))[:-30], "truncated"),
    "truncated.jpg": (jpeg(size=(64, 64))[:-200], "truncated"),
    "corrupt.png": (_corrupt_png(), "corrupt"),
    "huge.png": (_huge_png_header(), "MP cap"),
    "empty.jpg": (b"", "empty file"),
    "truncated.bmp": (b"", "truncated"),
}


def _bmp_cut() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(buf, "BMP")
    return buf.getvalue()[:-500]


def _tga() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "TGA")
    return buf.getvalue()


BAD["truncated.bmp"] = (_bmp_cut(), "truncated")
BAD["targa.png"] = (_tga(), "TGA images are not accepted")


def test_uploads_and_scans_take_exactly_the_decoders_extensions():
    from studio.datasets.images import ALLOWED_EXTENSIONS
    from studio.datasets.scan import IMAGE_EXTENSIONS

    assert IMAGE_EXTENSIONS == ALLOWED_EXTENSIONS


def test_bad_images_are_rejected_at_upload_and_only_good_ones_count(tmp_path):
    entries = {"cats/good.png": png(), "dogs/good.jpg": jpeg()}
    entries |= {f"cats/{name}": data for name, (data, _) in BAD.items()}
    data = make_zip(entries)
    result = extract_upload(data, "mixed.zip", tmp_path)
    assert result.files == 2
    reasons = {r.name: r.reason for r in result.rejected}
    for name, (_, words) in BAD.items():
        assert words in reasons[f"cats/{name}"], (name, reasons[f"cats/{name}"])
        assert not (result.root / "cats" / name).exists()
    card = preview_folder(result.root)
    assert card.counts["images"] == {"cats": 1, "dogs": 1}
    # The same bytes again: the first extraction's rejected list comes back with it.
    again = extract_upload(data, "mixed.zip", tmp_path)
    assert again.reused and again.files == 2 and len(again.rejected) == len(result.rejected)


def test_a_zip_of_only_bad_images_is_refused_with_the_first_reason(tmp_path):
    data = make_zip({"cats/a.png": b"text", "dogs/b.jpg": jpeg()[:-300]})
    with pytest.raises(UploadError, match="none of the 2 image file"):
        extract_upload(data, "bad.zip", tmp_path / "up")
    assert not list((tmp_path / "up").iterdir())


@pytest.mark.parametrize(
    "data",
    [
        png(),
        jpeg(),
        _jpeg_with_thumbnail(),
        jpeg() + b"\x00" * 3000 + b"trailer of a motion photo",
    ],
)
def test_whole_images_pass_the_check(tmp_path, data):
    path = tmp_path / "x.img"
    path.write_bytes(data)
    assert image_problem(path) is None


def test_a_cut_jpeg_with_an_exif_thumbnail_is_still_caught(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(_jpeg_with_thumbnail()[:-100])
    assert image_problem(path) == "truncated file"


def test_the_card_of_a_server_folder_lists_bad_images_and_counts_good_ones(tmp_path):
    for name, data in {
        "good.png": png(),
        "bad.png": b"text",
        "cut.png": png(size=(40, 40))[:-30],
    }.items():
        (tmp_path / "cats").mkdir(exist_ok=True)
        (tmp_path / "cats" / name).write_bytes(data)
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "d.png").write_bytes(png())
    card = preview_folder(tmp_path)
    assert card.counts["images"] == {"cats": 1, "dogs": 1}
    reasons = {p.split("/")[-1]: r for p, r in card.skipped}
    assert "not an image" in reasons["bad.png"] and "truncated" in reasons["cut.png"]
