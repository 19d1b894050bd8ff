"""Export a completed run's model (.keras, SavedModel, ONNX, LiteRT) and show each parity check.

The export runs `python -m studio export RUN --json` in a subprocess: it needs keras and
TensorFlow's converters, which the Streamlit server never imports. What the table shows is
read back from the run folder (`studio.export.results`), so earlier exports show up too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import streamlit as st

from studio.export.formats import ALL, FORMATS
from studio.export.results import exports_dir, human_size, read_results
from studio.runs.store import RunStore
from studio.ui.text import md_text

TIMEOUT_S = 1800  # a ViT-B/16 on two cores: four converters and four runtimes


def run_export(store: RunStore, run_id: str, fmt: str) -> tuple[list[dict[str, Any]], str | None]:
    """(results, error): the CLI's JSON results, or the one line it refused or failed with."""
    env = {**os.environ, "STUDIO_HOME": str(store.home), "KERAS_BACKEND": "tensorflow"}
    argv = [sys.executable, "-m", "studio", "export", run_id, "--format", fmt, "--json"]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [], f"the export took longer than {TIMEOUT_S // 60} minutes and was stopped"
    try:
        return json.loads(done.stdout)["exports"], None
    except (ValueError, KeyError, TypeError):
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else "no output"
        return [], f"the export ended with code {done.returncode}: {last.removeprefix('error: ')}"


def result_row(result: dict[str, Any]) -> dict[str, Any]:
    """One table row of a stored export result."""
    parity = result.get("parity") or {}
    runtime = result.get("runtime") or {}
    return {
        "Format": result.get("label", result.get("format")),
        "Check": "passed" if result.get("passed") else "FAILED",
        "Size": human_size(result.get("size_bytes")),
        "Max |Δp|": parity.get("max_abs_diff"),
        "Tolerance": parity.get("tolerance"),
        "Top-1 agreement": parity.get("top1_agreement_pct"),
        "Images": parity.get("images"),
        "Runtime": f"{runtime['name']} {runtime['version']}" if runtime else "-",
        "File": result.get("file") or "-",
    }


def export_panel(store: RunStore, run_id: str) -> None:
    """A format picker and an Export button, then the stored parity check of each format."""
    with st.expander("Export the model", icon=":material/ios_share:"):
        st.caption(
            "Each export is run by its own runtime on the run's test images and compared with "
            "the .keras model: the largest difference in any class probability must stay "
            "within the format's tolerance."
        )
        with st.container(horizontal=True, vertical_alignment="bottom"):
            labels = {ALL: "All formats", **{f.name: f.label for f in FORMATS.values()}}
            fmt = st.selectbox(
                "Format", list(labels), format_func=labels.get, key=f"export_format_{run_id}"
            )
            clicked = st.button("Export", icon=":material/ios_share:", key=f"export_{run_id}")
        if clicked:
            with st.spinner("Exporting and checking (TensorFlow's converters: a minute or so)..."):
                _, error = run_export(store, run_id, fmt)
            if error:
                st.error(md_text(error), icon=":material/error:")
        results = read_results(store.run_dir(run_id))
        if not results:
            st.caption("Not exported yet.")
            return
        st.dataframe(
            [result_row(r) for r in results.values()],
            hide_index=True,
            column_config={
                "Max |Δp|": st.column_config.NumberColumn(format="%.1e"),
                "Tolerance": st.column_config.NumberColumn(format="%.0e"),
                "Top-1 agreement": st.column_config.NumberColumn(format="%.1f %%"),
            },
        )
        for result in results.values():
            if not result.get("passed"):
                reason = f"{result.get('label')}: {result.get('reason')}"
                st.warning(md_text(reason), icon=":material/error:")
        first = next(iter(results.values()))
        st.caption(
            f"Folder: `{exports_dir(store.run_dir(run_id))}`. Input: float32 pixels 0..255, "
            f"shape {first.get('input', {}).get('shape', '-')}; "
            f"checked on {(first.get('parity') or {}).get('image_source', '-')}."
        )
        gap = next((r for r in results.values() if r.get("float32_vs_trained")), None)
        if gap:
            st.caption(
                f"The run's model computes in {gap['trained_precision']}; the exports written "
                "by TensorFlow compute in float32: against the run's model, max |Δp| "
                f"{gap['float32_vs_trained']['max_abs_diff']:.1e}, top-1 agreement "
                f"{gap['float32_vs_trained']['top1_agreement_pct']:.1f} %."
            )
