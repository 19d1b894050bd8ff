"""Zip archives byte by byte, for the upload tests: names, flags and offsets zipfile will not
write (NUL bytes, unmarked legacy names, forged counts, overlapping entries)."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image

UTF8 = 0x800  # general-purpose flag bit 11: the name is UTF-8


def png(color=(200, 30, 30), size=(6, 5)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(color=(30, 30, 200), size=(16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def make_zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """An ordinary deflated zip written by zipfile; `links` are symlink entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


@dataclass
class Raw:
    """One entry as it will be stored: any name bytes, flags, method and attributes."""

    name: bytes
    data: bytes = b""
    flags: int = 0
    method: int = 0  # stored: the data goes in as it is
    extra: bytes = b""
    external_attr: int = 0
    create_system: int = 0
    declared_size: int | None = None  # a lie in the central directory
    local_name: bytes | None = None  # a different name in the local header


def raw_zip(entries: list[Raw], count: int | None = None) -> bytes:
    """Write entries exactly as given; `count` forges the end record's entry count."""
    out = io.BytesIO()
    central = []
    for e in entries:
        offset = out.tell()
        payload = e.data
        if e.method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(e.data) + c.flush()
        crc = zlib.crc32(e.data)
        local = e.local_name if e.local_name is not None else e.name
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                e.flags,
                e.method,
                0,
                0x21,
                crc,
                len(payload),
                len(e.data),
                len(local),
                0,
            )
        )
        out.write(local + payload)
        size = len(e.data) if e.declared_size is None else e.declared_size
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                (e.create_system << 8) | 20,
                20,
                e.flags,
                e.method,
                0,
                0x21,
                crc,
                len(payload),
                size,
                len(e.name),
                len(e.extra),
                0,
                0,
                0,
                e.external_attr,
                offset,
            )
            + e.name
            + e.extra
        )
    return _finish(out, central, len(entries) if count is None else count)


def _finish(out: io.BytesIO, central: list[bytes], count: int) -> bytes:
    cd_offset = out.tell()
    for record in central:
        out.write(record)
    cd_size = out.tell() - cd_offset
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, 0))
    return out.getvalue()


def unicode_path_extra(raw: bytes, utf8: str) -> bytes:
    """Info-ZIP's 0x7075 field: the UTF-8 name, tied to the legacy name by its CRC."""
    body = b"\x01" + zlib.crc32(raw).to_bytes(4, "little") + utf8.encode()
    return struct.pack("<2H", 0x7075, len(body)) + body


def quoted_overlap(names: list[str], kernel: bytes) -> bytes:
    """David Fifield's "quoted overlap" zip bomb: each entry's deflate stream quotes the next
    entry's local header in a stored block and then runs on into that entry's data, so every
    entry holds the kernel plus all later headers while the kernel is stored once."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel_z = c.compress(kernel) + c.flush()
    headers: list[bytes] = [b""] * len(names)
    sizes: list[tuple[int, int, int]] = [(0, 0, 0)] * len(names)  # crc, compressed, size
    body, plain = kernel_z, kernel
    for i in range(len(names) - 1, -1, -1):
        if i < len(names) - 1:
            quoted = headers[i + 1]
            block = b"\x00" + struct.pack("<2H", len(quoted), len(quoted) ^ 0xFFFF) + quoted
            body, plain = block + body, quoted + plain
        crc = zlib.crc32(plain)
        name = names[i].encode()
        headers[i] = (
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(body),
                len(plain),
                len(name),
                0,
            )
            + name
        )
        sizes[i] = (crc, len(body), len(plain))
    out = io.BytesIO()
    offsets = []
    for i in range(len(names)):
        offsets.append(out.tell())
        out.write(headers[i])
        if i < len(names) - 1:
            quoted = headers[i + 1]
            out.write(b"\x00" + struct.pack("<2H", len(quoted), len(quoted) ^ 0xFFFF))
    out.write(kernel_z)
    central = []
    for i, n in enumerate(names):
        crc, csize, usize = sizes[i]
        name = n.encode()
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                csize,
                usize,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offsets[i],
            )
            + name
        )
    return _finish(out, central, len(names))
