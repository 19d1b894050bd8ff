"""A run's checkpoints on disk: the last epoch's and the one before it, and which to trust.

Two files, `checkpoint.keras` (the last epoch) and `checkpoint-previous.keras` (the epoch
before), and one marker, `checkpoint.json`, that names each checkpoint's epoch and SHA-256.
A file is trusted only when its checksum is one the marker records, so a file that was
truncated, overwritten or half-renamed by a kill is never loaded, and whichever step of a
save a kill interrupts, the marker still describes at least one file on disk. No keras: the
trainer saves the model and loads the file this module picks (`studio.training`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from studio.runs.artifacts import CHECKPOINT, CHECKPOINT_STATE, sha256_file

PREVIOUS = "checkpoint-previous.keras"  # the epoch before CHECKPOINT's, the fallback
PARTIAL = "checkpoint.tmp.keras"  # a checkpoint being written; renamed once complete
# Partial files a killed writer leaves: model saves (`*.tmp.keras`) and JSON (`.NAME.PID.tmp`).
PARTIAL_PATTERNS = ("*.tmp.keras", ".*.tmp")


# The words of a run that cannot resume (the trainer's reason), which the UI answers with a
# Start fresh button.
CANNOT_RESUME = "cannot resume: no usable checkpoint"


def cannot_resume(reason: str | None) -> bool:
    return CANNOT_RESUME in (reason or "")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint the marker vouches for: its file and the epoch it holds."""

    path: Path
    epoch: int


@dataclass(frozen=True)
class Choice:
    """The checkpoints to try on resume, newest first, and why others were passed over."""

    usable: tuple[Checkpoint, ...]
    rejected: tuple[str, ...]
    marked: bool  # a marker exists: the run has checkpointed before

    @property
    def none_usable(self) -> bool:
        return self.marked and not self.usable


def remove_partial(run_dir: Path) -> list[str]:
    """Delete half-written files a killed or failed writer left; the names removed."""
    removed = []
    for pattern in PARTIAL_PATTERNS:
        for path in run_dir.glob(pattern):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.name)
    return removed


def _read_marker(run_dir: Path) -> dict | None:
    try:
        value = json.loads((run_dir / CHECKPOINT_STATE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _entries(marker: dict) -> list[dict]:
    """The marker's checkpoints, newest first (a marker of older releases: one, unchecked)."""
    if "checkpoints" in marker:
        entries = marker["checkpoints"]
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    return [{"epoch": marker.get("epoch"), "file": CHECKPOINT, "sha256": None}]


def _stat(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _holds(path: Path, entry: dict) -> bool:
    """Whether `path` is the file `entry` describes: by size and time when they match (a
    rename keeps both; no need to read a large file at every epoch), else by checksum."""
    if not path.is_file() or not entry.get("sha256"):
        return False
    return entry.get("stat") == _stat(path) or sha256_file(path) == entry["sha256"]


def install(run_dir: Path, written: Path, epoch: int) -> None:
    """Make the complete file `written` the last checkpoint (of `epoch`); the last one so far
    becomes the previous. Every step leaves a marker that matches a file on disk."""
    sha = sha256_file(written)
    marker = _read_marker(run_dir) or {}
    entries = _entries(marker) if marker else []
    last, previous = run_dir / CHECKPOINT, run_dir / PREVIOUS
    kept = []
    if entries and _holds(last, entries[0]):
        os.replace(last, previous)
        kept = [{**entries[0], "file": PREVIOUS}]
    elif entries and _holds(previous, entries[0]):
        # A kill between the two renames: the last checkpoint already lies in PREVIOUS.
        kept = [{**entries[0], "file": PREVIOUS}]
    elif entries and not entries[0].get("sha256") and last.exists():
        os.replace(last, previous)  # an older release's checkpoint: kept, unchecked
        kept = [{**entries[0], "file": PREVIOUS, "sha256": sha256_file(previous)}]
    os.replace(written, last)
    entry = {"epoch": epoch, "file": CHECKPOINT, "sha256": sha, "stat": _stat(last)}
    _write_marker(run_dir, [entry, *kept])


def _write_marker(run_dir: Path, entries: list[dict]) -> None:
    tmp = run_dir / f".{CHECKPOINT_STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"checkpoints": entries, "time": time.time()}, indent=2))
    os.replace(tmp, run_dir / CHECKPOINT_STATE)


def choose(run_dir: Path, max_epoch: int) -> Choice:
    """The checkpoints worth loading, newest first: each must be a file whose checksum the
    marker recorded (under either name: a kill may fall between the renames) and hold an
    epoch between 1 and `max_epoch` (the epochs the run store recorded: a marker that claims
    more is not believed)."""
    marker = _read_marker(run_dir)
    if marker is None:
        return Choice((), (), marked=False)
    if not marker:
        return Choice((), (f"{CHECKPOINT_STATE} is unreadable",), marked=True)
    files = [run_dir / n for n in (CHECKPOINT, PREVIOUS) if (run_dir / n).is_file()]
    sums: dict[Path, str] = {}
    usable: list[Checkpoint] = []
    rejected: list[str] = []
    for entry in _entries(marker):
        name, epoch, sha = entry.get("file"), entry.get("epoch"), entry.get("sha256")
        what = f"the checkpoint of epoch {epoch} ({name})"
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch <= max_epoch:
            rejected.append(f"{what} claims an epoch the run never finished ({max_epoch} recorded)")
            continue
        if not sha:  # a marker of an older release: its one file, unchecked
            path = run_dir / CHECKPOINT
            found = path if path in files else None
        else:
            found = None
            for path in sorted(files, key=lambda p: p.name != name):
                if path not in sums:
                    sums[path] = sha256_file(path)
                if sums[path] == sha:
                    found = path
                    break
        if found is None:
            rejected.append(f"{what} is missing or does not match its checksum (damaged)")
        elif all(c.path != found for c in usable):
            usable.append(Checkpoint(found, epoch))
    return Choice(tuple(usable), tuple(rejected), marked=True)


def discard(run_dir: Path) -> None:
    """Forget every checkpoint, so the run starts again from epoch 0."""
    for name in (CHECKPOINT_STATE, CHECKPOINT, PREVIOUS, PARTIAL):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
