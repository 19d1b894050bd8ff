"""List a folder of class subfolders without decoding anything: classes, counts, samples.

The UI shows this before training, so it must stay cheap and import neither keras nor the
decoder. A folder is either flat (`PATH/<class>/...`) or split (`PATH/train/<class>/...` with
`test/` and/or `val/` beside `train/`); images may sit in nested folders below a class.

A class is named by its folder in one spelling (Unicode NFC): folders whose names differ only
by case or Unicode form, names that are not UTF-8, and names with control or invisible
characters are problems, not look-alike classes. With `check_images`, each image's header is
read (`studio.datasets.probe`, imported only then) and files that would not decode are listed
as rejected instead of counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.datasets.names import hidden_characters, how_alike, lookalike_key, nfc, shown, undecoded

# The decoder's ALLOWED_EXTENSIONS, spelled out so that listing a folder never imports Pillow;
# a test keeps the two equal.
IMAGE_EXTENSIONS = frozenset(
    {".bmp", ".gif", ".jfif", ".jpe", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
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
# Header checks per scan: enough for any upload; a larger server folder is checked in part
# (the worker's decoder still catches the rest).
CHECK_LIMIT = 50_000


@dataclass
class FolderSummary:
    """What a class-folder dataset holds, found by listing files only.

    Args:
        root: the folder, resolved.
        layout: `flat` (class folders in root), `split` (train/ plus val/ or test/) or
            `invalid` (root missing or not usable).
        split_dirs: split name (`train`, `val`, `test`; `all` when flat) -> its folder.
        class_names: sorted class names, NFC (for a split layout, those under train/).
        class_dirs: split name -> class name -> its folder as spelled on disk.
        counts: split name -> class name -> number of image files.
        samples: class name -> a few image paths spread through the class, for previews.
        files: split name -> class name -> all image paths, sorted.
        unsupported: (path, reason) for files inside class folders that are not images.
        rejected: (path, reason) for image files whose header says they would not decode
            (only with `check_images`); they are in neither `files` nor `counts`.
        problems: why this folder cannot become a dataset; empty when it can.
        notes: things worth knowing that do not stop training.
    """

    root: Path
    layout: str
    split_dirs: dict[str, Path] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    class_dirs: dict[str, dict[str, Path]] = field(default_factory=dict, repr=False)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: dict[str, list[Path]] = field(default_factory=dict)
    files: dict[str, dict[str, list[Path]]] = field(default_factory=dict, repr=False)
    unsupported: list[tuple[str, str]] = field(default_factory=list, repr=False)
    rejected: list[tuple[str, str]] = field(default_factory=list, repr=False)
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


def scan_folder(
    path: str | Path, samples_per_class: int = 4, check_images: bool = False
) -> FolderSummary:
    """Describe the dataset a folder of class subfolders would make, listing files only
    (and, with `check_images`, reading each image's header)."""
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
        summary.files[split] = _list_classes(split_dir, split, summary)
    if check_images:
        _check_images(summary)
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


def _list_classes(split_dir: Path, split: str, summary: FolderSummary) -> dict[str, list[Path]]:
    classes: dict[str, list[Path]] = {}
    dirs = summary.class_dirs.setdefault(split, {})
    spelled: dict[str, str] = {}
    for class_dir in _visible_dirs(split_dir):
        name = nfc(class_dir.name)
        problem = _name_problem(class_dir)
        if problem:
            summary.problems.append(problem)
            continue
        first = spelled.setdefault(lookalike_key(name), class_dir.name)
        if first != class_dir.name:
            summary.problems.append(
                f"class folders '{shown(first)}' and '{shown(class_dir.name)}' in {split_dir} "
                f"differ only by {how_alike(first, class_dir.name)}, so they would become two "
                "classes that look the same: merge them into one folder or rename one"
            )
            continue
        images, others = _list_images(class_dir)
        classes[name] = images
        dirs[name] = class_dir
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


def _name_problem(class_dir: Path) -> str | None:
    """Why a folder's name cannot name a class: not text, or text that hides characters."""
    legacy = undecoded(class_dir.name)
    if legacy is not None:
        return (
            f"class folder '{shown(class_dir.name)}' in {class_dir.parent} has a name that is not "
            f"UTF-8 (in a legacy encoding it reads '{legacy}'): rename it"
        )
    hidden = hidden_characters(class_dir.name)
    if hidden:
        return f"class folder '{shown(class_dir.name)}' in {class_dir.parent}: {hidden}: rename it"
    return None


def _check_images(summary: FolderSummary) -> None:
    from studio.datasets.probe import image_problem

    budget = CHECK_LIMIT
    unchecked = 0
    for per_class in summary.files.values():
        for name, paths in per_class.items():
            good = []
            for path in paths:
                if budget <= 0:
                    good.append(path)
                    unchecked += 1
                    continue
                budget -= 1
                problem = image_problem(path)
                if problem:
                    summary.rejected.append((str(path), problem))
                else:
                    good.append(path)
            per_class[name] = good
    if unchecked:
        summary.notes.append(
            f"checked the headers of the first {CHECK_LIMIT:,} images only; {unchecked:,} more "
            "are checked when training decodes them"
        )


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
            folder = summary.class_dirs[training][name]
            bad = [(p, r) for p, r in summary.rejected if Path(p).is_relative_to(folder)]
            others = [p for p, _ in summary.unsupported if Path(p).is_relative_to(folder)]
            if bad:
                extra = f": {len(bad)} rejected, e.g. {Path(bad[0][0]).name}: {bad[0][1]}"
                summary.problems.append(f"class folder {folder} has no readable images{extra}")
                continue
            extra = f" ({len(others)} other file(s), e.g. {Path(others[0]).name})" if others else ""
            summary.problems.append(f"class folder {folder} has no image files{extra}")
    for split, per_class in summary.files.items():
        if split == training:
            continue
        split_dir = summary.split_dirs[split]
        for name in sorted(set(per_class) - set(names)):
            summary.problems.append(
                f"class folder {summary.class_dirs[split][name]} has no counterpart in "
                f"{train_dir}: the model could never learn it"
            )
        missing = [n for n in names if not per_class.get(n)]
        if missing:
            summary.notes.append(f"{split_dir.name}/ has no images of: {', '.join(missing)}")
