"""Which entries of an uploaded zip are extracted, which are skipped, and what refuses it all.

Judged on what the central directory's bytes say (`studio.datasets.zipdir`), before anything
is written: names that could escape the folder, hide characters or pass for another; links
and devices; encrypted entries and compressions nobody can read; class folders that differ
only by case or Unicode form; more entries, bytes or expansion than the caps allow. Refusals
name every offending entry; harmless clutter is skipped with its reason.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from studio.datasets.names import hidden_characters, how_alike, lookalike_key, shown
from studio.datasets.scan import IMAGE_EXTENSIONS
from studio.datasets.zipdir import RawEntry

# Methods zipfile can inflate: stored, deflate, bzip2, lzma.
_READABLE_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}
_ENCRYPTED = 0x1 | 0x40  # traditional and strong encryption flags; WinZip AES sets bit 0 too
_AES_METHOD = 99


class UploadError(ValueError):
    """The archive as a whole was refused; `rejected` lists the entries that caused it."""

    def __init__(self, message: str, rejected: Iterable[Rejected] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.rejected = list(rejected)


@dataclass(frozen=True)
class Rejected:
    """One archive entry that was not extracted, and why, in plain words."""

    name: str
    reason: str


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that keep a hostile or mistaken upload from filling the disk.

    Args:
        max_files: most image files one archive may hold.
        max_entries: most entries of any kind (read before the directory is parsed).
        max_total_bytes: most bytes all extracted files may take together, as written.
        max_file_bytes: most bytes one extracted file may take.
        max_ratio: highest uncompressed/compressed ratio, for any entry larger than
            `ratio_floor_bytes`, and for the whole archive against its size on disk
            (images barely compress; zip bombs compress 1000x).
        ratio_floor_bytes: entries below this size are too small for their ratio to matter.
        max_depth: most folders an image may sit below the archive's top.
        max_name_bytes: longest entry name (UTF-8 bytes); a folder or file name is also
            limited to the file system's 255 bytes.
    """

    max_files: int = 50_000
    max_entries: int = 100_000
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 64 * 1024**2
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1024**2
    max_depth: int = 16
    max_name_bytes: int = 1024


@dataclass
class Plan:
    """What to extract, what was skipped (with reasons), and notes for the person."""

    keep: list[RawEntry] = field(default_factory=list)
    skipped: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _unsafe_reason(entry: RawEntry) -> str | None:
    """Why writing this entry could escape the target folder, disguise itself or create
    something odd."""
    if b"\x00" in entry.raw_name:
        return "name contains a NUL byte (zip tools would cut the name there)"
    if entry.name_error:
        return f"name {entry.name_error}"
    hidden = hidden_characters(entry.name)
    if hidden:
        return hidden
    name = entry.nfc
    if "\\" in name:
        return "name uses backslashes (a Windows path that could climb out of the folder)"
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "absolute path: it would be written outside the upload folder"
    if ".." in path.parts:
        return "path traversal ('..'): it would be written outside the upload folder"
    # Unix zips keep the file type in the high bits; 0 means "not recorded", as Python's own
    # zipfile writes, and is taken for a regular file.
    kind = stat.S_IFMT(entry.external_attr >> 16) if entry.create_system == 3 else 0
    if kind == stat.S_IFLNK:
        return "symbolic link: links are not allowed"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file (device, pipe or socket)"
    return None


def _skip_reason(entry: RawEntry, limits: ExtractLimits) -> str | None:
    """Why a harmless entry is left out (None keeps it)."""
    path = PurePosixPath(entry.nfc)
    if "__MACOSX" in path.parts or path.name == ".DS_Store" or path.name.startswith("._"):
        return "macOS metadata"
    if any(part.startswith(".") for part in path.parts):
        return "hidden file"
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "a zip inside the zip is not opened: put its class folders in the outer zip"
    if suffix not in IMAGE_EXTENSIONS:
        return f"not an image file ({suffix or 'no extension'})"
    if entry.file_size > limits.max_file_bytes:
        cap = limits.max_file_bytes // 1024**2
        return f"too large ({entry.file_size / 1024**2:.0f} MiB > {cap} MiB)"
    if len(path.parts) < 2:
        return "not inside a class folder"
    if len(path.parts) - 1 > limits.max_depth:
        return f"nested {len(path.parts) - 1} folders deep (at most {limits.max_depth})"
    if len(entry.nfc.encode()) > limits.max_name_bytes or any(
        len(p.encode()) > 255 for p in path.parts
    ):
        return "name too long for the file system"
    return None


def ratio_too_high(uncompressed: int, compressed: int, limits: ExtractLimits) -> bool:
    return uncompressed > limits.ratio_floor_bytes and uncompressed > limits.max_ratio * max(
        compressed, 1
    )


def _refuse(unsafe: list[Rejected], why: str) -> UploadError:
    count = "1 entry" if len(unsafe) == 1 else f"{len(unsafe)} entries"
    return UploadError(
        f"refused: nothing was extracted, because {count} in this zip {why}. "
        f"'{unsafe[0].name}': {unsafe[0].reason}",
        unsafe,
    )


def plan_extraction(entries: list[RawEntry], archive_bytes: int, limits: ExtractLimits) -> Plan:
    """Split entries into those to extract and those skipped; raise UploadError to refuse."""
    plan = Plan()
    unsafe: list[Rejected] = []
    locked: list[Rejected] = []
    unreadable: list[Rejected] = []
    seen_raw: set[bytes] = set()
    seen: dict[str, str] = {}
    for entry in entries:
        label = shown(entry.nfc)
        reason = _unsafe_reason(entry)
        if reason:
            unsafe.append(Rejected(shown(entry.name), reason))
            continue
        if entry.raw_name in seen_raw:
            unsafe.append(Rejected(label, "the name appears twice: tools disagree on which wins"))
            continue
        seen_raw.add(entry.raw_name)
        if entry.is_dir:
            continue
        if ratio_too_high(entry.file_size, entry.compress_size, limits):
            ratio = entry.file_size / max(entry.compress_size, 1)
            unsafe.append(
                Rejected(
                    label,
                    f"compression ratio {ratio:.0f}:1 is above {limits.max_ratio:.0f}:1 "
                    "(a zip bomb?)",
                )
            )
            continue
        reason = _skip_reason(entry, limits)
        if reason:
            plan.skipped.append(Rejected(label, reason))
            continue
        if entry.flags & _ENCRYPTED or entry.method == _AES_METHOD:
            locked.append(Rejected(label, "encrypted (password-protected)"))
            continue
        if entry.method not in _READABLE_METHODS:
            method = zipfile.compressor_names.get(entry.method, "unknown")
            unreadable.append(Rejected(label, f"compressed with {method} (method {entry.method})"))
            continue
        # Two files whose names differ only by case or Unicode form would land on one file on
        # a case-insensitive disk, and look the same in every list.
        key = lookalike_key(entry.name)
        if key in seen:
            how = how_alike(seen[key], entry.nfc)
            plan.skipped.append(Rejected(label, f"same name as '{seen[key]}' but for {how}"))
            continue
        seen[key] = label
        plan.keep.append(entry)
    if unsafe:
        raise _refuse(unsafe, "could harm the server")
    _refuse_lookalike_folders(plan.keep)
    _refuse_file_and_folder(plan)
    if locked:
        raise UploadError(
            f"refused: this zip is password-protected ({len(locked)} encrypted image(s), e.g. "
            f"'{locked[0].name}'), and the studio cannot open encrypted zips: make the zip "
            "again without a password",
            locked,
        )
    if unreadable:
        raise UploadError(
            f"refused: {len(unreadable)} image(s) use a compression the studio cannot read "
            f"(e.g. '{unreadable[0].name}': {unreadable[0].reason}): make the zip again with "
            "standard (Deflate) compression",
            unreadable,
        )
    _check_totals(plan, archive_bytes, limits)
    legacy = [e for e in plan.keep if e.encoding == "cp437"]
    if legacy:
        plan.notes.append(
            f"{len(legacy)} name(s) are not marked as UTF-8 and were read as cp437, the zip "
            f"standard's default (e.g. '{shown(legacy[0].nfc)}'): if they look wrong, make "
            "the zip again with a tool that writes UTF-8 names (7-Zip, or zip on Linux or "
            "macOS)"
        )
    return plan


def _folders(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _refuse_lookalike_folders(keep: list[RawEntry]) -> None:
    """Folders whose names differ only by case or Unicode form would become two classes that
    look the same; both names are shown, escaped so that the difference is visible."""
    spelled: dict[str, str] = {}
    clashes: list[tuple[str, str, str]] = []
    for entry in keep:
        for folder in _folders(entry.name):
            key = lookalike_key(folder)
            first = spelled.setdefault(key, folder)
            if first != folder and all(folder != c[1] for c in clashes):
                how = how_alike(first, folder)
                clashes.append((first, folder, how))
    if clashes:
        first, other, how = clashes[0]
        raise UploadError(
            f"refused: folders '{shown(first)}' and '{shown(other)}' differ only by {how}, so "
            "they would become two classes that look the same: merge them into one folder or "
            "rename one",
            [Rejected(shown(b), f"differs from '{shown(a)}' only by {h}") for a, b, h in clashes],
        )


def _refuse_file_and_folder(plan: Plan) -> None:
    folders = {f.casefold() for e in plan.keep for f in _folders(e.nfc)}
    clash = [e for e in plan.keep if e.nfc.casefold() in folders]
    for entry in clash:
        plan.keep.remove(entry)
        plan.skipped.append(Rejected(shown(entry.nfc), "a folder of the same name holds images"))


def _check_totals(plan: Plan, archive_bytes: int, limits: ExtractLimits) -> None:
    keep = plan.keep
    if len(keep) > limits.max_files:
        raise UploadError(
            f"refused: {len(keep)} image files is more than the {limits.max_files} allowed"
        )
    total = sum(e.file_size for e in keep)
    if total > limits.max_total_bytes:
        raise UploadError(
            f"refused: the images would take {total / 1024**3:.1f} GiB, more than the "
            f"{limits.max_total_bytes / 1024**3:.1f} GiB allowed"
        )
    # Against the archive's real size, not the sum of its entries' compressed sizes: entries
    # that share bytes count those bytes many times over.
    if ratio_too_high(total, archive_bytes, limits):
        raise UploadError(
            f"refused: the archive ({archive_bytes:,} bytes) would expand "
            f"{total / max(archive_bytes, 1):.0f}-fold, more than {limits.max_ratio:.0f}-fold "
            "(a zip bomb?)"
        )
    if not keep:
        raise UploadError(
            "refused: no images inside class folders were found (expected CLASS/image.jpg "
            "or train/CLASS/image.jpg)",
            plan.skipped,
        )
