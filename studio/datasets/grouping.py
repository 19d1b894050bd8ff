"""Group keys of folder datasets: which patient, writer or session each image comes from.

`data.group_by` is either a regular expression with one capture group, searched in each
file's path below its class folder (`AD/patient07_scan3.png` is searched as
`patient07_scan3.png`), or `csv:PATH`, a CSV with columns `file,group` (file relative to the
dataset folder, e.g. `train/AD/patient07_scan3.png`). Every image needs a group: a pattern
that misses files or a CSV that lacks them is refused, not guessed at, since a guessed group
is exactly how a patient ends up on both sides of a split. Files only, nothing decoded: the
pre-flight runs the same checks before a run is queued.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.config.schema import GROUP_CSV_PREFIX
from studio.datasets.errors import DatasetError
from studio.datasets.scan import FolderSummary
from studio.datasets.splits import GroupSplitError, check_groupable

_EXAMPLES = 3


class GroupKeyError(DatasetError):
    """`data.group_by` cannot give every image a group; the message names it and why."""


@dataclass
class FileGroups:
    """The group of every image file of a folder dataset.

    Args:
        groups: image path (as the scan lists it) -> group name.
        description: how the groups were found, for the report: `pattern '...'` or `CSV PATH`.
        notes: things worth knowing that did not stop anything (CSV rows naming other files).
    """

    groups: dict[Path, str]
    description: str
    notes: list[str] = field(default_factory=list)


def resolve_csv(group_by: str, root: Path) -> Path | None:
    """The absolute path of a `csv:PATH` key (as given, else inside the dataset folder), or
    None for a pattern. Raises GroupKeyError when neither place holds the file."""
    if not group_by.startswith(GROUP_CSV_PREFIX):
        return None
    raw = Path(group_by[len(GROUP_CSV_PREFIX) :].strip()).expanduser()
    for candidate in (raw, root / raw) if not raw.is_absolute() else (raw,):
        if candidate.is_file():
            return candidate.resolve()
    where = str(raw) if raw.is_absolute() else f"{raw.resolve()} nor {root / raw}"
    raise GroupKeyError(f"data.group_by='{group_by}': no CSV file at {where}")


def file_groups(group_by: str, summary: FolderSummary) -> FileGroups:
    """Every image of `summary` with its group; GroupKeyError when any image has none."""
    csv_path = resolve_csv(group_by, summary.root)
    if csv_path is not None:
        return _csv_groups(group_by, csv_path, summary)
    return _pattern_groups(group_by, summary)


def check_folder_groups(
    group_by: str, summary: FolderSummary, val_fraction: float, test_fraction: float
) -> FileGroups:
    """The pre-flight's question: can this folder be split by these groups? (files only)

    Raises GroupKeyError for images without a group and for too few groups to carve the
    splits the folder lacks.
    """
    found = file_groups(group_by, summary)
    training = summary.training_split
    fractions = [
        val_fraction if "val" not in summary.split_dirs else 0.0,
        test_fraction if "test" not in summary.split_dirs else 0.0,
    ]
    labels, groups = [], []
    for label, name in enumerate(summary.class_names):
        paths = summary.files[training].get(name, [])
        labels += [label] * len(paths)
        groups += [found.groups[p] for p in paths]
    try:
        check_groupable(np.array(labels), np.array(groups, dtype=str), fractions)
    except GroupSplitError as err:
        raise split_error(group_by, found, summary, val_fraction, test_fraction, err) from None
    return found


def split_error(
    group_by: str,
    found: FileGroups,
    summary: FolderSummary,
    val_fraction: float,
    test_fraction: float,
    err: GroupSplitError,
) -> GroupKeyError:
    """A GroupSplitError in the config's words: the key, the fractions, what to change."""
    asked = [f"data.{s}_fraction={f}" for s, f in (("val", val_fraction), ("test", test_fraction))]
    given = [s for s in ("val", "test") if s in summary.split_dirs]
    carved = ", ".join(a for a, s in zip(asked, ("val", "test"), strict=True) if s not in given)
    hint = (
        "when the group is the class itself (writer identification: one writer per class), "
        "group by what lies inside a class instead, such as the page or session, or leave "
        "data.group_by unset"
        if "single group" in str(err)
        else "add groups, set a fraction to 0, or leave data.group_by unset"
    )
    return GroupKeyError(
        f"data.group_by='{group_by}' ({found.description}, {carved}): {err}; {hint}"
    )


def _below_class(summary: FolderSummary) -> dict[Path, str]:
    """Each image's path below its class folder, as the pattern sees it (always with `/`)."""
    seen: dict[Path, str] = {}
    for split, per_class in summary.files.items():
        for name, paths in per_class.items():
            class_dir = summary.class_dirs[split][name]  # as spelled on disk, not NFC
            for path in paths:
                seen[path] = path.relative_to(class_dir).as_posix()
    return seen


def _pattern_groups(group_by: str, summary: FolderSummary) -> FileGroups:
    pattern = re.compile(group_by)
    groups: dict[Path, str] = {}
    missed: list[Path] = []
    below = _below_class(summary)
    for path, text in below.items():
        match = pattern.search(text)
        if match and match.group(1):
            groups[path] = match.group(1)
        else:
            missed.append(path)
    if missed:
        total = len(groups) + len(missed)
        examples = ", ".join(_relative(p, summary.root) for p in missed[:_EXAMPLES])
        how = "no image" if not groups else f"{len(groups)} of {total} images"
        raise GroupKeyError(
            f"data.group_by='{group_by}' matches {how}; every image needs a group, and these "
            f"have none: {examples}{' ...' if len(missed) > _EXAMPLES else ''} (the pattern is "
            "searched in the path below the class folder, e.g. "
            f"'{below[missed[0]]}', and its capture group names the group)"
        )
    return FileGroups(groups, f"pattern '{group_by}'")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def read_group_csv(group_by: str, path: Path) -> dict[str, str]:
    """A `file,group` CSV as {file (posix, relative): group}; GroupKeyError names the flaw."""
    where = f"data.group_by='{group_by}': {path}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise GroupKeyError(f"{where} cannot be read ({err})") from None
    if not rows:
        raise GroupKeyError(f"{where} is empty; it needs a header row: file,group")
    header = [c.strip().lower() for c in rows[0]]
    if "file" not in header or "group" not in header:
        found = ", ".join(c for c in rows[0]) or "nothing"
        raise GroupKeyError(
            f"{where} needs the columns file,group in its first row; it has: {found}"
        )
    file_col, group_col = header.index("file"), header.index("group")
    table: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, group_col):
            raise GroupKeyError(f"{where}, line {line}: {len(row)} column(s), expected file,group")
        name = _normal(row[file_col])
        group = row[group_col].strip()
        if not name or not group:
            missing = "file" if not name else f"group of {name}"
            raise GroupKeyError(f"{where}, line {line}: the {missing} is empty")
        if name in table and table[name] != group:
            raise GroupKeyError(
                f"{where}, lines {lines[name]} and {line}: {name} is in two groups "
                f"({table[name]!r} and {group!r})"
            )
        table[name], lines[name] = group, line
    if not table:
        raise GroupKeyError(f"{where} has a header but no rows")
    return table


def _normal(name: str) -> str:
    """A CSV's file cell as a posix path relative to the dataset folder."""
    text = name.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def _csv_groups(group_by: str, path: Path, summary: FolderSummary) -> FileGroups:
    table = read_group_csv(group_by, path)
    groups: dict[Path, str] = {}
    unlisted: list[str] = []
    for image in _below_class(summary):
        name = _relative(image, summary.root)
        if name in table:
            groups[image] = table[name]
        else:
            unlisted.append(name)
    used = {_relative(p, summary.root) for p in groups}
    strangers = [name for name in table if name not in used]
    if unlisted:
        examples = ", ".join(unlisted[:_EXAMPLES]) + (" ..." if len(unlisted) > _EXAMPLES else "")
        hint = (
            f" (none of its {len(table)} row(s) names an image of the dataset, e.g. "
            f"{strangers[0]}: files are relative to the dataset folder {summary.root})"
            if not groups
            else ""
        )
        raise GroupKeyError(
            f"data.group_by='{group_by}': {len(unlisted)} of {len(unlisted) + len(groups)} "
            f"images are not in {path.name}, and every image needs a group: {examples}{hint}"
        )
    notes = []
    if strangers:
        notes.append(
            f"{path.name}: {len(strangers)} row(s) name files that are not images of the "
            f"dataset, ignored (e.g. {', '.join(strangers[:_EXAMPLES])})"
        )
    return FileGroups(groups, f"CSV {path}", notes)
