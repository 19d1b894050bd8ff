"""The evaluation report as plain text, for the terminal (`python -m studio evaluate RUN`)."""

from __future__ import annotations

from typing import Any

# Longer per-class tables show their best and worst classes only (use --csv for all).
FULL_TABLE_UP_TO = 30
PAIRS_SHOWN = 5


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def _class_rows(rows: list[dict[str, Any]]) -> list[str]:
    width = max(8, *(len(r["class"]) for r in rows))
    lines = [f"  {'class':<{width}}  precision  recall      f1  support"]
    for r in rows:
        lines.append(
            f"  {r['class']:<{width}}     {_pct(r['precision'])}  {_pct(r['recall'])}  "
            f"{_pct(r['f1'])}  {r['support']:7d}"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    """Summary, per-class table, averages, most-confused pairs and calibration."""
    n = report["images"]
    se = report["accuracy_se"]
    lines = [
        f"test split: {n} images",
        f"  top-1 {_pct(report['accuracy']).strip()} (± {100 * se:.1f} points, one standard "
        f"error)  top-3 {_pct(report.get('top3')).strip()}  top-5 "
        f"{_pct(report.get('top5')).strip()}  loss {report['loss']:.4f}",
        "",
    ]
    rows = report["per_class"]
    if len(rows) <= FULL_TABLE_UP_TO:
        lines += _class_rows(rows)
    else:
        by_f1 = sorted(rows, key=lambda r: r["f1"])
        lines.append(f"per class ({len(rows)} classes: the 10 worst and 10 best by F1; --csv)")
        lines += [*_class_rows(by_f1[:10]), "  ...", *_class_rows(by_f1[-10:])[1:]]
    for average in ("macro", "weighted"):
        a = report[average]
        lines.append(
            f"  {average + ' avg':<12} precision {_pct(a['precision']).strip()}  recall "
            f"{_pct(a['recall']).strip()}  f1 {_pct(a['f1']).strip()}"
        )
    pairs = report["confused_pairs"][:PAIRS_SHOWN]
    lines += ["", "most confused (true -> predicted):"]
    lines += [
        f"  {p['true']} -> {p['predicted']}: {p['count']} images "
        f"({100 * p['share']:.0f}% of {p['true']})"
        for p in pairs
    ] or ["  none: every test image was classified correctly"]
    lines += [
        "",
        f"calibration: expected calibration error {100 * report['calibration']['ece']:.1f} "
        f"points over {len(report['calibration']['bins'])} bins",
    ]
    return "\n".join(lines)


def format_deltas(
    rows: list[dict[str, Any]], diff: dict[str, Any], label_a: str, label_b: str
) -> str:
    """Top-1 of two runs with the noise, then per-class recall and F1 and the difference
    B - A, largest change first."""
    width = max(8, *(len(r["class"]) for r in rows))
    verdict = "beyond" if diff["beyond_noise"] else "within"
    lines = [
        f"A = {label_a}",
        f"B = {label_b}",
        f"top-1 A {_pct(diff['accuracy_a']).strip()}, B {_pct(diff['accuracy_b']).strip()}: "
        f"{100 * diff['delta']:+.1f} points, {verdict} the ±{100 * diff['noise95']:.1f} "
        "points chance alone gives on test sets of these sizes (95 %)",
        f"  {'class':<{width}}  recall A  recall B   delta   F1 A    F1 B    delta",
    ]
    for r in sorted(rows, key=lambda r: -abs(r["delta_f1"])):
        lines.append(
            f"  {r['class']:<{width}}  {_pct(r['recall_a'])}    {_pct(r['recall_b'])}  "
            f"{100 * r['delta_recall']:+6.1f}  {_pct(r['f1_a'])}  {_pct(r['f1_b'])}  "
            f"{100 * r['delta_f1']:+6.1f}"
        )
    return "\n".join(lines)
