"""What the Train page shows about a dataset before training: class counts and a few images.

Folders are listed with `scan_folder`, each image's header read (no decoding): files that
would not decode are listed as skipped with their reasons and not counted, and classes too
small for the split are named. Built-in datasets are described from
what is known about them, with sample images when they are already on disk. Nothing here
imports keras, and nothing downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.config.datasets import folder_of
from studio.config.schema import DataConfig
from studio.datasets.catalog import (
    ARCHIVES,
    DIGITS_QUICK_RUN,
    cifar_cache_file,
    flowers_folder,
)
from studio.datasets.digits import digits_uint8
from studio.datasets.scan import scan_folder
from studio.datasets.small_classes import folder_small_classes

SAMPLE_SIDE = 96
# (title, official train images per class, official test images per class, note)
_BUILTIN_FACTS = {
    "cifar10": ("CIFAR-10", 5000, 1000, "32×32 photos, 10 classes. Downloads 163 MB on first use."),
    "cifar100": (
        "CIFAR-100",
        500,
        100,
        "32×32 photos, 100 classes. Downloads 161 MB on first use.",
    ),
    "tf_flowers": (
        "TF Flowers",
        None,
        None,
        "3,670 photos, 5 classes. Downloads 220 MB on first use.",
    ),
    "digits": (
        "Digits",
        None,
        None,
        f"scikit-learn's 1,797 handwritten 8×8 digits. Offline; a run takes {DIGITS_QUICK_RUN}.",
    ),
}
_SPLIT_ORDER = {"all": 0, "train": 1, "val": 2, "test": 3}
_FLOWER_COUNTS = {"daisy": 633, "dandelion": 898, "roses": 641, "sunflowers": 699, "tulips": 799}


@dataclass
class Sample:
    """One preview image: a file to decode, or pixels already in memory."""

    label: str
    path: Path | None = None
    pixels: np.ndarray | None = None


@dataclass
class DatasetPreview:
    """Class counts per split, sample images, and anything that stops or qualifies training."""

    title: str
    note: str = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def class_names(self) -> list[str]:
        names: list[str] = []
        for per_class in self.counts.values():
            names += [c for c in per_class if c not in names]
        return names

    def count_rows(self) -> list[dict]:
        """One row per class with a column per split, for a table or a bar chart."""
        splits = list(self.counts)
        return [
            {"class": name, **{split: self.counts[split].get(name, 0) for split in splits}}
            for name in self.class_names
        ]


def preview_folder(
    path: str | Path,
    max_samples: int = 10,
    val_fraction: float = DataConfig.val_fraction,
    test_fraction: float = DataConfig.test_fraction,
) -> DatasetPreview:
    """Scan a class-folder dataset and pick one sample per class, up to `max_samples`; the
    fractions are those the small-class check assumes (the config's defaults unless given)."""
    summary = scan_folder(path, check_images=True)
    preview = DatasetPreview(
        title=str(summary.root),
        counts={
            "images" if split == "all" else split: summary.counts[split]
            for split in sorted(summary.counts, key=_SPLIT_ORDER.get)
        },
        problems=list(summary.problems),
        notes=list(summary.notes),
        skipped=list(summary.unsupported) + list(summary.rejected),
    )
    if summary.ok:
        small = folder_small_classes(summary, val_fraction, test_fraction)
        if small:
            preview.notes.append(small)
    if summary.layout == "flat":
        preview.note = "No train/ or test/ folders: validation and test images are carved out."
    for name in summary.class_names[:max_samples]:
        paths = summary.samples.get(name) or []
        if paths:
            preview.samples.append(Sample(name, path=paths[0]))
    return preview


def preview_builtin(name: str, cache_dir: Path, max_samples: int = 10) -> DatasetPreview:
    """Describe a built-in dataset; sample images only when its data is already local."""
    title, per_train, per_test, note = _BUILTIN_FACTS[name]
    preview = DatasetPreview(title=title, note=note)
    if name == "digits":
        images, labels = digits_uint8()
        classes = [str(d) for d in range(10)]
        preview.counts = {"images": {c: int((labels == i).sum()) for i, c in enumerate(classes)}}
        preview.note = note + " Validation and test images are carved out (10% each)."
        for digit in range(min(10, max_samples)):
            first = int(np.flatnonzero(labels == digit)[0])
            preview.samples.append(Sample(str(digit), pixels=images[first]))
        return preview
    if name in ARCHIVES:
        classes = ARCHIVES[name].classes
        preview.counts = {
            "train": dict.fromkeys(classes, per_train),
            "test": dict.fromkeys(classes, per_test),
        }
        preview.note = note.replace(" Downloads", " Validation is carved from train. Downloads")
        cached = _cifar_samples(cifar_cache_file(cache_dir, name), classes, max_samples)
        if cached:
            preview.samples = cached
            preview.note = preview.note.split(" Downloads")[0] + " Already downloaded."
        return preview
    folder = flowers_folder(cache_dir)
    if folder.is_dir():
        found = preview_folder(folder, max_samples)
        found.title, found.note = title, note.split(" Downloads")[0] + " Already downloaded."
        return found
    preview.counts = {"images": dict(_FLOWER_COUNTS)}
    return preview


def preview_dataset(dataset: str, cache_dir: Path) -> DatasetPreview:
    """Preview any dataset name the config accepts."""
    folder = folder_of(dataset)
    if folder is not None:
        return preview_folder(folder)
    if dataset in _BUILTIN_FACTS:
        return preview_builtin(dataset, cache_dir)
    return DatasetPreview(title=dataset, problems=[f"unknown dataset '{dataset}'"])


def load_sample(sample: Sample, side: int = SAMPLE_SIDE) -> np.ndarray | None:
    """The sample's pixels at `side` px through the studio's decoder; None if unreadable."""
    from PIL import Image

    from studio.datasets.images import ImageDecodeError, decode_image

    try:
        if sample.pixels is not None:
            # Nearest keeps tiny images (8 px digits) crisp instead of blurring them.
            image = Image.fromarray(sample.pixels).resize((side, side), Image.Resampling.NEAREST)
            return np.asarray(image.convert("RGB"))
        return decode_image(sample.path, size=side)
    except (ImageDecodeError, OSError, ValueError):
        return None


def _cifar_samples(cache_file: Path, classes: list[str], max_samples: int) -> list[Sample]:
    if not cache_file.is_file():
        return []
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            labels = data["y_test"]
            images = data["x_test"]
    except Exception:  # a half-written cache only costs the preview
        return []
    samples = []
    for index, name in enumerate(classes[:max_samples]):
        hits = np.flatnonzero(labels == index)
        if hits.size:
            samples.append(Sample(name, pixels=images[int(hits[0])]))
    return samples


# -- captioning datasets -------------------------------------------------------------------

SHAPES_NOTE = (
    "Scenes of one or two shapes in four colours that the studio draws itself (6,000 at "
    "64 px, seeded), each with its 3 or 4 true captions. Offline; caption-quick learns it in "
    "minutes on a CPU."
)


@dataclass
class CaptionPreview:
    """What the Train page shows about a captioning dataset before training.

    `images` and `captions` count what the caption file lists (before decoding); `samples`
    are labelled with their first caption; `problems` stop a run, `notes` (dropped captions,
    images without any) do not.
    """

    title: str
    note: str = ""
    images: int = 0
    captions: int = 0
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def preview_captions(dataset: str, max_samples: int = 5) -> CaptionPreview:
    """Describe `shapes`, `folder:PATH` (captions.csv / .jsonl) or `coco:PATH` from its caption
    file alone (nothing decoded but the samples, later)."""
    from studio.config.datasets import coco_of
    from studio.datasets.errors import DatasetError

    if dataset == "shapes":
        from studio.datasets.shapes import SIZES, generate_shapes

        scenes = generate_shapes(max_samples)
        return CaptionPreview(
            title="Shapes",
            note=SHAPES_NOTE,
            images=SIZES["default"],
            samples=[
                Sample(captions[0], pixels=image)
                for image, captions in zip(scenes.images, scenes.captions, strict=True)
            ],
        )
    coco, folder = coco_of(dataset), folder_of(dataset)
    try:
        if coco:
            from studio.datasets.coco import read_coco

            listing = read_coco(coco)
        elif folder:
            from studio.datasets.caption_folder import read_caption_folder

            listing = read_caption_folder(folder)
        else:
            return CaptionPreview(dataset, problems=[f"'{dataset}' is not a captioning dataset"])
    except DatasetError as err:
        return CaptionPreview(dataset, problems=[str(err)])
    preview = CaptionPreview(
        title=listing.source,
        images=len(listing.paths),
        captions=sum(len(c) for c in listing.captions),
        notes=list(listing.notes),
        skipped=list(listing.skipped),
    )
    if not listing.paths:
        found = listing.problems.summary() or "its caption file lists no images"
        preview.problems.append(f"no image with a usable caption: {found}")
        return preview
    summary = listing.problems.summary()
    if summary:
        preview.notes.insert(0, f"Left out, not fatal: {summary}.")
    preview.samples = [
        Sample(captions[0], path=path)
        for path, captions in zip(
            listing.paths[:max_samples], listing.captions[:max_samples], strict=True
        )
    ]
    return preview
