"""List a folder of class subfolders without decoding anything: classes, counts, samples.

The UI shows this before training, so it must stay cheap and import neither keras nor the
decoder. A folder is either flat (`PATH/<class>/...`) or split (`PATH/train/<class>/...` with
`test/` and/or `val/` beside `train/`); images may sit in nested folders below a class.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {
        ".bmp",
        ".gif",
        ".jfif",
        ".jpe",
        ".jpeg",
        ".jpg",
        ".pbm",
        ".pgm",
        ".png",
        ".pnm",
        ".ppm",
        ".tif",
        ".tiff",
        ".webp",
    }
)
SPLIT_FOLDERS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
# Archive and OS droppings that are never data.
_IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}
ALL = "all"


@dataclass
class FolderSummary:
    """What a class-folder dataset holds, found by listing files only.

    Args:
        root: the folder, resolved.
        layout: `flat` (class folders in root), `split` (train/ plus val/ or test/) or
            `invalid` (root missing or not usable).
        split_dirs: split name (`train`, `val`, `test`; `all` when flat) -> its folder.
        class_names: sorted class folder names (for a split layout, those under train/).
        counts: split name -> class name -> number of image files.
        samples: class name -> a few image paths spread through the class, for previews.
        files: split name -> class name -> all image paths, sorted.
        unsupported: (path, reason) for files inside class folders that are not images.
        problems: why this folder cannot become a dataset; empty when it can.
        notes: things worth knowing that do not stop training.
    """

    root: Path
    layout: str
    split_dirs: dict[str, Path] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: dict[str, list[Path]] = field(default_factory=dict)
    files: dict[str, dict[str, list[Path]]] = field(default_factory=dict, repr=False)
    unsupported: list[tuple[str, str]] = field(default_factory=list, repr=False)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_images(self) -> int:
        return sum(sum(per_class.values()) for per_class in self.counts.values())

    @property
    def training_split(self) -> str:
        """`train` for a split layout, `all` for a flat one."""
        return "train" if self.layout == "split" else ALL


def scan_folder(path: str | Path, samples_per_class: int = 4) -> FolderSummary:
    """Describe the dataset a folder of class subfolders would make, listing files only."""
    root = Path(path).expanduser()
    if not root.is_dir():
        problem = (
            f"{root} is a file, not a folder" if root.exists() else f"folder {root} does not exist"
        )
        return FolderSummary(root=root, layout="invalid", problems=[problem])
    root = root.resolve()
    subdirs = _visible_dirs(root)
    split_dirs, problems = _split_dirs(root, subdirs)
    if "train" in split_dirs:
        summary = FolderSummary(root=root, layout="split", split_dirs=split_dirs)
        others = [d.name for d in subdirs if d not in split_dirs.values()]
        if others:
            summary.notes.append(
                f"ignored folder(s) beside {split_dirs['train'].name}/: {', '.join(others)}"
            )
    elif split_dirs:
        names = ", ".join(f"{d.name}/" for d in split_dirs.values())
        problems.append(f"{root} has {names} but no train/ folder beside it")
        return FolderSummary(root=root, layout="invalid", split_dirs=split_dirs, problems=problems)
    else:
        summary = FolderSummary(root=root, layout="flat", split_dirs={ALL: root})
    summary.problems.extend(problems)
    for split, split_dir in summary.split_dirs.items():
        summary.files[split] = _list_classes(split_dir, summary)
    training = summary.training_split
    summary.class_names = sorted(summary.files[training])
    summary.counts = {
        split: {c: len(paths) for c, paths in sorted(per_class.items())}
        for split, per_class in summary.files.items()
    }
    summary.samples = {
        c: _spread(summary.files[training][c], samples_per_class) for c in summary.class_names
    }
    _check_classes(summary)
    return summary


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in _IGNORED_NAMES


def _visible_dirs(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(
            Path(e.path) for e in entries if _visible(e.name) and e.is_dir(follow_symlinks=True)
        )


def _split_dirs(root: Path, subdirs: list[Path]) -> tuple[dict[str, Path], list[str]]:
    found: dict[str, Path] = {}
    problems: list[str] = []
    for folder in subdirs:
        split = SPLIT_FOLDERS.get(folder.name.lower())
        if split is None:
            continue
        if split in found:
            problems.append(
                f"{root} has both {found[split].name}/ and {folder.name}/ for the {split} split: "
                "keep one"
            )
            continue
        found[split] = folder
    return found, problems


def _list_classes(split_dir: Path, summary: FolderSummary) -> dict[str, list[Path]]:
    classes: dict[str, list[Path]] = {}
    for class_dir in _visible_dirs(split_dir):
        images, others = _list_images(class_dir)
        classes[class_dir.name] = images
        summary.unsupported.extend(others)
    loose = [p for p in _files_directly_in(split_dir) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if loose and classes:
        summary.notes.append(
            f"ignored {len(loose)} image(s) directly in {split_dir} (not in a class folder)"
        )
    elif loose:
        summary.problems.append(
            f"{split_dir} holds {len(loose)} image(s) but no class folders: put each class's "
            f"images in its own subfolder, e.g. {split_dir / 'cats' / loose[0].name}"
        )
    return classes


def _files_directly_in(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return [Path(e.path) for e in entries if _visible(e.name) and e.is_file()]


def _list_images(class_dir: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    images: list[Path] = []
    others: list[tuple[str, str]] = []
    for current, dirnames, filenames in os.walk(class_dir, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        for name in filenames:
            if not _visible(name):
                continue
            path = Path(current) / name
            suffix = path.suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                kind = f"extension '{suffix}'" if suffix else "no file extension"
                others.append((str(path), f"not an image file type ({kind})"))
    images.sort()
    return images, others


def _spread(paths: list[Path], k: int) -> list[Path]:
    if k <= 0:
        return []
    if len(paths) <= k:
        return list(paths)
    step = len(paths) / k
    return [paths[int(i * step)] for i in range(k)]


def _check_classes(summary: FolderSummary) -> None:
    training = summary.training_split
    train_dir = summary.split_dirs[training]
    names = summary.class_names
    if len(names) < 2 and not any("no class folders" in p for p in summary.problems):
        found = f": {train_dir / names[0]}" if names else f" in {train_dir}"
        summary.problems.append(f"needs at least 2 class folders, found {len(names)}{found}")
    for name in names:
        if not summary.files[training][name]:
            folder = train_dir / name
            others = [p for p, _ in summary.unsupported if Path(p).is_relative_to(folder)]
            extra = f" ({len(others)} other file(s), e.g. {Path(others[0]).name})" if others else ""
            summary.problems.append(f"class folder {folder} has no image files{extra}")
    for split, per_class in summary.files.items():
        if split == training:
            continue
        split_dir = summary.split_dirs[split]
        for name in sorted(set(per_class) - set(names)):
            summary.problems.append(
                f"class folder {split_dir / name} has no counterpart in {train_dir}: "
                "the model could never learn it"
            )
        missing = [n for n in names if not per_class.get(n)]
        if missing:
            summary.notes.append(f"{split_dir.name}/ has no images of: {', '.join(missing)}")
