"""Uploaded zips: class folders are extracted; hostile or oversized archives are refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from studio.datasets.uploads import ExtractLimits, UploadError, dataset_root, extract_upload
from tests.helpers.zips import make_zip, png

PNG = png()  # a real image: every extracted image's header is checked


def test_class_folders_are_extracted_and_clutter_is_listed(tmp_path):
    data = make_zip(
        {
            "cats/a.png": PNG,
            "cats/b.jpg": PNG,
            "dogs/c.png": PNG,
            "dogs/notes.txt": b"hello",
            "__MACOSX/cats/._a.png": b"meta",
            "readme.png": PNG,
        }
    )
    result = extract_upload(data, "pets.zip", tmp_path)
    assert result.files == 3
    assert sorted(p.name for p in result.root.iterdir()) == ["cats", "dogs"]
    assert (result.root / "cats" / "b.jpg").read_bytes() == PNG
    reasons = {r.name: r.reason for r in result.rejected}
    assert "not an image" in reasons["dogs/notes.txt"]
    assert reasons["__MACOSX/cats/._a.png"] == "macOS metadata"
    assert reasons["readme.png"] == "not inside a class folder"


def test_a_zipped_folder_is_unwrapped_to_its_class_folders(tmp_path):
    data = make_zip({"flowers/daisy/1.jpg": PNG, "flowers/rose/2.jpg": PNG})
    result = extract_upload(data, "flowers.zip", tmp_path)
    assert result.root.name == "flowers"
    assert dataset_root(result.root) == result.root


def test_same_bytes_twice_reuse_the_first_extraction(tmp_path):
    data = make_zip({"a/1.png": PNG, "b/2.png": PNG})
    first = extract_upload(data, "x.zip", tmp_path)
    second = extract_upload(io.BytesIO(data), "x.zip", tmp_path)
    assert second.reused and second.root == first.root


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.png", "path traversal"),
        ("cats/../../evil.png", "path traversal"),
        ("/etc/evil.png", "absolute path"),
        ("C:/evil.png", "absolute path"),
        ("cats\\..\\..\\evil.png", "backslashes"),
    ],
)
def test_an_entry_that_escapes_the_folder_refuses_the_whole_zip(tmp_path, name, reason):
    data = make_zip({"cats/a.png": PNG, "dogs/b.png": PNG, name: PNG})
    with pytest.raises(UploadError, match="nothing was extracted, because 1 entry") as caught:
        extract_upload(data, "bad.zip", tmp_path / "uploads")
    assert [r.name for r in caught.value.rejected] == [name]
    assert reason in caught.value.rejected[0].reason
    assert not (tmp_path / "evil.png").exists()
    assert not list((tmp_path / "uploads").glob("bad-*"))


def test_a_symlink_refuses_the_whole_zip(tmp_path):
    data = make_zip(
        {"cats/a.png": PNG, "dogs/b.png": PNG}, links={"cats/passwd.png": "/etc/passwd"}
    )
    with pytest.raises(UploadError) as caught:
        extract_upload(data, "link.zip", tmp_path)
    assert "symbolic link" in caught.value.rejected[0].reason


def test_too_many_files_is_refused(tmp_path):
    data = make_zip({f"c{i % 2}/{i}.png": PNG for i in range(11)})
    with pytest.raises(UploadError, match="11 image files is more than the 10 allowed"):
        extract_upload(data, "many.zip", tmp_path, ExtractLimits(max_files=10))


def test_too_many_bytes_is_refused(tmp_path):
    data = make_zip({"a/1.png": PNG * 10, "b/2.png": PNG * 10})
    with pytest.raises(UploadError, match="more than the"):
        extract_upload(data, "big.zip", tmp_path, ExtractLimits(max_total_bytes=1000))


def test_a_zip_bomb_ratio_is_refused(tmp_path):
    data = make_zip({"a/1.png": bytes(3 * 1024**2), "b/2.png": PNG})
    with pytest.raises(UploadError, match="compression ratio") as caught:
        extract_upload(data, "bomb.zip", tmp_path)
    assert caught.value.rejected[0].name == "a/1.png"


def test_a_lying_size_header_is_caught_while_copying(tmp_path):
    data = bytearray(make_zip({"a/1.png": PNG * 4, "b/2.png": PNG}))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("a/1.png")
    # Shrink the declared size in the central directory only: extraction must not trust it.
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))
    assert data[central + 46 : central + 46 + len(info.filename)] == b"a/1.png"
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    with pytest.raises(UploadError, match=r"damaged|more bytes than it declares"):
        extract_upload(bytes(data), "liar.zip", tmp_path)
    assert not [p for p in Path(tmp_path).iterdir() if not p.name.startswith(".")]


def test_not_a_zip_and_no_images_are_refused_with_reasons(tmp_path):
    with pytest.raises(UploadError, match="not a readable zip"):
        extract_upload(b"not a zip", "x.zip", tmp_path)
    with pytest.raises(UploadError, match="no images inside class folders") as caught:
        extract_upload(make_zip({"a/readme.txt": b"x"}), "empty.zip", tmp_path)
    assert caught.value.rejected[0].name == "a/readme.txt"
