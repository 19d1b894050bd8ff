"""A folder of images with `captions.csv` or `captions.jsonl` as a CaptionListing.

`captions.csv`: a header row `image,caption`, then one row per caption (an image with five
captions has five rows). `captions.jsonl`: one JSON object per line, `{"image": ..., "caption":
...}` or `{"image": ..., "captions": [...]}`. Image paths are relative to the folder. Image
files in the folder that no row names are reported as images without captions.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from studio.datasets.caption_listing import CaptionListing, ListingBuilder
from studio.datasets.errors import DatasetError
from studio.datasets.scan import IMAGE_EXTENSIONS

CAPTION_FILES = ("captions.csv", "captions.jsonl")
_LISTED_UNNAMED = 100  # image files no row names, listed one by one in the report


def find_caption_file(folder: str | Path) -> Path:
    """The folder's captions.csv or captions.jsonl; DatasetError when it has neither or both."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"folder:{folder}: folder does not exist")
    found = [folder / name for name in CAPTION_FILES if (folder / name).is_file()]
    if not found:
        raise DatasetError(
            f"folder:{folder}: a captioning folder needs captions.csv (header image,caption) "
            'or captions.jsonl ({"image": ..., "caption": ...} per line) beside its images'
        )
    if len(found) > 1:
        raise DatasetError(
            f"folder:{folder} holds both captions.csv and captions.jsonl; keep one of them"
        )
    return found[0]


def read_caption_folder(folder: str | Path) -> CaptionListing:
    """Every captioned image of the folder, checked (see the module)."""
    caption_file = find_caption_file(folder)
    root = caption_file.parent
    builder = ListingBuilder(root, caption_file.name)
    if caption_file.suffix == ".csv":
        _read_csv(caption_file, builder)
    else:
        _read_jsonl(caption_file, builder)
    listed = builder.listed
    unlisted = [p for p in _image_files(root) if p.relative_to(root).as_posix() not in listed]
    for path in unlisted:
        builder.problems.add("image_without_captions", path.relative_to(root).as_posix())
    notes = []
    if len(unlisted) > _LISTED_UNNAMED:
        # The count is in the problems; a folder of 20,000 photos and a CSV naming 100 of
        # them should not make a report of 19,900 lines.
        notes.append(
            f"{len(unlisted):,} image files are not named in {caption_file.name}; the skipped "
            f"list shows the first {_LISTED_UNNAMED}"
        )
    listing = builder.build(f"folder {root} ({caption_file.name})", notes)
    listing.skipped += [
        (str(p), f"not named in {caption_file.name}") for p in unlisted[:_LISTED_UNNAMED]
    ]
    return listing


def _read_csv(path: Path, builder: ListingBuilder) -> None:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle)
            header = [h.strip().lower() for h in next(rows, [])]
            if "image" not in header or "caption" not in header:
                raise DatasetError(
                    f"{path}: the first row must be the header image,caption "
                    f"(found {','.join(header) or 'nothing'})"
                )
            image_at, caption_at = header.index("image"), header.index("caption")
            for line, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue  # blank lines are layout, not entries
                image = row[image_at].strip() if image_at < len(row) else ""
                if not image:
                    builder.problems.add("bad_entry", f"{path.name} line {line}: no image")
                    continue
                builder.caption(image, row[caption_at] if caption_at < len(row) else "")
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
    except csv.Error as err:
        raise DatasetError(f"{path} is not a readable CSV ({err})") from None


def _read_jsonl(path: Path, builder: ListingBuilder) -> None:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                where = f"{path.name} line {line}"
                try:
                    entry = json.loads(text)
                except json.JSONDecodeError as err:
                    builder.problems.add("bad_entry", f"{where}: not JSON ({err.msg})")
                    continue
                image = entry.get("image") if isinstance(entry, dict) else None
                if not isinstance(image, str) or not image.strip():
                    builder.problems.add("bad_entry", f'{where}: no "image"')
                    continue
                if "captions" in entry:
                    texts = entry["captions"]
                    texts = texts if isinstance(texts, list) else [texts]
                else:
                    texts = [entry.get("caption")]
                for caption in texts or [None]:
                    builder.caption(image.strip(), caption)
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text") from None


def _image_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        found += [
            Path(folder) / f
            for f in sorted(files)
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        ]
    return found
