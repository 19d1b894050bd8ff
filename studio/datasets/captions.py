"""A captioning dataset in memory: images as uint8 arrays, each with all of its captions.

Sources: `shapes` (the studio's rendered scenes, `shapes.py`), `coco:PATH` (a COCO-format
caption file, `coco.py`) and `folder:PATH` (images with captions.csv / captions.jsonl,
`caption_folder.py`). Images decode through the studio's one decoder (`decoding.decode_files`,
cached like class folders) at the input size.

Splits are by image: all captions of an image lie in one split, so a test caption is never
a training caption of the same photo. Val and test are carved from the one pool, seeded by
`train.seed`, as shares of all its images; `data.limit` then keeps at most that many training
images (a seeded random subset).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.config.datasets import COCO_PREFIX, FOLDER_PREFIX, coco_of, folder_of
from studio.datasets.caption_listing import CaptionListing, Problems
from studio.datasets.dataset import SPLITS, split_info
from studio.datasets.decoding import Progress, decode_files, resize_all
from studio.datasets.errors import DatasetError
from studio.datasets.shapes import DATASET_SEED, NATIVE_SIZE, SIZES, generate_shapes
from studio.datasets.splits import stratified_partition


@dataclass
class CaptionReport:
    """How a captioning dataset was assembled, for the run folder and the UI.

    Args:
        source: where the images and captions came from, in words.
        counts: split -> {"images": n, "captions": m}.
        problems: kind -> {"count", "examples", "meaning"} (caption_listing.PROBLEMS).
        skipped: (path, reason) for every image left out.
        notes: anything else worth knowing (files used, splits carved, limit applied).
        split: how the splits were made (`dataset.split_info`, method `by-image`).
    """

    source: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: dict[str, Any] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (skipped entries as {"path", "reason"} objects)."""
        return {
            "task": "caption",
            "source": self.source,
            "counts": self.counts,
            "problems": self.problems,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "notes": list(self.notes),
            "split": dict(self.split),
        }


@dataclass
class CaptionDataset:
    """Train / val / test images as uint8 (N, S, S, 3), each row with its captions.

    `captions_<split>[i]` holds every caption of `x_<split>[i]` (at least one), and
    `names_<split>[i]` its file name (a scene number for shapes). Val or test may be empty.
    """

    x_train: np.ndarray = field(repr=False)
    captions_train: list[list[str]] = field(repr=False)
    names_train: list[str] = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    captions_val: list[list[str]] = field(repr=False)
    names_val: list[str] = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    captions_test: list[list[str]] = field(repr=False)
    names_test: list[str] = field(repr=False)
    name: str
    input_size: int
    report: CaptionReport

    def split(self, name: str) -> tuple[np.ndarray, list[list[str]]]:
        """(images, caption lists) of `train`, `val` or `test`."""
        if name not in SPLITS:
            raise ValueError(f"split={name!r} must be one of {', '.join(SPLITS)}")
        return getattr(self, f"x_{name}"), getattr(self, f"captions_{name}")


def load_captions(
    dataset: str,
    *,
    input_size: int,
    val_fraction: float,
    test_fraction: float,
    limit: int | None,
    seed: int,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> CaptionDataset:
    """Load `shapes`, `coco:PATH` or `folder:PATH` at `input_size` and split it by image.

    Problems of single images and captions are reported, not fatal; DatasetError when
    nothing usable is left or a caption file cannot be read at all.
    """
    if dataset == "shapes":
        images, captions, names, source, base = _shapes(input_size)
        problems, skipped, notes = Problems(), [], []
    else:
        listing = _listing(dataset, coco_of(dataset), folder_of(dataset))
        _require_some(listing, dataset)
        decoded = decode_files(
            listing.paths, input_size, cache_dir, cache_name=_cache_name(dataset), progress=progress
        )
        for path, _ in decoded.skipped:
            listing.problems.add("unreadable_image", Path(path).name)
        kept = decoded.kept.tolist()
        if not kept:
            example = decoded.skipped[0]
            raise DatasetError(
                f"data.dataset='{dataset}': none of its {len(listing.paths):,} captioned images "
                f"decodes (e.g. {example[0]}: {example[1]})"
            )
        images = decoded.images
        captions = [listing.captions[i] for i in kept]
        names = [listing.names[i] for i in kept]
        problems, skipped = listing.problems, listing.skipped + decoded.skipped
        source, base, notes = listing.source, dataset, list(listing.notes)
    return _split(
        images,
        captions,
        names,
        name=base,
        input_size=input_size,
        fractions=(val_fraction, test_fraction),
        limit=limit,
        seed=seed,
        report=CaptionReport(
            source=source, problems=problems.to_dict(), skipped=skipped, notes=notes
        ),
    )


def check_caption_source(dataset: str) -> str:
    """`dataset` with its path made absolute, once its caption file is read and at least one
    listed image with a caption exists (nothing is decoded). DatasetError says what is wrong."""
    if dataset == "shapes":
        return dataset
    coco, folder = coco_of(dataset), folder_of(dataset)
    listing = _listing(dataset, coco, folder)
    _require_some(listing, dataset)
    prefix, raw = (COCO_PREFIX, coco) if coco is not None else (FOLDER_PREFIX, folder)
    return f"{prefix}{Path(raw or '').expanduser().resolve()}"


def _listing(dataset: str, coco: str | None, folder: str | None) -> CaptionListing:
    if coco:
        from studio.datasets.coco import read_coco

        return read_coco(coco)
    if folder:
        from studio.datasets.caption_folder import read_caption_folder

        return read_caption_folder(folder)
    raise DatasetError(
        f"data.dataset='{dataset}' is not a captioning dataset; choose shapes, coco:PATH or "
        "folder:PATH (images with captions.csv or captions.jsonl)"
    )


def _require_some(listing: CaptionListing, dataset: str) -> None:
    if listing.paths:
        return
    found = listing.problems.summary() or "its caption file lists no images"
    raise DatasetError(f"data.dataset='{dataset}' has no image with a usable caption: {found}")


def _shapes(input_size: int) -> tuple[np.ndarray, list[list[str]], list[str], str, str]:
    scenes = generate_shapes("default")
    # Rendered at 64 px and resized by the one decoder's resize, as a served 64 px scene would be.
    images = resize_all(scenes.images, input_size)
    names = [f"scene-{i:05d}" for i in range(len(images))]
    source = (
        f"the studio's shapes scenes ({SIZES['default']:,} rendered at {NATIVE_SIZE} px, seed "
        f"{DATASET_SEED}), at {input_size} px"
    )
    return images, scenes.captions, names, source, "shapes"


def _split(
    images: np.ndarray,
    captions: list[list[str]],
    names: list[str],
    *,
    name: str,
    input_size: int,
    fractions: tuple[float, float],
    limit: int | None,
    seed: int,
    report: CaptionReport,
) -> CaptionDataset:
    # One label for all: stratified_partition then cuts whole images at the shares asked, and
    # keeps at least one image for training.
    rng = np.random.default_rng([seed, 0])
    parts = stratified_partition(np.zeros(len(images), np.int64), list(fractions), rng)
    chosen = dict(zip(SPLITS, parts, strict=True))
    val_fraction, test_fraction = fractions
    report.notes.append(
        f"val: {val_fraction:.0%}, test: {test_fraction:.0%} of all images, by image (all "
        f"captions of an image in one split), seed {seed}"
    )
    order = np.random.default_rng([seed, 1])
    if limit is not None and len(chosen["train"]) > limit:
        report.notes.append(
            f"limit={limit}: kept {limit} of {len(chosen['train'])} training images (random)"
        )
        chosen["train"] = np.sort(order.choice(chosen["train"], size=limit, replace=False))
    arrays: dict[str, Any] = {}
    for split in SPLITS:
        index = chosen[split][order.permutation(len(chosen[split]))]
        arrays[f"x_{split}"] = np.ascontiguousarray(images[index], dtype=np.uint8)
        arrays[f"captions_{split}"] = [list(captions[i]) for i in index]
        arrays[f"names_{split}"] = [names[i] for i in index]
        report.counts[split] = {
            "images": len(index),
            "captions": sum(len(captions[i]) for i in index),
        }
    report.split = split_info(
        seed=seed, method="by-image", fractions={"val": val_fraction, "test": test_fraction}
    )
    return CaptionDataset(**arrays, name=name, input_size=input_size, report=report)


def _cache_name(dataset: str) -> str:
    # Readable prefix for people browsing the cache, hashed name so two sources never collide.
    digest = hashlib.sha256(dataset.encode()).hexdigest()[:8]
    stem = Path(dataset.split(":", 1)[-1]).name
    return f"captions-{re.sub(r'[^A-Za-z0-9_.-]+', '_', stem)}-{digest}"
