"""Safe extraction of an uploaded zip of class folders.

An upload is untrusted. A zip that tries to write outside its folder (absolute paths, `..`),
that carries links or device files, or that would blow up on disk (too many files, too many
bytes, a compression ratio only a zip bomb has) is refused as a whole, with every offending
entry named. Harmless clutter (text files, macOS metadata, empty folders) is skipped and
listed, and the images are extracted. Standard library only: the UI imports this.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_COPY_CHUNK = 1 << 20


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
        max_total_bytes: most bytes all extracted files may take together.
        max_file_bytes: most bytes one extracted file may take.
        max_ratio: highest uncompressed/compressed ratio, for the archive and for any entry
            larger than `ratio_floor_bytes` (images barely compress; zip bombs compress 1000x).
        ratio_floor_bytes: entries below this size are too small for their ratio to matter.
    """

    max_files: int = 50_000
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 64 * 1024**2
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1024**2


@dataclass
class ExtractResult:
    """Where the images went and what was left behind."""

    root: Path
    files: int
    total_bytes: int
    rejected: list[Rejected] = field(default_factory=list)
    reused: bool = False


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why writing this entry could escape the target folder or create something odd."""
    name = info.filename
    if "\x00" in name:
        return "name contains a NUL byte"
    if "\\" in name:
        return "name uses backslashes (a Windows path that could climb out of the folder)"
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "absolute path: it would be written outside the upload folder"
    if ".." in path.parts:
        return "path traversal ('..'): it would be written outside the upload folder"
    # Unix zips keep the file type in the high bits; 0 means "not recorded", as Python's own
    # zipfile writes, and is taken for a regular file.
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind == stat.S_IFLNK:
        return "symbolic link: links are not allowed"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file (device, pipe or socket)"
    return None


def _skip_reason(info: zipfile.ZipInfo, limits: ExtractLimits) -> str | None:
    """Why a harmless entry is left out (None keeps it)."""
    path = PurePosixPath(info.filename)
    if "__MACOSX" in path.parts or path.name == ".DS_Store" or path.name.startswith("._"):
        return "macOS metadata"
    if any(part.startswith(".") for part in path.parts):
        return "hidden file"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file ({path.suffix or 'no extension'})"
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > limits.max_file_bytes:
        cap = limits.max_file_bytes // 1024**2
        return f"too large ({info.file_size / 1024**2:.0f} MiB > {cap} MiB)"
    if len(path.parts) < 2:
        return "not inside a class folder"
    return None


def _ratio_too_high(uncompressed: int, compressed: int, limits: ExtractLimits) -> bool:
    return uncompressed > limits.ratio_floor_bytes and uncompressed > limits.max_ratio * max(
        compressed, 1
    )


def plan_extraction(
    archive: zipfile.ZipFile, limits: ExtractLimits
) -> tuple[list[zipfile.ZipInfo], list[Rejected]]:
    """Split entries into those to extract and those skipped; raise UploadError to refuse."""
    unsafe: list[Rejected] = []
    keep: list[zipfile.ZipInfo] = []
    skipped: list[Rejected] = []
    seen: set[str] = set()
    for info in archive.infolist():
        reason = _unsafe_reason(info)
        if reason:
            unsafe.append(Rejected(info.filename, reason))
            continue
        if info.is_dir():
            continue
        if _ratio_too_high(info.file_size, info.compress_size, limits):
            unsafe.append(
                Rejected(
                    info.filename,
                    f"compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 "
                    f"is above {limits.max_ratio:.0f}:1 (a zip bomb?)",
                )
            )
            continue
        reason = _skip_reason(info, limits)
        if reason:
            skipped.append(Rejected(info.filename, reason))
            continue
        key = info.filename.lower()
        if key in seen:
            skipped.append(Rejected(info.filename, "duplicate name"))
            continue
        seen.add(key)
        keep.append(info)
    if unsafe:
        count = "1 entry" if len(unsafe) == 1 else f"{len(unsafe)} entries"
        raise UploadError(
            f"refused: nothing was extracted, because {count} in this zip could harm the "
            f"server. {unsafe[0].name!r}: {unsafe[0].reason}",
            unsafe,
        )
    if len(keep) > limits.max_files:
        raise UploadError(
            f"refused: {len(keep)} image files is more than the {limits.max_files} allowed"
        )
    total = sum(i.file_size for i in keep)
    if total > limits.max_total_bytes:
        raise UploadError(
            f"refused: the images would take {total / 1024**3:.1f} GiB, more than the "
            f"{limits.max_total_bytes / 1024**3:.1f} GiB allowed"
        )
    compressed = sum(i.compress_size for i in keep)
    if _ratio_too_high(total, compressed, limits):
        raise UploadError(
            f"refused: the archive expands {total / max(compressed, 1):.0f}-fold, more than "
            f"{limits.max_ratio:.0f}-fold (a zip bomb?)"
        )
    if not keep:
        raise UploadError(
            "refused: no images inside class folders were found (expected CLASS/image.jpg "
            "or train/CLASS/image.jpg)",
            skipped,
        )
    return keep, skipped


def _copy_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> int:
    """Copy one entry, trusting the bytes actually read rather than the size it declares."""
    written = 0
    with archive.open(info) as src, open(target, "xb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise UploadError(
                    f"refused: {info.filename!r} holds more bytes than it declares "
                    "(a forged archive?)",
                    [Rejected(info.filename, "size does not match its header")],
                )
            dst.write(chunk)
    return written


def dataset_root(folder: Path) -> Path:
    """The folder that holds the class (or split) folders: descend through lone wrappers."""
    current = folder
    for _ in range(8):
        children = [p for p in current.iterdir() if not p.name.startswith(".")]
        dirs = [p for p in children if p.is_dir()]
        if len(dirs) == 1 and len(children) == 1 and any(p.is_dir() for p in dirs[0].iterdir()):
            current = dirs[0]
            continue
        break
    return current


def _digest(data: bytes | BinaryIO) -> str:
    sha = hashlib.sha256()
    if isinstance(data, bytes | bytearray):
        sha.update(data)
    else:
        data.seek(0)
        while chunk := data.read(_COPY_CHUNK):
            sha.update(chunk)
        data.seek(0)
    return sha.hexdigest()


def _slug(name: str) -> str:
    stem = Path(name).stem
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")[:40] or "upload"


def extract_upload(
    data: bytes | BinaryIO,
    filename: str,
    uploads_dir: Path,
    limits: ExtractLimits | None = None,
) -> ExtractResult:
    """Check and extract an uploaded zip under `uploads_dir`; raise UploadError to refuse it.

    The same bytes uploaded twice land in the same folder, so a rerun of the page or a
    second upload of one file does not extract again.
    """
    limits = limits or ExtractLimits()
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    target = Path(uploads_dir) / f"{_slug(filename)}-{_digest(stream)[:12]}"
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadError(f"refused: {filename} is not a readable zip file ({exc})") from None
    with archive:
        keep, skipped = plan_extraction(archive, limits)
        if target.is_dir():
            root = dataset_root(target)
            return ExtractResult(root, len(keep), sum(i.file_size for i in keep), skipped, True)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Extract beside the target, then rename: a half-extracted upload is never visible.
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            total = 0
            for info in keep:
                out = staging.joinpath(*PurePosixPath(info.filename).parts)
                # Belt and braces: the planner already refused '..' and absolute names.
                if not out.resolve().is_relative_to(staging.resolve()):
                    raise UploadError(
                        f"refused: {info.filename!r} resolves outside the upload folder",
                        [Rejected(info.filename, "path traversal")],
                    )
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    total += _copy_capped(archive, info, out)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise UploadError(
                        f"refused: {info.filename!r} is damaged ({exc}); nothing was extracted",
                        [Rejected(info.filename, f"damaged: {exc}")],
                    ) from None
                if total > limits.max_total_bytes:
                    raise UploadError("refused: the archive expands past the size limit")
            try:
                os.replace(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
                # Another session extracted the same bytes first: theirs is as good as ours.
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return ExtractResult(dataset_root(target), len(keep), total, skipped)
