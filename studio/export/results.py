"""Where a run's exports live and what their stored parity checks say. No keras (the UI).

    runs/<id>/exports/<format>/<file>          the exported model (file or folder)
    runs/<id>/exports/<format>/parity.json     how it was made and what its check found

An export that could not be produced leaves only its parity.json, saying why. Folders whose
name starts with a dot are exports in progress (or left by a crash) and are never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.export.formats import FORMATS, Format
from studio.runs.artifacts import EXPORT_RESULT, EXPORTS


def exports_dir(run_dir: Path) -> Path:
    return Path(run_dir) / EXPORTS


def format_dir(run_dir: Path, fmt: Format) -> Path:
    return exports_dir(run_dir) / fmt.name


def read_result(run_dir: Path, fmt: Format) -> dict[str, Any] | None:
    """The stored result of the run's last export to `fmt`, or None if there is none."""
    path = format_dir(run_dir, fmt) / EXPORT_RESULT
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def read_results(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Format name -> stored result, for every format the run was exported to."""
    found = {}
    for fmt in FORMATS.values():
        result = read_result(run_dir, fmt)
        if result is not None:
            found[fmt.name] = result
    return found


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def summary_line(result: dict[str, Any]) -> str:
    """One line for people: verdict, size and the parity figures (or why it failed)."""
    verdict = "ok" if result.get("passed") else "FAILED"
    parity = result.get("parity") or {}
    if parity.get("max_abs_diff") is None:
        return f"{verdict}: {result.get('reason') or 'no parity figures'}"
    line = (
        f"{verdict}  {human_size(result.get('size_bytes'))}  "
        f"max |Δp| {parity['max_abs_diff']:.1e} (tolerance {parity['tolerance']:.0e})  "
        f"top-1 agreement {parity['top1_agreement_pct']:.1f}% "
        f"on {parity['images']} images"
    )
    if result.get("reason"):
        line += f": {result['reason']}"
    return line
