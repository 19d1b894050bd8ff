"""Captioning datasets from caption folders and COCO files: what each reader reports, where
COCO images are found, and splits that keep every image's captions together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.config import ConfigError, DataConfig, make_config
from studio.datasets.captions import load_captions
from studio.datasets.errors import DatasetError
from studio.datasets.loader import load_caption_dataset
from studio.runs.preflight import preflight

# Each image is one flat colour, and its captions name it: a test can tell from the pixels
# whether an image still carries its own captions after decoding, skipping and splitting.
PALETTE = {"red": (250, 10, 10), "green": (10, 250, 10), "blue": (10, 10, 250)}


def _image(path: Path, colour: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 12), PALETTE[colour]).save(path)


def _colour_of(image: np.ndarray) -> str:
    centre = image[image.shape[0] // 2, image.shape[1] // 2].astype(int)
    return min(PALETTE, key=lambda c: np.abs(np.array(PALETTE[c]) - centre).sum())


def _load(dataset: str, **kw) -> object:
    args = {"input_size": 16, "val_fraction": 0.0, "test_fraction": 0.0, "limit": None, "seed": 0}
    return load_captions(dataset, **(args | kw))


def _caption_folder(root: Path) -> Path:
    """a.png (two captions, a repeat, an empty one), b.png listed but absent, c.png not an
    image, d.png in the folder but never named, e.png with only an empty caption."""
    _image(root / "a.png", "red")
    _image(root / "pics" / "f.png", "blue")
    (root / "c.png").write_bytes(b"not a png at all")
    _image(root / "d.png", "green")
    _image(root / "e.png", "green")
    rows = [
        ("image", "caption"),
        ("a.png", "a red picture"),
        ("./a.png", "  A red   picture. "),  # the same caption, spelled otherwise
        ("a.png", "all of it red"),
        ("a.png", "   "),
        ("b.png", "a missing picture"),
        ("c.png", "a broken picture"),
        ("e.png", ""),
        ("pics/f.png", "a blue picture"),
    ]
    (root / "captions.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    return root


def test_a_csv_folder_reports_each_problem_and_keeps_what_is_usable(tmp_path):
    data = _load(f"folder:{_caption_folder(tmp_path / 'set')}")
    problems = data.report.to_dict()["problems"]
    assert {k: v["count"] for k, v in problems.items()} == {
        "missing_image": 1,
        "unreadable_image": 1,
        "image_without_captions": 2,  # d.png never named, e.png's only caption empty
        "empty_caption": 2,
        "duplicate_caption": 1,
    }
    assert problems["missing_image"]["examples"] == ["b.png"]
    assert sorted(problems["image_without_captions"]["examples"]) == ["d.png", "e.png"]
    skipped = {Path(p).name: r for p, r in data.report.skipped}
    assert set(skipped) == {"b.png", "c.png", "d.png", "e.png"}
    assert "not found" in skipped["b.png"] and "not named in captions.csv" in skipped["d.png"]
    assert sorted(data.names_train) == ["a.png", "pics/f.png"]
    for image, captions, name in zip(
        data.x_train, data.captions_train, data.names_train, strict=True
    ):
        assert _colour_of(image) in captions[0]
        if name == "a.png":
            assert captions == ["a red picture", "all of it red"]
    assert data.x_train.shape == (2, 16, 16, 3) and data.x_train.dtype == np.uint8


def test_a_jsonl_folder_takes_caption_and_captions_and_counts_bad_lines(tmp_path):
    root = tmp_path / "set"
    _image(root / "a.png", "red")
    _image(root / "b.png", "green")
    lines = [
        json.dumps({"image": "a.png", "caption": "a red square"}),
        json.dumps({"image": "b.png", "captions": ["green all over", "a green card", ""]}),
        "{not json",
        json.dumps({"caption": "whose?"}),
        "",
    ]
    (root / "captions.jsonl").write_text("\n".join(lines))
    data = _load(f"folder:{root}")
    by_name = dict(zip(data.names_train, data.captions_train, strict=True))
    assert by_name == {"a.png": ["a red square"], "b.png": ["green all over", "a green card"]}
    problems = data.report.problems
    assert problems["bad_entry"]["count"] == 2 and problems["empty_caption"]["count"] == 1
    assert "line 3" in problems["bad_entry"]["examples"][0]


def test_a_caption_naming_a_file_outside_the_folder_is_skipped(tmp_path):
    _image(tmp_path / "secret.png", "red")
    root = tmp_path / "set"
    _image(root / "a.png", "green")
    (root / "captions.csv").write_text("image,caption\n../secret.png,a secret\na.png,green\n")
    data = _load(f"folder:{root}")
    assert data.names_train == ["a.png"]
    assert data.report.problems["outside_folder"]["examples"] == ["../secret.png"]


def test_a_folder_without_a_caption_file_or_with_a_bad_header_is_refused(tmp_path):
    root = tmp_path / "set"
    _image(root / "a.png", "red")
    with pytest.raises(DatasetError, match=r"needs captions\.csv"):
        _load(f"folder:{root}")
    (root / "captions.csv").write_text("file,text\na.png,red\n")
    with pytest.raises(DatasetError, match="header image,caption"):
        _load(f"folder:{root}")


def test_nothing_usable_is_one_clear_error(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    (root / "captions.csv").write_text("image,caption\ngone.png,a caption\n")
    with pytest.raises(DatasetError, match="no image with a usable caption: 1 images listed but"):
        _load(f"folder:{root}")


def _coco(path: Path, images: list[tuple[int, str]], captions: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"images": [{"id": i, "file_name": f} for i, f in images], "annotations": captions}
    path.write_text(json.dumps(body))
    return path


def test_a_vizwiz_layout_finds_its_images_in_the_split_folder(tmp_path):
    root = tmp_path / "vizwiz"
    _image(root / "train" / "VizWiz_train_0.jpg", "red")
    _image(root / "train" / "VizWiz_train_1.jpg", "blue")
    _coco(
        root / "annotations" / "train.json",
        [(0, "VizWiz_train_0.jpg"), (1, "VizWiz_train_1.jpg"), (2, "VizWiz_train_2.jpg")],
        [
            {"image_id": 0, "caption": "A red wall.", "is_rejected": False},
            {"image_id": 0, "caption": "buy cheap pills", "is_rejected": True},
            {"image_id": 1, "caption": "A blue sky."},
            {"image_id": 7, "caption": "an orphan caption"},
            {"caption": "no image id"},
        ],
    )
    _coco(root / "annotations" / "val.json", [], [])
    data = _load(f"coco:{root / 'annotations' / 'train.json'}")
    by_name = dict(zip(data.names_train, data.captions_train, strict=True))
    assert by_name == {"VizWiz_train_0.jpg": ["A red wall."], "VizWiz_train_1.jpg": ["A blue sky."]}
    problems = {k: v["count"] for k, v in data.report.problems.items()}
    # VizWiz_train_2.jpg is listed and never written: missing, whatever its captions.
    assert problems == {"missing_image": 1, "rejected_caption": 1, "bad_entry": 2}
    notes = " ".join(data.report.notes)
    assert f"images from {root / 'train'}" in notes and "not read: val.json" in notes
    for image, captions in zip(data.x_train, data.captions_train, strict=True):
        assert _colour_of(image) in captions[0].lower()


def test_a_coco_folder_its_images_folder_and_the_2014_naming_are_found(tmp_path):
    # COCO 2014: annotations/captions_train2014.json, images in train2014/; named by folder.
    coco = tmp_path / "coco"
    _image(coco / "train2014" / "COCO_1.jpg", "green")
    _coco(
        coco / "annotations" / "captions_train2014.json",
        [(1, "COCO_1.jpg")],
        [{"image_id": 1, "caption": "green"}],
    )
    _coco(coco / "annotations" / "captions_val2014.json", [], [])
    data = _load(f"coco:{coco}")
    assert data.names_train == ["COCO_1.jpg"] and _colour_of(data.x_train[0]) == "green"
    # A JSON with an images/ folder beside it.
    flat = tmp_path / "flat"
    _image(flat / "images" / "x.png", "red")
    _coco(flat / "captions.json", [(5, "x.png")], [{"image_id": 5, "caption": "red"}])
    assert _load(f"coco:{flat}").names_train == ["x.png"]


def test_coco_files_that_cannot_be_used_say_why(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ images: [")
    with pytest.raises(DatasetError, match=r"bad\.json is not valid JSON"):
        _load(f"coco:{bad}")
    withheld = _coco(tmp_path / "v" / "test.json", [(1, "x.jpg")], [])
    with pytest.raises(DatasetError, match=r"no captions \(a test split whose captions"):
        _load(f"coco:{withheld}")
    with pytest.raises(DatasetError, match="no such file or folder"):
        _load(f"coco:{tmp_path / 'nowhere.json'}")
    several = tmp_path / "several"
    _coco(several / "a.json", [], [])
    _coco(several / "b.json", [], [])
    with pytest.raises(DatasetError, match="holds several caption files"):
        _load(f"coco:{several}")


def _many(root: Path, n: int) -> Path:
    """n images, image i with three captions no other image has, in captions.jsonl."""
    lines = []
    for i in range(n):
        colour = list(PALETTE)[i % 3]
        _image(root / f"im{i:03d}.png", colour)
        texts = [f"{colour} picture {i}", f"picture {i} is {colour}", f"number {i} {colour}"]
        lines.append(json.dumps({"image": f"im{i:03d}.png", "captions": texts}))
    (root / "captions.jsonl").write_text("\n".join(lines))
    return root


def test_a_split_keeps_every_image_with_all_its_captions(tmp_path):
    root = _many(tmp_path / "set", 60)
    cfg = DataConfig(dataset=f"folder:{root}", val_fraction=0.2, test_fraction=0.1)
    data = load_caption_dataset(cfg, image_size=16, seed=4, cache_dir=tmp_path / "cache")
    sizes = {s: len(data.split(s)[0]) for s in ("train", "val", "test")}
    assert sizes == {"train": 42, "val": 12, "test": 6}
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        images, captions = data.split(split)
        for image, texts, name in zip(
            images, captions, getattr(data, f"names_{split}"), strict=True
        ):
            i = int(name[2:5])
            assert len(texts) == 3 and all(f" {i}" in t for t in texts)  # all three, its own
            assert _colour_of(image) == list(PALETTE)[i % 3]
            assert name not in seen
            seen[name] = split
    assert len(seen) == 60
    counts = data.report.to_dict()["counts"]
    assert counts["val"] == {"images": 12, "captions": 36}
    again = load_caption_dataset(cfg, image_size=16, seed=4, cache_dir=tmp_path / "cache")
    assert again.names_val == data.names_val
    other = load_caption_dataset(cfg, image_size=16, seed=5, cache_dir=tmp_path / "cache")
    assert set(other.names_val) != set(data.names_val)


def test_the_limit_keeps_that_many_training_images_and_says_so(tmp_path):
    root = _many(tmp_path / "set", 30)
    cfg = DataConfig(dataset=f"folder:{root}", val_fraction=0.1, test_fraction=0.1, limit=10)
    data = load_caption_dataset(cfg, image_size=16, seed=0)
    assert len(data.x_train) == 10 and len(data.captions_train) == 10
    assert len(data.x_val) == 3 and len(data.x_test) == 3
    assert any("limit=10: kept 10 of 24" in n for n in data.report.notes)


def test_shapes_load_split_by_image_at_the_input_size():
    data = load_caption_dataset(DataConfig(dataset="shapes", input_size=32), image_size=64, seed=1)
    assert data.name == "shapes" and data.input_size == 32
    assert data.x_train.shape == (4_800, 32, 32, 3)
    assert len(data.x_val) == len(data.x_test) == 600
    assert not set(data.names_train) & (set(data.names_val) | set(data.names_test))
    assert data.report.to_dict()["counts"]["train"]["images"] == 4_800


def test_preflight_checks_a_caption_source_before_a_run_is_queued(tmp_path, monkeypatch):
    root = _many(tmp_path / "set", 3)
    monkeypatch.chdir(tmp_path)
    cfg = preflight(make_config(dataset="folder:set", task="caption"), None)
    assert cfg.data.dataset == f"folder:{root.resolve()}"
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(ConfigError, match=r"needs captions\.csv") as err:
        preflight(make_config(dataset=f"folder:{bare}", task="caption"), None)
    assert err.value.fields == ("data.dataset",)
    missing = tmp_path / "nowhere" / "train.json"
    with pytest.raises(ConfigError, match="no such file or folder"):
        preflight(make_config(dataset=f"coco:{missing}", task="caption"), None)
    empty = _coco(
        tmp_path / "c" / "train.json", [(1, "gone.jpg")], [{"image_id": 1, "caption": "x"}]
    )
    with pytest.raises(ConfigError, match="no image with a usable caption"):
        preflight(make_config(dataset=f"coco:{empty}", task="caption"), None)
    assert preflight(make_config(dataset="shapes", task="caption"), None).data.dataset == "shapes"
