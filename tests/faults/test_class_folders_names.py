"""Class folder names: one spelling per class (NFC), look-alikes refused with both names shown
and the difference visible, names that are not text named rather than turned to mojibake."""

from __future__ import annotations

import os

import pytest

from studio.datasets.scan import scan_folder
from studio.datasets.uploads import UploadError, extract_upload
from tests.helpers.zips import UTF8, Raw, png, raw_zip

NFC, NFD = "caf\u00e9", "cafe\u0301"


@pytest.mark.parametrize(
    ("first", "second", "how"),
    [("Cats", "cats", "case"), (NFC, NFD, "Unicode form"), ("train/Cats", "train/CATS", "case")],
)
def test_a_zip_with_look_alike_class_folders_is_refused_naming_both(tmp_path, first, second, how):
    data = raw_zip(
        [
            Raw(f"{first}/a.png".encode(), png(), flags=UTF8),
            Raw(f"{second}/b.png".encode(), png(), flags=UTF8),
            Raw(b"dogs/c.png", png()),
        ]
    )
    with pytest.raises(UploadError) as caught:
        extract_upload(data, "lookalike.zip", tmp_path / "up")
    message = caught.value.message
    assert f"only by {how}" in message
    shown = [name.replace("\u0301", "\\u0301") for name in (first, second)]
    assert all(name in message for name in shown), message


def _dirs(root, *names):
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "a.png").write_bytes(png())
    return root


@pytest.mark.parametrize(("first", "second"), [("Cats", "cats"), (NFC, NFD)])
def test_a_server_folder_with_look_alike_classes_is_a_problem(tmp_path, first, second):
    summary = scan_folder(_dirs(tmp_path, first, second, "dogs"))
    assert not summary.ok
    problem = summary.problems[0]
    assert "differ only by" in problem
    assert first.replace("\u0301", "\\u0301") in problem
    assert second.replace("\u0301", "\\u0301") in problem


def test_a_decomposed_folder_name_becomes_one_composed_class(tmp_path):
    summary = scan_folder(_dirs(tmp_path, NFD, "dogs"))
    assert summary.ok and summary.class_names == [NFC, "dogs"]
    assert summary.counts["all"][NFC] == 1
    assert summary.class_dirs["all"][NFC].name == NFD


def test_a_folder_name_in_a_legacy_encoding_is_named_not_mangled(tmp_path):
    _dirs(tmp_path, "dogs", "cats")
    legacy = os.fsencode(tmp_path) + b"/caf\xe9"  # Latin-1, not UTF-8
    os.mkdir(legacy)
    with open(legacy + b"/a.png", "wb") as f:
        f.write(png())
    summary = scan_folder(tmp_path)
    assert not summary.ok
    assert any("not UTF-8" in p and "café" in p for p in summary.problems), summary.problems


@pytest.mark.parametrize("name", ["ca\u202ets", "ca\tts", "dog\u200b"])
def test_a_class_name_that_hides_characters_is_a_problem(tmp_path, name):
    summary = scan_folder(_dirs(tmp_path, name, "dogs"))
    assert any("character" in p for p in summary.problems), summary.problems
