"""folder:PATH datasets on synthetic trees: layouts, stratified seeded splits, skips, cache."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio.config import DataConfig
from studio.datasets import decoding as decoding_module
from studio.datasets.dataset import Dataset
from studio.datasets.loader import load_dataset
from studio.datasets.scan import scan_folder
from tests.helpers.image_folders import labels_from_pixels, make_tree, write_images

COUNTS = {"cats": 20, "dogs": 10, "owls": 30}


def load(path, tmp_path, seed=7, **data):
    cfg = DataConfig(dataset=f"folder:{path}", **data)
    return load_dataset(cfg, image_size=16, seed=seed, cache_dir=tmp_path / "cache")


def assert_labels_match_pixels(data: Dataset, counts: dict[str, int]) -> None:
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        np.testing.assert_array_equal(labels_from_pixels(x, data.class_names, counts), y)


def test_flat_folder_is_split_per_class_by_the_fractions(tmp_path):
    root = make_tree(tmp_path / "pets", COUNTS)
    data = load(root, tmp_path, val_fraction=0.1, test_fraction=0.2)
    assert data.class_names == ["cats", "dogs", "owls"]
    assert data.input_size == 16 and data.x_train.shape[1:] == (16, 16, 3)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    counts = data.report.class_counts
    assert counts["val"] == {"cats": 2, "dogs": 1, "owls": 3}
    assert counts["test"] == {"cats": 4, "dogs": 2, "owls": 6}
    assert counts["train"] == {"cats": 14, "dogs": 7, "owls": 21}
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 60
    assert_labels_match_pixels(data, COUNTS)
    assert data.report.skipped == []
    assert "class folders" in data.report.source


def test_same_seed_same_split_and_another_seed_another(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 12, "dogs": 12})
    for i in range(12):  # tell images apart within a class by one pixel
        for cls in ("cats", "dogs"):
            path = root / cls / f"img{i:03d}.png"
            im = Image.open(path).convert("RGB")
            im.putpixel((0, 0), (i * 20, 0, 0))
            im.save(path)
    first = load(root, tmp_path, seed=1, val_fraction=0.25, test_fraction=0.25)
    again = load(root, tmp_path, seed=1, val_fraction=0.25, test_fraction=0.25)
    other = load(root, tmp_path, seed=2, val_fraction=0.25, test_fraction=0.25)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first.split(split)[0], again.split(split)[0])
        np.testing.assert_array_equal(first.split(split)[1], again.split(split)[1])
    assert not np.array_equal(first.x_val, other.x_val)


def test_train_and_test_folders_are_kept_and_val_is_carved_from_train(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "train", {"cats": 20, "dogs": 10})
    make_tree(root / "test", {"cats": 4, "dogs": 3})
    data = load(root, tmp_path, val_fraction=0.1)
    counts = data.report.class_counts
    assert counts["test"] == {"cats": 4, "dogs": 3}
    assert counts["val"] == {"cats": 2, "dogs": 1}
    assert counts["train"] == {"cats": 18, "dogs": 9}
    assert "test: as given in test/" in data.report.notes
    assert_labels_match_pixels(data, {"cats": 1, "dogs": 1})


def test_train_and_val_folders_keep_val_and_carve_test_from_train(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "Training", {"cats": 10, "dogs": 10})
    make_tree(root / "validation", {"cats": 3, "dogs": 2})
    data = load(root, tmp_path, test_fraction=0.2)
    counts = data.report.class_counts
    assert counts["val"] == {"cats": 3, "dogs": 2}
    assert counts["test"] == {"cats": 2, "dogs": 2}
    assert counts["train"] == {"cats": 8, "dogs": 8}


def test_train_val_and_test_folders_are_all_used_as_given(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "train", {"a": 5, "b": 5})
    make_tree(root / "val", {"a": 2, "b": 1})
    make_tree(root / "test", {"a": 1, "b": 3})
    counts = load(root, tmp_path).report.class_counts
    assert counts == {
        "train": {"a": 5, "b": 5},
        "val": {"a": 2, "b": 1},
        "test": {"a": 1, "b": 3},
    }


def test_undecodable_and_foreign_files_are_reported_not_fatal(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 6, "dogs": 6})
    (root / "cats" / "fake.jpg").write_text("I am a text file with a .jpg name")
    jpeg = write_images(root / "dogs", 1, (1, 2, 3), ext=".jpg", size=(64, 64))[0]
    whole = jpeg.read_bytes()
    (root / "dogs" / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    jpeg.unlink()
    (root / "dogs" / "notes.txt").write_text("shot in 2019")
    data = load(root, tmp_path)
    reasons = {os.path.basename(p): r for p, r in data.report.skipped}
    assert reasons == {
        "fake.jpg": "not an image (PIL could not identify it)",
        "cut.jpg": "truncated file",
        "notes.txt": "not an image file type (extension '.txt')",
    }
    assert sum(sum(c.values()) for c in data.report.class_counts.values()) == 12


def test_hidden_files_macos_droppings_case_and_nesting(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 3, "dogs": 3})
    write_images(root / "cats" / "2019" / "summer", 2, (250, 10, 10), ext=".PNG")
    write_images(root / "__MACOSX" / "cats", 4, (0, 0, 0))
    write_images(root / ".thumbnails", 4, (0, 0, 0))
    (root / "cats" / "._img000.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / "dogs" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    summary = scan_folder(root)
    assert summary.class_names == ["cats", "dogs"]
    assert summary.counts == {"all": {"cats": 5, "dogs": 3}}
    assert summary.unsupported == [] and summary.problems == []
    data = load(root, tmp_path, val_fraction=0.0, test_fraction=0.0)
    assert len(data.y_train) == 8 and data.report.skipped == []


def test_limit_keeps_class_proportions_of_the_training_images(tmp_path):
    root = make_tree(tmp_path / "pets", COUNTS)
    data = load(root, tmp_path, limit=21, val_fraction=0.0, test_fraction=0.0)
    assert data.report.class_counts["train"] == {"cats": 7, "dogs": 4, "owls": 10}
    assert any("limit=21" in note for note in data.report.notes)


def test_second_load_comes_from_the_cache_with_its_skip_list(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "pets", {"cats": 5, "dogs": 5})
    (root / "dogs" / "broken.png").write_bytes(b"not a png at all")
    first = load(root, tmp_path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although nothing changed")

    monkeypatch.setattr(decoding_module, "_decode_all", no_decoding)
    second = load(root, tmp_path)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert second.report.skipped == first.report.skipped and len(first.report.skipped) == 1

    write_images(root / "cats", 6, (250, 10, 10))  # one more cat: the cache must not match
    with pytest.raises(AssertionError, match="decoded again"):
        load(root, tmp_path)
    monkeypatch.undo()
    third = load(root, tmp_path, val_fraction=0.0, test_fraction=0.0)
    assert third.report.class_counts["train"]["cats"] == 6
    assert len(list((tmp_path / "cache").glob("folder-pets-*.npz"))) == 1  # old entry pruned


def test_scan_folder_counts_and_samples_without_decoding(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "train", {"cats": 9, "dogs": 2})
    make_tree(root / "test", {"cats": 1})
    (root / "train" / "dogs" / "fake.png").write_text("scan does not decode")
    summary = scan_folder(root)
    assert summary.ok and summary.layout == "split"
    assert summary.counts == {"train": {"cats": 9, "dogs": 3}, "test": {"cats": 1}}
    assert summary.total_images == 13
    assert len(summary.samples["cats"]) == 4 and len(summary.samples["dogs"]) == 3
    assert all(p.parent.name == "cats" for p in summary.samples["cats"])
    assert "test/ has no images of: dogs" in summary.notes


def test_scan_folder_and_the_loaders_do_not_import_keras():
    code = (
        "import sys; import studio.datasets.loader, studio.datasets.images; "
        "from studio.datasets.scan import scan_folder; scan_folder('.'); "
        "bad = [m for m in ('keras', 'tensorflow', 'sklearn') if m in sys.modules]; "
        "assert not bad, bad"
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)
