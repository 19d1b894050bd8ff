"""A zip's central directory read from its raw bytes, and the structure checks zipfile skips.

Python's zipfile rewrites names before anyone sees them (it cuts them at a NUL byte and reads
unmarked names as cp437) and never asks whether two entries share bytes, which is how
"overlapping" zip bombs expand a few hundred KiB into gigabytes. Here every entry is read as
stored: its name bytes, how they were decoded, and the span of the file its data takes; spans
that overlap, a count that disagrees with the directory, or a local header that names another
file refuse the archive. Standard library only: the UI imports this.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import BinaryIO

from studio.datasets.names import nfc, shown

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_MAX_COMMENT = 0xFFFF
UTF8_FLAG = 0x800
_UNICODE_PATH_EXTRA = 0x7075
_ZIP64_EXTRA = 0x0001


class ZipStructureError(ValueError):
    """The archive's structure is broken or ambiguous; the message says how, in plain words."""


class NotAZip(ZipStructureError):
    """No end record: the bytes are not a zip at all, or were cut short."""


@dataclass(frozen=True)
class RawEntry:
    """One central-directory record as stored, its name decoded the way the zip says.

    Args:
        index: position in the central directory (zipfile's infolist order).
        raw_name: the name's bytes, uncut.
        name: the decoded name, not yet normalised (`nfc` is).
        encoding: how the name was decoded: `utf-8` (flagged), `unicode-path` (Info-ZIP's
            UTF-8 extra field), `ascii`, `utf-8-unflagged` (valid UTF-8 without the flag, as
            macOS writes) or `cp437` (the zip standard's default for unflagged names).
        name_error: why the name bytes cannot be trusted as text, or None.
        data_start, data_end: the bytes of the stored (compressed) data in the file.
    """

    index: int
    raw_name: bytes
    name: str
    encoding: str
    name_error: str | None
    flags: int
    method: int
    compress_size: int
    file_size: int
    header_offset: int
    data_start: int
    data_end: int
    create_system: int
    external_attr: int

    @property
    def nfc(self) -> str:
        return nfc(self.name)

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def read_directory(stream: BinaryIO, max_entries: int) -> list[RawEntry]:
    """Every entry of the zip in `stream`, checked for structure; ZipStructureError if not."""
    size = stream.seek(0, 2)
    eocd_at, count, cd_size, cd_offset, extra_before = _end_record(stream, size)
    if count > max_entries:
        raise ZipStructureError(
            f"it lists {count:,} entries, more than the {max_entries:,} allowed"
        )
    cd_start = eocd_at - extra_before - cd_size
    # Data prepended to the archive (a self-extractor) shifts every offset, as zipfile allows.
    shift = cd_start - cd_offset
    if cd_start < 0 or shift < 0:
        raise ZipStructureError("its central directory claims more bytes than the file holds")
    stream.seek(cd_start)
    directory = stream.read(cd_size)
    if len(directory) != cd_size:
        raise ZipStructureError("its central directory is cut short")
    entries = list(_records(directory, shift, max_entries))
    if len(entries) != count:
        raise ZipStructureError(
            f"its end record says {count:,} entries but the directory holds {len(entries):,} "
            "(a forged archive?)"
        )
    located = [_locate(stream, e, cd_start) for e in entries]
    _refuse_overlaps(located, cd_start)
    return located


def _end_record(stream: BinaryIO, size: int) -> tuple[int, int, int, int, int]:
    """(offset of the end record, entries, directory size, directory offset, zip64 bytes)."""
    tail_from = max(0, size - _EOCD.size - _MAX_COMMENT)
    stream.seek(tail_from)
    tail = stream.read()
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0 and at + _EOCD.size > len(tail):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise NotAZip("it has no zip end record: not a zip file, or one cut short")
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    eocd_at = tail_from + at
    if disk or cd_disk:
        raise ZipStructureError("it is one part of a split (multi-volume) zip")
    locator_at = eocd_at - _EOCD64_LOCATOR.size
    if locator_at < 0:
        return eocd_at, count, cd_size, cd_offset, 0
    stream.seek(locator_at)
    locator = stream.read(_EOCD64_LOCATOR.size)
    if not locator.startswith(b"PK\x06\x07"):
        return eocd_at, count, cd_size, cd_offset, 0
    record_at = locator_at - _EOCD64.size
    stream.seek(max(record_at, 0))
    record = stream.read(_EOCD64.size)
    if record_at < 0 or len(record) != _EOCD64.size or not record.startswith(b"PK\x06\x06"):
        raise ZipStructureError("its zip64 end record is missing or damaged")
    fields = _EOCD64.unpack(record)
    disk, cd_disk, count, cd_size, cd_offset = fields[4], fields[5], *fields[7:10]
    if disk or cd_disk:
        raise ZipStructureError("it is one part of a split (multi-volume) zip")
    return eocd_at, count, cd_size, cd_offset, _EOCD64_LOCATOR.size + _EOCD64.size


def _records(directory: bytes, shift: int, max_entries: int):
    at = index = 0
    while at < len(directory):
        if index >= max_entries:
            raise ZipStructureError(f"it holds more than the {max_entries:,} entries allowed")
        if len(directory) - at < _CENTRAL.size:
            raise ZipStructureError("its central directory ends in the middle of an entry")
        fields = _CENTRAL.unpack_from(directory, at)
        if fields[0] != b"PK\x01\x02":
            raise ZipStructureError("its central directory is damaged (a bad record signature)")
        made_by, flags, method = fields[1], fields[3], fields[4]
        compress_size, file_size = fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        external_attr, offset = fields[15], fields[16]
        start = at + _CENTRAL.size
        raw_name = directory[start : start + name_len]
        extra = directory[start + name_len : start + name_len + extra_len]
        at = start + name_len + extra_len + comment_len
        if at > len(directory):
            raise ZipStructureError("its central directory ends in the middle of an entry")
        extras = _extra_fields(extra)
        file_size, compress_size, offset = _zip64(
            extras.get(_ZIP64_EXTRA), file_size, compress_size, offset
        )
        name, encoding, error = decode_name(raw_name, flags, extras.get(_UNICODE_PATH_EXTRA))
        yield RawEntry(
            index=index,
            raw_name=raw_name,
            name=name,
            encoding=encoding,
            name_error=error,
            flags=flags,
            method=method,
            compress_size=compress_size,
            file_size=file_size,
            header_offset=offset + shift,
            data_start=-1,
            data_end=-1,
            create_system=made_by >> 8,
            external_attr=external_attr,
        )
        index += 1


def _extra_fields(extra: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        found.setdefault(kind, extra[at + 4 : at + 4 + length])
        at += 4 + length
    return found


def _zip64(field: bytes | None, file_size: int, compress_size: int, offset: int):
    """Sizes and offset with the zip64 extra applied; each 0xFFFFFFFF must have its value."""
    values = [file_size, compress_size, offset]
    at = 0
    for i, value in enumerate(values):
        if value != 0xFFFFFFFF:
            continue
        if field is None or at + 8 > len(field):
            raise ZipStructureError(
                "an entry's size or offset needs a zip64 field that is missing (a forged archive?)"
            )
        values[i] = struct.unpack_from("<Q", field, at)[0]
        at += 8
    return values[0], values[1], values[2]


def decode_name(
    raw: bytes, flags: int, unicode_path: bytes | None = None
) -> tuple[str, str, str | None]:
    """(name, encoding, error): decoded as the zip marks it, else the way its bytes allow."""
    if flags & UTF8_FLAG:
        try:
            return raw.decode("utf-8"), "utf-8", None
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "backslashreplace")
            return text, "utf-8", "is marked UTF-8 but its bytes are not UTF-8"
    # Info-ZIP's extra field carries the UTF-8 name beside a legacy one; its CRC says whether
    # it still belongs to this name.
    crc = int.from_bytes(unicode_path[1:5], "little") if unicode_path else None
    if unicode_path and len(unicode_path) > 5 and unicode_path[0] == 1 and crc == zlib.crc32(raw):
        try:
            return unicode_path[5:].decode("utf-8"), "unicode-path", None
        except UnicodeDecodeError:
            pass
    if raw.isascii():
        return raw.decode("ascii"), "ascii", None
    try:
        # macOS and Linux tools write UTF-8 without the flag; cp437 text that happens to be
        # valid UTF-8 is vanishingly rare.
        return raw.decode("utf-8"), "utf-8-unflagged", None
    except UnicodeDecodeError:
        return raw.decode("cp437"), "cp437", None


def _locate(stream: BinaryIO, entry: RawEntry, cd_start: int) -> RawEntry:
    """The entry with the span of its data, read from its local header."""
    stream.seek(entry.header_offset)
    header = stream.read(_LOCAL.size)
    if entry.header_offset >= cd_start or len(header) < _LOCAL.size:
        raise ZipStructureError(
            f"entry '{shown(entry.name)}' points outside the archive's data (a forged archive?)"
        )
    fields = _LOCAL.unpack(header)
    if fields[0] != b"PK\x03\x04":
        raise ZipStructureError(
            f"entry '{shown(entry.name)}' points at bytes that are not an entry (a forged archive?)"
        )
    name_len, extra_len = fields[9], fields[10]
    local_name = stream.read(name_len)
    if local_name != entry.raw_name:
        raise ZipStructureError(
            f"entry '{shown(entry.name)}' has another name in its own header "
            f"('{shown(local_name.decode('utf-8', 'backslashreplace'))}'): tools would "
            "disagree on what it holds"
        )
    start = entry.header_offset + _LOCAL.size + name_len + extra_len
    return replace(entry, data_start=start, data_end=start + entry.compress_size)


def _refuse_overlaps(entries: list[RawEntry], cd_start: int) -> None:
    ordered = sorted(entries, key=lambda e: (e.header_offset, e.index))
    for before, after in pairwise(ordered):
        if before.data_end > after.header_offset:
            raise ZipStructureError(
                f"entries '{shown(before.name)}' and '{shown(after.name)}' overlap (share "
                "bytes), the trick of overlapping zip bombs"
            )
    if ordered and ordered[-1].data_end > cd_start:
        raise ZipStructureError(
            f"entry '{shown(ordered[-1].name)}' claims more data than the archive holds"
        )
