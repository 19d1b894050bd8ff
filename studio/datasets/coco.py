"""A COCO-format caption file (COCO, VizWiz, Flickr after conversion) as a CaptionListing.

The file: {"images": [{"id", "file_name"}, ...], "annotations": [{"image_id", "caption"}, ...]}.
`coco:PATH` names the JSON itself or a folder holding it (or holding `annotations/` with it);
of several JSON files the one named like `train` is read.

Where the images are: `file_name` is looked up, in this order, in
  1. the JSON's own folder,
  2. its `images/` subfolder,
  3. the folder of the split's name beside the JSON's folder: VizWiz ships
     `annotations/train.json` with its images in `train/`, COCO 2014
     `annotations/captions_train2014.json` with its images in `train2014/`;
and the first of these that holds most of the first images listed is used for all of them.

One file, one pool: val and test are carved from its images by `data.val_fraction` and
`data.test_fraction` (all captions of an image on one side). A `val.json` beside it is not
read yet: the report says so. VizWiz marks spam captions `is_rejected`: they are dropped
and counted; its `is_precanned` ones ("Quality issues are too severe ...") are true of
their photos and kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.datasets.caption_listing import CaptionListing, ListingBuilder
from studio.datasets.errors import DatasetError

_PROBE = 20  # images looked up in each candidate folder to choose where the images are


def find_coco_file(path: str | Path) -> Path:
    """The caption JSON `coco:PATH` names: the file, or the one a folder holds (directly or in
    `annotations/`; of several, the one named like `train`). DatasetError when there is none."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise DatasetError(f"coco:{path}: no such file or folder")
    for folder in (path, path / "annotations"):
        found = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
        if len(found) == 1:
            return found[0]
        training = [p for p in found if "train" in p.stem.lower()]
        if len(training) == 1:
            return training[0]
        if found:
            names = ", ".join(p.name for p in found[:6])
            raise DatasetError(
                f"coco:{path}: {folder} holds several caption files ({names}); name one, "
                f"e.g. coco:{found[0]}"
            )
    raise DatasetError(
        f"coco:{path}: no COCO caption file (*.json) in {path} or {path / 'annotations'}"
    )


def read_coco(path: str | Path) -> CaptionListing:
    """Every image of a COCO caption file with its captions, checked (see the module)."""
    json_path = find_coco_file(path)
    raw = _load_json(json_path)
    builder = ListingBuilder(json_path.parent, json_path.name)
    file_names = _image_names(raw, builder)
    for entry in raw["annotations"]:
        if not isinstance(entry, dict) or "image_id" not in entry:
            builder.problems.add("bad_entry", f"annotation {_shown(entry)}")
            continue
        name = file_names.get(_key(entry["image_id"]))
        if name is None:
            builder.problems.add("bad_entry", f"caption of unknown image id {entry['image_id']}")
        elif entry.get("is_rejected") is True:
            builder.problems.add("rejected_caption", name)
        else:
            builder.caption(name, entry.get("caption"))
    if not file_names:
        raise DatasetError(f"{json_path} lists no images")
    images = image_folder(json_path, list(file_names.values()))
    builder.folder = images
    notes = [f"captions from {json_path}, images from {images}"]
    others = sorted(p.name for p in json_path.parent.glob("*.json") if p != json_path)
    if others:
        notes.append(
            f"not read: {', '.join(others[:4])} beside it; val and test are carved from "
            f"{json_path.name}'s images"
        )
    listing = builder.build(f"COCO-format captions {json_path}", notes)
    if not listing.paths and listed_without_captions(raw):
        raise DatasetError(
            f"{json_path} lists {len(file_names):,} images and no captions (a test split whose "
            "captions are withheld?); use the training file, e.g. train.json"
        )
    return listing


def image_folder(json_path: Path, file_names: list[str]) -> Path:
    """The folder the images of `json_path` are in (see the module), by looking up the first
    few; the JSON's own folder when none holds any."""
    here = json_path.parent
    split = json_path.stem.removeprefix("captions_")
    candidates = [here, here / "images", here.parent / split, here.parent / json_path.stem]
    probe = file_names[:_PROBE]
    best, hits = here, 0
    for folder in dict.fromkeys(candidates):
        found = sum((folder / name).is_file() for name in probe) if folder.is_dir() else 0
        if found > hits:
            best, hits = folder, found
    return best


def listed_without_captions(raw: dict[str, Any]) -> bool:
    """True when a COCO file has images but not one annotation."""
    return bool(raw.get("images")) and not raw.get("annotations")


def _load_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            raw = json.load(handle)
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text; a COCO caption file is JSON") from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path} is not valid JSON ({err})") from None
    except OSError as err:
        raise DatasetError(f"{path} cannot be read ({err.strerror or err})") from None
    if not isinstance(raw, dict):
        raise DatasetError(
            f"{path}: a COCO caption file is a JSON object with images and annotations"
        )
    for part in ("images", "annotations"):
        if not isinstance(raw.get(part, []), list):
            raise DatasetError(f"{path}: '{part}' must be a list")
    if "images" not in raw:
        raise DatasetError(
            f"{path} has no 'images' list: a COCO caption file holds "
            '{"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}'
        )
    raw.setdefault("annotations", [])
    return raw


def _image_names(raw: dict[str, Any], builder: ListingBuilder) -> dict[str, str]:
    """image id -> file name, in file order; malformed and repeated ids counted."""
    names: dict[str, str] = {}
    for entry in raw["images"]:
        ok = isinstance(entry, dict) and "id" in entry
        file_name = entry.get("file_name") if ok else None
        if not ok or not isinstance(file_name, str) or not file_name.strip():
            builder.problems.add("bad_entry", f"image {_shown(entry)}")
            continue
        key = _key(entry["id"])
        if key in names:
            builder.problems.add("bad_entry", f"image id {entry['id']} listed twice")
            continue
        names[key] = builder.image(file_name.strip())
    return names


def _key(image_id: object) -> str:
    # Ids are ints in COCO and VizWiz; some converters write them as strings.
    return str(image_id)


def _shown(entry: object) -> str:
    text = json.dumps(entry, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
