"""Archive names: judged on the raw bytes of the central directory, decoded as the zip says,
refused when they could escape, hide or disguise themselves, skipped when merely unusable."""

from __future__ import annotations

import pytest

from studio.datasets.uploads import UploadError, extract_upload
from tests.helpers.zips import UTF8, Raw, make_zip, png, raw_zip, unicode_path_extra

GOOD = [Raw(b"cats/a.png", png()), Raw(b"dogs/b.png", png((0, 200, 0)))]


def _refused(tmp_path, entries: list[Raw]) -> UploadError:
    with pytest.raises(UploadError) as caught:
        extract_upload(raw_zip(entries), "bad.zip", tmp_path / "uploads")
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or not [p for p in uploads.iterdir()], "something was kept"
    return caught.value


@pytest.mark.parametrize(
    ("raw", "flags", "reason"),
    [
        # zipfile cuts this name at the NUL and would extract "cats/x.png".
        (b"cats/x.png\x00../../../evil.png", 0, "NUL byte"),
        (b"cats/a\nb.png", 0, "control character"),
        (b"cats/\x1b[2Jc.png", 0, "control character"),
        ("cats/x\u202egnp.exe.png".encode(), UTF8, "direction-changing"),
        ("cats/x\u200b.png".encode(), UTF8, "invisible"),
        (b"cats\\..\\..\\evil.png", 0, "backslashes"),
        (b"/etc/evil.png", 0, "absolute path"),
        (b"C:/evil.png", 0, "absolute path"),
        (b"C:evil.png", 0, "absolute path"),
        (b"cats/../../evil.png", 0, "path traversal"),
        (b"caf\xe9/x.png", UTF8, "marked UTF-8 but its bytes are not UTF-8"),
    ],
)
def test_a_hostile_name_refuses_the_whole_zip_with_the_reason(tmp_path, raw, flags, reason):
    error = _refused(tmp_path, [*GOOD, Raw(raw, png(), flags=flags)])
    assert "nothing was extracted" in error.message
    assert reason in error.rejected[0].reason
    assert (
        "\n" not in error.message and "\x1b" not in error.message and "\u202e" not in error.message
    )


def test_the_same_name_twice_is_ambiguous_and_refused(tmp_path):
    error = _refused(tmp_path, [*GOOD, Raw(b"cats/a.png", png((9, 9, 9)))])
    assert "appears twice" in error.rejected[0].reason


def test_a_local_header_naming_another_file_is_refused(tmp_path):
    error = _refused(tmp_path, [*GOOD, Raw(b"cats/c.png", png(), local_name=b"cats/d.png")])
    assert "another name in its own header" in error.message


@pytest.mark.parametrize(
    ("entry", "folder"),
    [
        # macOS writes UTF-8 without the flag (and decomposed): zipfile reads it as cp437.
        (Raw("cafe\u0301/x.png".encode(), png()), "café"),
        (Raw("café/x.png".encode(), png()), "café"),
        (Raw("café/x.png".encode(), png(), flags=UTF8), "café"),
        # Windows' legacy zips: cp437 bytes (0x82 is é), as the zip standard says.
        (Raw(b"caf\x82/x.png", png()), "café"),
        # Info-ZIP keeps the UTF-8 name in an extra field beside the legacy one.
        (
            Raw(b"cr?me/x.png", png(), extra=unicode_path_extra(b"cr?me/x.png", "crème/x.png")),
            "crème",
        ),
    ],
)
def test_names_are_decoded_as_the_zip_says_and_normalised(tmp_path, entry, folder):
    result = extract_upload(raw_zip([*GOOD, entry]), "names.zip", tmp_path)
    assert {p.name for p in result.root.iterdir() if p.is_dir()} == {"cats", "dogs", folder}


def test_names_read_as_cp437_are_noted(tmp_path):
    result = extract_upload(raw_zip([*GOOD, Raw(b"caf\x82/x.png", png())]), "dos.zip", tmp_path)
    assert any("cp437" in note and "café" in note for note in result.notes)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cats/" + "d/" * 40 + "deep.png", "folders deep"),
        ("cats/" + "n" * 300 + ".png", "too long"),
        ("cats/inner.zip", "zip inside the zip"),
        ("cats/.hidden.png", "hidden file"),
        ("cats/A.png", "but for case"),
    ],
)
def test_unusable_names_are_skipped_and_listed(tmp_path, name, reason):
    data = make_zip({"cats/a.png": png(), "dogs/b.png": png(), name: png()})
    result = extract_upload(data, "skips.zip", tmp_path)
    assert result.files == 2
    assert reason in {r.name: r.reason for r in result.rejected}[name]


def test_a_file_and_a_folder_of_one_name_do_not_crash_extraction(tmp_path):
    data = make_zip({"cats/a.png": png(), "dogs/b.png": png(), "dogs/b.png/c.png": png()})
    result = extract_upload(data, "clash.zip", tmp_path)
    assert result.files == 2
    assert any("folder of the same name" in r.reason for r in result.rejected)
