"""Archive sizes and structure: caps hold on what the bytes really are (overlapping entries,
forged counts, zip64 fields, sizes that lie), and what cannot be read is refused by name."""

from __future__ import annotations

import errno
import io
import random
import struct

import pytest

from studio.datasets import uploads, zipdir
from studio.datasets.uploads import ExtractLimits, UploadError, extract_upload
from tests.helpers.zips import Raw, make_zip, png, quoted_overlap, raw_zip

GOOD = [Raw(b"cats/a.png", png()), Raw(b"dogs/b.png", png((0, 200, 0)))]


def _noise(seed: int) -> bytes:
    """20 KB that deflate shrinks only about 8-fold, as photos would never allow a bomb."""
    rng = random.Random(seed)
    return bytes(rng.choice(b"ab") for _ in range(20_000))


def _refused(tmp_path, data: bytes, limits: ExtractLimits | None = None) -> UploadError:
    with pytest.raises(UploadError) as caught:
        extract_upload(data, "x.zip", tmp_path / "uploads", limits)
    uploads_dir = tmp_path / "uploads"
    assert not uploads_dir.exists() or not list(uploads_dir.iterdir()), "something was kept"
    return caught.value


def test_a_quoted_overlap_zip_bomb_is_refused_before_writing(tmp_path):
    # 8 KB that expands to 1 MB: every ratio zipfile can see is low (entries' compressed sizes
    # count the shared kernel again and again); only the overlap gives it away.
    kernel = _noise(0)
    data = quoted_overlap([f"c{i % 2}/f{i}.png" for i in range(50)], kernel)
    error = _refused(tmp_path, data)
    assert "overlap" in error.message


def test_entries_sharing_one_local_header_are_refused(tmp_path):
    data = bytearray(raw_zip([*GOOD, Raw(b"cats/c.png", png())]))
    # Point the third central record at the first entry's local header.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 42 : cd + 46] = (0).to_bytes(4, "little")
    error = _refused(tmp_path, bytes(data))
    assert "overlap" in error.message or "another name" in error.message


def test_the_archive_ratio_is_measured_against_its_real_size(monkeypatch):
    kernel = _noise(1)
    data = quoted_overlap([f"c{i % 2}/f{i}.png" for i in range(50)], kernel)
    # Even with the overlap check out of the way, 8 KB declaring 1 MB is a bomb's ratio.
    monkeypatch.setattr(zipdir, "_refuse_overlaps", lambda entries, cd_start: None)
    entries = zipdir.read_directory(io.BytesIO(data), 1000)
    with pytest.raises(UploadError, match="would expand"):
        uploads.plan_extraction(entries, len(data), ExtractLimits(ratio_floor_bytes=4096))


def test_a_forged_entry_count_is_refused_before_the_directory_is_read(tmp_path):
    error = _refused(tmp_path, raw_zip(GOOD, count=0xFFFF), ExtractLimits(max_entries=1000))
    assert "65,535 entries, more than the 1,000 allowed" in error.message
    error = _refused(tmp_path, raw_zip(GOOD, count=5))
    assert "says 5 entries but the directory holds 2" in error.message


def test_too_many_entries_of_any_kind_are_refused(tmp_path):
    entries = GOOD + [Raw(f"notes/{i}.txt".encode(), b"x") for i in range(60)]
    error = _refused(tmp_path, raw_zip(entries), ExtractLimits(max_entries=50))
    assert "more than the 50 allowed" in error.message


def test_a_size_that_needs_a_missing_zip64_field_is_refused(tmp_path):
    error = _refused(
        tmp_path, raw_zip([*GOOD, Raw(b"cats/c.png", png(), declared_size=0xFFFFFFFF)])
    )
    assert "zip64" in error.message


def test_a_zip64_field_claiming_more_data_than_the_file_holds_is_refused(tmp_path):
    big = (1 << 40).to_bytes(8, "little")
    extra = struct.pack("<2H", 1, 16) + big + big  # uncompressed and compressed sizes
    entry = Raw(b"cats/c.png", png(), declared_size=0xFFFFFFFF, extra=extra)
    data = bytearray(raw_zip([*GOOD, entry]))
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 20 : cd + 24] = (0xFFFFFFFF).to_bytes(4, "little")  # compressed size -> zip64
    error = _refused(tmp_path, bytes(data))
    assert "more data than the archive holds" in error.message or "too large" in str(error.rejected)


def test_a_size_that_lies_low_is_caught_on_the_bytes_written(tmp_path):
    data = raw_zip([*GOOD, Raw(b"cats/c.png", png(size=(40, 40)), method=8, declared_size=50)])
    error = _refused(tmp_path, data)
    assert "more bytes than it declares" in error.message or "damaged" in error.message


@pytest.mark.parametrize(("flags", "method"), [(0x1, 8), (0x41, 8), (0x1, 99)])
def test_an_encrypted_zip_is_refused_as_password_protected(tmp_path, flags, method):
    entries = [Raw(e.name, e.data, flags=flags, method=method) for e in GOOD]
    error = _refused(tmp_path, raw_zip(entries))
    assert "password-protected" in error.message
    assert "no images" not in error.message


def test_an_unreadable_compression_method_is_named(tmp_path):
    entries = [*GOOD, Raw(b"cats/c.png", png(), method=9)]  # Deflate64
    error = _refused(tmp_path, raw_zip(entries))
    assert "deflate64" in error.message and "compression" in error.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a readable zip"),
        (b"%PDF-1.7 not a zip at all" * 10, "not a readable zip"),
        (raw_zip([]), "no images inside class folders"),
        (make_zip({"a/readme.txt": b"x"}), "no images inside class folders"),
    ],
)
def test_empty_and_foreign_files_are_refused_with_reasons(tmp_path, data, words):
    assert words in _refused(tmp_path, data).message


def test_a_cut_off_zip_is_refused(tmp_path):
    data = make_zip({"cats/a.png": png(), "dogs/b.png": png()})
    assert "not a readable zip" in _refused(tmp_path, data[: len(data) // 2]).message


def test_a_split_zip_part_is_refused(tmp_path):
    data = bytearray(raw_zip(GOOD))
    end = data.rfind(b"PK\x05\x06")
    data[end + 4 : end + 6] = (1).to_bytes(2, "little")
    assert "split" in _refused(tmp_path, bytes(data)).message


def test_data_before_the_zip_is_allowed(tmp_path):
    data = b"#!/bin/sh self-extractor stub\n" * 4 + make_zip(
        {"cats/a.png": png(), "dogs/b.png": png()}
    )
    assert extract_upload(data, "sfx.zip", tmp_path).files == 2


def test_a_full_disk_while_extracting_is_a_refusal_and_leaves_nothing(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads, "_copy_capped", full)
    error = _refused(tmp_path, raw_zip(GOOD))
    assert "No space left on device" in error.message and "nothing was kept" in error.message
