"""Names as text: one spelling (NFC), shown so that look-alikes differ, and the characters
that let a name hide or pass for another. Shared by uploads and folder scans."""

from __future__ import annotations

import os
import unicodedata

# Characters that reorder or hide text: a name holding one can pass for another
# ("cat\u202egnp.exe" shows as "catexe.png").
INVISIBLE = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def lookalike_key(text: str) -> str:
    """Equal for names that differ only by case or Unicode form."""
    return nfc(text).casefold()


def shown(text: str) -> str:
    """`text` with control, invisible and combining characters escaped, so look-alikes differ."""
    out = []
    for c in text:
        if 0xDC80 <= ord(c) <= 0xDCFF:  # a byte the file system name did not decode
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c.isprintable() and c not in INVISIBLE and not unicodedata.combining(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


def hidden_characters(text: str) -> str | None:
    """Why a name's characters could hide or disguise it, or None."""
    for c in text:
        if unicodedata.category(c) == "Cc":
            return f"name contains a control character ({shown(c)})"
        if c in INVISIBLE:
            return f"name contains an invisible or direction-changing character ({shown(c)})"
    return None


def undecoded(name: str) -> str | None:
    """For a file system name that is not UTF-8 (Python keeps its bytes as surrogates): what
    it says in the usual legacy encoding, to show beside the refusal; None when it is UTF-8."""
    if not any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        return None
    raw = os.fsencode(name)
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def how_alike(a: str, b: str) -> str:
    """What alone tells two look-alike names apart, in words."""
    if a.casefold() == b.casefold():
        return "case"
    if nfc(a) == nfc(b):
        return "Unicode form (composed or decomposed accents)"
    return "case and Unicode form"
