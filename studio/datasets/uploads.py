"""Safe extraction of an uploaded zip of class folders.

An upload is untrusted. Its central directory is read from the raw bytes
(`studio.datasets.zipdir`: overlapping entries, forged counts and headers refuse it) and every
entry judged before anything is written (`studio.datasets.upload_rules`: escaping, hidden or
look-alike names, links, encryption, caps). The images are then extracted under caps that hold
on the bytes actually written, into a staging folder renamed into place, so a refused upload
leaves nothing. Each extracted image's header is checked (`studio.datasets.probe`): files that
would not decode are removed and listed with their reasons, and only good images count.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from studio.datasets.names import shown
from studio.datasets.upload_rules import (
    ExtractLimits,
    Plan,
    Rejected,
    UploadError,
    plan_extraction,
    ratio_too_high,
)
from studio.datasets.zipdir import NotAZip, RawEntry, ZipStructureError, read_directory

__all__ = [
    "ExtractLimits",
    "ExtractResult",
    "Rejected",
    "UploadError",
    "dataset_root",
    "extract_upload",
    "plan_extraction",
]
_COPY_CHUNK = 1 << 20


@dataclass
class ExtractResult:
    """Where the images went, and what was left behind (skipped entries, rejected images)."""

    root: Path
    files: int
    total_bytes: int
    rejected: list[Rejected] = field(default_factory=list)
    reused: bool = False
    notes: list[str] = field(default_factory=list)


class _Budget:
    """Bytes actually written, against the caps, whatever the headers declared."""

    def __init__(self, limits: ExtractLimits, archive_bytes: int) -> None:
        self.limits = limits
        self.archive_bytes = archive_bytes
        self.written = 0

    def add(self, n: int, name: str) -> None:
        self.written += n
        if self.written > self.limits.max_total_bytes or ratio_too_high(
            self.written, self.archive_bytes, self.limits
        ):
            raise UploadError(
                f"refused: the archive expands past the size limit while writing '{name}'; "
                "nothing was extracted",
                [Rejected(name, "expands past the size limit")],
            )


def _copy_capped(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: RawEntry, target: Path, budget: _Budget
) -> int:
    """Copy one entry, trusting the bytes actually read rather than the size it declares."""
    name = shown(entry.nfc)
    written = 0
    with archive.open(info) as src, open(target, "xb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > entry.file_size:
                raise UploadError(
                    f"refused: '{name}' holds more bytes than it declares (a forged archive?)",
                    [Rejected(name, "size does not match its header")],
                )
            budget.add(len(chunk), name)
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


def _directory(stream: BinaryIO, filename: str, limits: ExtractLimits) -> list[RawEntry]:
    try:
        return read_directory(stream, limits.max_entries)
    except NotAZip as err:
        raise UploadError(f"refused: {filename} is not a readable zip file ({err})") from None
    except ZipStructureError as err:
        raise UploadError(
            f"refused: nothing was extracted, because {filename} is not a zip the studio can "
            f"trust: {err}"
        ) from None


def _opened(
    stream: BinaryIO, filename: str, entries: list[RawEntry]
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """zipfile's view of the archive (it inflates the data), checked to be the same entries."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise UploadError(f"refused: {filename} is not a readable zip file ({exc})") from None
    infos = archive.infolist()
    if [i.header_offset for i in infos] != [e.header_offset for e in entries]:
        archive.close()
        raise UploadError(
            f"refused: {filename} reads differently depending on the tool (a forged archive?)"
        )
    return archive, infos


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
    archive_bytes = stream.seek(0, 2)
    # Everything the central directory's bytes say is judged before zipfile reads them.
    entries = _directory(stream, filename, limits)
    plan = plan_extraction(entries, archive_bytes, limits)
    archive, infos = _opened(stream, filename, entries)
    with archive:
        if target.is_dir():
            return _reused(target, plan)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Extract beside the target, then rename: a half-extracted upload is never visible.
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            result = _extract(archive, infos, plan, staging, _Budget(limits, archive_bytes))
            try:
                os.replace(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
                # Another session extracted the same bytes first: theirs is as good as ours.
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as err:
            shutil.rmtree(staging, ignore_errors=True)
            raise UploadError(
                f"refused: the images could not be written on the server ({err.strerror or err})"
                "; nothing was kept"
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _write_manifest(target, result)
    result.root = dataset_root(target)
    return result


def _extract(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    plan: Plan,
    staging: Path,
    budget: _Budget,
) -> ExtractResult:
    from studio.datasets.probe import image_problem

    rejected = list(plan.skipped)
    files = total = 0
    for entry in plan.keep:
        out = staging.joinpath(*PurePosixPath(entry.nfc).parts)
        # Belt and braces: the planner already refused '..' and absolute names.
        if not out.resolve().is_relative_to(staging.resolve()):
            raise UploadError(
                f"refused: '{shown(entry.nfc)}' resolves outside the upload folder",
                [Rejected(shown(entry.nfc), "path traversal")],
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = _copy_capped(archive, infos[entry.index], entry, out, budget)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise UploadError(
                f"refused: '{shown(entry.nfc)}' is damaged ({exc}); nothing was extracted",
                [Rejected(shown(entry.nfc), f"damaged: {exc}")],
            ) from None
        problem = image_problem(out)
        if problem:
            out.unlink()
            rejected.append(Rejected(shown(entry.nfc), f"not a usable image: {problem}"))
            continue
        files += 1
        total += written
    if not files:
        bad = [r for r in rejected if r.reason.startswith("not a usable image")]
        example = f" ('{bad[0].name}': {bad[0].reason})" if bad else ""
        raise UploadError(
            f"refused: none of the {len(plan.keep)} image file(s) can be read{example}", rejected
        )
    return ExtractResult(staging, files, total, rejected, notes=list(plan.notes))


def _manifest(target: Path) -> Path:
    # Beside the extracted folder, not in it: the dataset holds only what the zip held.
    return target.with_name(f".{target.name}.json")


def _write_manifest(target: Path, result: ExtractResult) -> None:
    record = {
        "files": result.files,
        "total_bytes": result.total_bytes,
        "rejected": [asdict(r) for r in result.rejected],
        "notes": result.notes,
    }
    # Without it, a later upload of the same bytes reports from its own plan.
    with contextlib.suppress(OSError):
        _manifest(target).write_text(json.dumps(record), encoding="utf-8")


def _reused(target: Path, plan: Plan) -> ExtractResult:
    """What the first extraction of these bytes found, from its manifest when it has one."""
    try:
        record = json.loads(_manifest(target).read_text(encoding="utf-8"))
        rejected = [Rejected(r["name"], r["reason"]) for r in record["rejected"]]
        files, total, notes = int(record["files"]), int(record["total_bytes"]), record["notes"]
    except (OSError, ValueError, KeyError, TypeError):
        files, total = len(plan.keep), sum(e.file_size for e in plan.keep)
        rejected, notes = plan.skipped, plan.notes
    return ExtractResult(dataset_root(target), files, total, rejected, True, list(notes))
