"""Plain text inside Markdown: what the studio shows that it did not write itself.

Streamlit renders messages, captions, labels and toasts as Markdown, and much of what they
carry comes from people or their files: file names (`__init__.py` turns into a bold "init.py"),
paths, class folders (`*star*`), upload names, run names of folder datasets, and the messages
of lower layers that quote them (written as plain text for the CLI). `md_text` is the one way
such text reaches Markdown: file names, paths and other tokens Markdown would read as syntax
become inline code; quoted values stay whole; code spans the message already has are kept.
No Streamlit here, so it is tested as a function.
"""

from __future__ import annotations

import re

# Characters Markdown (CommonMark, GFM, Streamlit's :directives: and $math$) acts on; a
# bracket only as part of a link, `<` only before a tag or an address (not in `>= 1`).
_SYNTAX = set("\\`*_$~|:")
_MARKUP = re.compile(r"\]\(|<[A-Za-z/!?]")
# A code span the message already has, a quoted value ('...' or "..." opened after a space,
# a bracket or =), or any other run of non-space characters.
_PIECE = re.compile(
    r"(?P<code>(?P<fence>`+)(?!`).+?(?<!`)(?P=fence)(?!`))"
    r"|(?P<quoted>(?<![^\s(\[=])(?P<q>['\"])[^\n]*?(?P=q)(?![^\s).,;:!?\]]))"
    r"|(?P<word>\S+)"
)
# Sentence punctuation kept outside a code span: "folder 'cats/'." ends with a full stop.
_LEAD = "(\"'"
_TRAIL = ").,;:!?\"'"
# At a line's start these make a heading, a quote or a list item.
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+)([.)]?)(?=\s|$)", re.MULTILINE)
# name.ext with a letter in the extension (not 1.5 or v1.2), but not e.g or i.e
_FILE_NAME = re.compile(r"^\.?[^.\s]+(\.[^.\s]+)*\.(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,8}$")
_ABBREVIATION = re.compile(r"^[A-Za-z]\.[A-Za-z]$")


def _file_like(core: str) -> bool:
    """A file name or path; "ViT-B/16" and "and/or" are words with a slash in them."""
    if "\\" in core or core.startswith("/") or core.endswith("/") or core.count("/") > 1:
        return True
    return bool(_FILE_NAME.match(core)) and not _ABBREVIATION.match(core)


def code(text: str) -> str:
    """`text` as one inline code span, whatever backticks it holds."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _needs_code(core: str) -> bool:
    return bool(core) and (
        any(c in _SYNTAX for c in core) or bool(_MARKUP.search(core)) or _file_like(core)
    )


def _unpaired(core: str) -> bool:
    """Whether `core`'s last character closes nothing inside it (so it is punctuation):
    `f(x_y)` and `by='^(a)_'` keep theirs."""
    last = core[-1]
    if last == ")":
        return core.count(")") > core.count("(")
    if last in "'\"":
        return core.count(last) % 2 == 1
    return True


def _word(word: str) -> str:
    start, end = 0, len(word)
    while start < end and word[start] in _LEAD:
        start += 1
    while end > start and word[end - 1] in _TRAIL and _unpaired(word[start:end]):
        end -= 1
    core = word[start:end]
    if not _needs_code(core):
        # Stray syntax in the punctuation around a plain word (a lone ":" is harmless).
        return word
    return f"{word[:start]}{code(core)}{word[end:]}"


def md_text(text: object) -> str:
    """Plain text (a message, a file or class name, a path) as Markdown that shows it as
    written: file names and paths as inline code, other Markdown syntax made inert."""
    text = str(text)
    out = []
    last = 0
    for match in _PIECE.finditer(text):
        out.append(text[last : match.start()])
        last = match.end()
        if match.group("code"):
            out.append(match.group("code"))
        elif match.group("quoted"):
            quoted = match.group("quoted")
            quote, inner = quoted[0], quoted[1:-1]
            plain = not any(_needs_code(w) for w in inner.split()) and "`" not in inner
            out.append(quoted if plain else f"{quote}{code(inner)}{quote}")
        else:
            out.append(_word(match.group("word")))
    out.append(text[last:])
    return _LINE_START.sub(_inert_line_start, "".join(out))


def _inert_line_start(match: re.Match) -> str:
    indent, mark, dot = match.groups()
    if mark.isdigit():  # "1. x" is a list item, "1\\. x" is not
        return f"{indent}{mark}\\{dot}" if dot else match.group(0)
    return f"{indent}\\{mark}"
