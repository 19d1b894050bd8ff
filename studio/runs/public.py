"""What of a run may leave this machine: its facts with local paths reduced to their last part.

A Space, a model card and a model repository are published, and a folder's path can name a
person, a patient list or a home directory. Everything they say about a run goes through
`publisher(run, home)` first: the run's own paths (its dataset folder, a grouping CSV, a local
pretrained preset, the studio's home) become their last part, and any other absolute path
left in a string (a skipped file, a cache in a home directory) becomes its file name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from studio.config.variants import VARIANTS
from studio.runs.store import Run

T = TypeVar("T")
# An absolute POSIX path of two parts or more; not the `//host/...` of a URL, a `1/2` or `a/b`.
_ABSOLUTE = re.compile(r"(?<![\w./~])(?:~(?=/))?(?:/[^\s/`'\"()<>\[\]]+){2,}")
_WINDOWS = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\`'\"()<>]+\\)*[^\s\\`'\"()<>]*")


def local_paths(run: Run, home: Path) -> list[str]:
    """The paths on this machine a run's facts may mention: the studio's home (uploads,
    caches), a folder dataset's, a grouping CSV's, a local pretrained preset's, each as given
    and resolved; longest first, so a folder inside the home keeps its own name."""
    config = run.config if isinstance(run.config, dict) else {}
    data, model = config.get("data") or {}, config.get("model") or {}
    paths = [str(home)]
    for value in (run.dataset, data.get("dataset")):
        if isinstance(value, str) and value.startswith("folder:"):
            paths.append(value.split(":", 1)[1])
    group_by = data.get("group_by")
    if isinstance(group_by, str) and group_by.startswith("csv:"):
        paths.append(group_by.split(":", 1)[1])
    pretrained = model.get("pretrained")
    variant = VARIANTS.get(run.variant)
    if variant and variant.pretrained and isinstance(pretrained, str) and "://" not in pretrained:
        paths.append(pretrained)
    found = []
    for path in paths:
        found.append(path.rstrip("/"))
        with contextlib.suppress(OSError, RuntimeError):  # a drive that is gone, a link loop
            found.append(str(Path(path).expanduser().resolve()))
    return sorted({p for p in found if p and p not in (".", "/")}, key=len, reverse=True)


def _last_part(match: re.Match[str]) -> str:
    return re.split(r"[/\\]", match.group(0).rstrip("/\\"))[-1]


def public_text(text: str, paths: list[str]) -> str:
    """`text` with each of `paths` reduced to its last part, then any other absolute path to
    its file name."""
    for path in paths:
        text = text.replace(path, Path(path).name or path)
    text = _ABSOLUTE.sub(_last_part, text)
    return _WINDOWS.sub(_last_part, text)


@dataclass(frozen=True)
class Publisher:
    """Makes any run fact publishable: a string, a JSON-like value, a Run, Labels."""

    paths: tuple[str, ...]

    def __call__(self, value: T) -> T:
        if isinstance(value, str):
            return public_text(value, list(self.paths))  # type: ignore[return-value]
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}  # type: ignore[return-value]
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)  # type: ignore[return-value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return dataclasses.replace(value, **changes)
        return value


def publisher(run: Run, home: Path) -> Publisher:
    """The Publisher for `run`'s facts, with the studio's home `home`."""
    return Publisher(tuple(local_paths(run, home)))
