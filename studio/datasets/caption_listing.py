"""What a caption file lists, checked before any pixel is decoded: every image with its
cleaned captions, and each problem counted with a few examples.

Both readers (`coco.py`, `caption_folder.py`) hand their raw (image name, caption) entries to
`ListingBuilder`, so COCO files and caption folders are checked by the same rules: a caption
that is empty or repeats another of its image is dropped; an image that is not found, lies
outside its folder or is left without captions is skipped. None of these stops a load; the
report says how many there were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.datasets.names import nfc

# Problem kinds, in the order the report lists them, with how a person reads each.
PROBLEMS = {
    "missing_image": "images listed but not found",
    "outside_folder": "image paths outside the dataset folder",
    "unreadable_image": "images that did not decode",
    "image_without_captions": "images without any usable caption",
    "empty_caption": "empty captions",
    "duplicate_caption": "captions repeating another of the same image",
    "rejected_caption": "captions the dataset marks as rejected",
    "bad_entry": "entries that could not be read",
}
_EXAMPLES = 5


@dataclass
class Problems:
    """How often each kind of problem occurred, and its first few examples."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        """Count one problem of `kind` (a key of PROBLEMS); keep `example` among the first."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < _EXAMPLES:
            shown.append(example)

    def to_dict(self) -> dict[str, Any]:
        """{kind: {"count", "examples", "meaning"}} for the kinds that occurred."""
        return {
            kind: {"count": self.counts[kind], "examples": self.examples[kind], "meaning": words}
            for kind, words in PROBLEMS.items()
            if self.counts.get(kind)
        }

    def summary(self) -> str:
        """One line: `3 empty captions (e.g. a.jpg), 1 images listed but not found (...)`."""
        return "; ".join(
            f"{entry['count']} {entry['meaning']} (e.g. {entry['examples'][0]})"
            for entry in self.to_dict().values()
        )


@dataclass
class CaptionListing:
    """Images with their captions, as a caption file lists them, before decoding.

    Args:
        source: where they come from, in words.
        paths: each image's file.
        names: each image's name as the file lists it (relative to its image folder).
        captions: each image's cleaned captions, at least one, no two alike.
        problems: what was dropped or skipped, counted.
        skipped: (path, reason) of each image left out.
        notes: anything else worth knowing (which file and image folder were used).
    """

    source: str
    paths: list[Path]
    names: list[str]
    captions: list[list[str]]
    problems: Problems
    skipped: list[tuple[str, str]]
    notes: list[str]


def clean_caption(text: str) -> str:
    """NFC, whitespace collapsed to single spaces, ends trimmed."""
    return " ".join(nfc(text).split())


def caption_key(text: str) -> str:
    """What two captions must share to count as one: case and a final full stop ignored."""
    return text.casefold().rstrip(" .!")


class ListingBuilder:
    """Collects (image name, caption) entries in file order, then resolves the images."""

    def __init__(self, folder: Path, caption_file: str) -> None:
        self.folder = folder
        self.caption_file = caption_file
        self.problems = Problems()
        self._captions: dict[str, list[str]] = {}
        self._keys: dict[str, set[str]] = {}

    def image(self, name: str) -> str:
        """An image the file lists; it needs at least one caption to be used. Returns the
        name it is kept under: `./a.png` is `a.png`, a Windows `sub\\a.png` is `sub/a.png`."""
        name = Path(name.replace("\\", "/")).as_posix()
        self._captions.setdefault(name, [])
        self._keys.setdefault(name, set())
        return name

    def caption(self, name: str, text: object) -> None:
        """A caption of image `name`; empty and repeated ones are counted and dropped."""
        name = self.image(name)
        cleaned = clean_caption(text) if isinstance(text, str) else ""
        if not cleaned:
            self.problems.add("empty_caption", name)
            return
        key = caption_key(cleaned)
        if key in self._keys[name]:
            self.problems.add("duplicate_caption", f"{name}: {cleaned!r}")
            return
        self._keys[name].add(key)
        self._captions[name].append(cleaned)

    @property
    def listed(self) -> set[str]:
        """Image names the file mentions, with or without captions."""
        return set(self._captions)

    def build(self, source: str, notes: list[str]) -> CaptionListing:
        """Resolve every listed image under the folder; skip the unusable ones."""
        paths, names, captions, skipped = [], [], [], []
        root = self.folder.resolve()
        for name, texts in self._captions.items():
            path = root / name
            if Path(name).is_absolute() or not _inside(path, root):
                self.problems.add("outside_folder", name)
                skipped.append((name, f"outside the image folder {root}"))
            elif not path.is_file():
                self.problems.add("missing_image", name)
                skipped.append((str(path), f"listed in {self.caption_file} but not found"))
            elif not texts:
                self.problems.add("image_without_captions", name)
                skipped.append((str(path), f"no usable caption in {self.caption_file}"))
            else:
                paths.append(path)
                names.append(name)
                captions.append(texts)
        return CaptionListing(source, paths, names, captions, self.problems, skipped, notes)


def _inside(path: Path, root: Path) -> bool:
    # normpath, not resolve: a symlinked image folder is the person's choice, `..` is not.
    return Path(os.path.normpath(path)).is_relative_to(root)
