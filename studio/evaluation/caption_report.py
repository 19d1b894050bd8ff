"""A captioning run's test report (`evaluation.json` with `task: caption`): reading it back
only when it is of the current model, and showing it as text or CSV. Keras-free."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from studio.evaluation.report import current_report

# Bumped when the report's fields change: an older report is recomputed, never misread.
CAPTION_FORMAT = "caption-1"
CSV_COLUMNS = ("image", "caption", "cider", "references")


def current_caption_report(run_dir: Path, model_sha256: str | None) -> dict[str, Any] | None:
    """The stored caption report if it was made from this model file in this format."""
    return current_report(run_dir, model_sha256, CAPTION_FORMAT)


def format_caption_report(report: dict[str, Any], worst: int = 5) -> str:
    """Scores, then the captions the model got most wrong (lowest CIDEr-D) beside a
    reference: where it fails, in words."""
    s = report["scores"]
    lines = [
        f"test split, {s['images']} images, beam width {report['beam_width']}",
        f"  BLEU-4 {s['bleu4']:.3f}  (BLEU-1 {s['bleu1']:.3f}, BLEU-2 {s['bleu2']:.3f}, "
        f"BLEU-3 {s['bleu3']:.3f})",
        f"  CIDEr-D {s['cider']:.3f}",
    ]
    captions = report.get("captions") or []
    if captions and worst:
        lines.append(f"\nlowest CIDEr-D ({min(worst, len(captions))} of {len(captions)}):")
        for row in captions[:worst]:
            lines.append(f"  {row['image']}  CIDEr-D {row['cider']:.2f}")
            lines.append(f"    wrote: {row['caption'] or '(nothing)'}")
            lines.append(f"    truth: {row['references'][0]}")
    return "\n".join(lines)


def captions_csv(report: dict[str, Any]) -> str:
    """Every test image's caption as CSV: image, caption, cider, references (joined by |)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report.get("captions") or []:
        writer.writerow(
            [row["image"], row["caption"], f"{row['cider']:.4f}", " | ".join(row["references"])]
        )
    return out.getvalue()


def compare_caption_reports(a: dict[str, Any], b: dict[str, Any], a_id: str, b_id: str) -> str:
    """Two caption runs' test scores side by side, with B minus A."""
    lines = [f"{'':12}{a_id:>28}{b_id:>28}{'B - A':>10}"]
    for key, label in (("bleu4", "BLEU-4"), ("cider", "CIDEr-D")):
        x, y = a["scores"][key], b["scores"][key]
        lines.append(f"{label:12}{x:>28.3f}{y:>28.3f}{y - x:>+10.3f}")
    if a["scores"]["images"] != b["scores"]["images"]:
        lines.append(
            f"note: scored on different test splits ({a['scores']['images']} and "
            f"{b['scores']['images']} images); the difference mixes models and data"
        )
    return "\n".join(lines)
