"""The Evaluate view of a finished run: summary, per-class table, confusion matrix, mistakes
gallery, calibration and a per-class comparison with another run."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from studio.evaluation.compare import NotComparable, accuracy_difference, per_class_deltas
from studio.evaluation.report import Mistakes, current_report, per_class_csv, read_mistakes
from studio.runs.artifacts import ModelUnavailable, model_info
from studio.runs.store import Run, RunStore
from studio.ui.card_panel import card_tab
from studio.ui.evaluation_figures import confusion_figure, deltas_figure, reliability_figure
from studio.ui.text import md_text

GALLERY_SIDE = 112  # px: CIFAR's 32 px images are enlarged (nearest neighbour) to be seen
GALLERY_COLUMNS = 6
PLOTLY_CONFIG = {"displaylogo": False}


def stored_report(store: RunStore, run_id: str) -> dict[str, Any] | None:
    """The run's current report, None when it has none (or one of another model file)."""
    try:
        info = model_info(store, run_id, verify=False)
    except ModelUnavailable:
        return None
    return current_report(store.run_dir(run_id), info.sha256)


def evaluate_in_worker(store: RunStore, run_id: str) -> str | None:
    """Run `python -m studio evaluate RUN --recompute` in a child process (keras stays out of
    this server); returns the error line when it fails."""
    env = {**os.environ, "STUDIO_HOME": str(store.home)}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "evaluate", run_id, "--recompute", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ") if lines else f"exit code {done.returncode}"


def no_report(store: RunStore, run: Run) -> None:
    st.info(
        "This run has no evaluation of its current model yet (it finished before the studio "
        "computed one, or its report was removed). Computing it predicts the test split once.",
        icon=":material/analytics:",
    )
    if st.button("Evaluate now", type="primary", icon=":material/play_arrow:"):
        with st.spinner("Predicting the test split..."):
            error = evaluate_in_worker(store, run.id)
        if error:
            st.error(f"Evaluation failed: {md_text(error)}", icon=":material/error:")
        else:
            st.rerun()


def summary(report: dict[str, Any]) -> None:
    se = 100 * report["accuracy_se"]
    with st.container(horizontal=True):
        st.metric(
            "Top-1",
            f"{100 * report['accuracy']:.1f} %",
            help=f"± {se:.1f} points (one standard error on {report['images']} test images; "
            f"95 % interval about ± {1.96 * se:.1f})",
            border=True,
        )
        for key, label in (("top3", "Top-3"), ("top5", "Top-5")):
            st.metric(label, f"{100 * report[key]:.1f} %", border=True)
        st.metric("Macro F1", f"{100 * report['macro']['f1']:.1f} %", border=True)
        st.metric(
            "Calibration error",
            f"{100 * report['calibration']['ece']:.1f} pts",
            help="Expected calibration error: how far the model's confidence is from its "
            "accuracy, averaged over confidence bins (0 is perfectly calibrated).",
            border=True,
        )
        st.metric("Test images", f"{report['images']:,}", border=True)
    st.caption(
        f"Top-1 {100 * report['accuracy']:.1f} % ± {se:.1f} points (one standard error): "
        "differences between runs smaller than about twice that are within the noise of a "
        "test set this size."
    )


def per_class_tab(report: dict[str, Any], run_id: str) -> None:
    rows = [
        {
            "Class": r["class"],
            "Precision": 100 * r["precision"],
            "Recall": 100 * r["recall"],
            "F1": 100 * r["f1"],
            "Support": r["support"],
        }
        for r in report["per_class"]
    ]
    for average in ("macro", "weighted"):
        a = report[average]
        rows.append(
            {
                "Class": f"({average} average)",
                "Precision": 100 * a["precision"],
                "Recall": 100 * a["recall"],
                "F1": 100 * a["f1"],
                "Support": report["images"],
            }
        )
    percent = st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100)
    st.dataframe(
        rows,
        hide_index=True,
        column_config={"Precision": percent, "Recall": percent, "F1": percent},
        key="eval_per_class",
    )
    st.download_button(
        "Download the per-class table (CSV)",
        per_class_csv(report),
        file_name=f"{run_id}-per-class.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


def confusion_tab(report: dict[str, Any]) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        scale = st.segmented_control(
            "Cells", ["Counts", "Share of the true class"], default="Counts", key="eval_scale"
        )
        grouped = st.toggle(
            "Put confused classes side by side",
            value=len(report["class_names"]) > 3,
            key="eval_grouped",
            help="Orders the classes by hierarchical clustering of their mutual confusion.",
        )
    st.plotly_chart(
        confusion_figure(report, normalise=scale != "Counts", grouped=grouped),
        key="eval_confusion",
        config=PLOTLY_CONFIG,
    )
    pairs = report["confused_pairs"]
    st.markdown("**Most confused pairs**")
    if not pairs:
        st.write("None: every test image was classified correctly.")
        return
    st.dataframe(
        [
            {
                "True class": p["true"],
                "Predicted as": p["predicted"],
                "Images": p["count"],
                "Share of true class": 100 * p["share"],
            }
            for p in pairs
        ],
        hide_index=True,
        column_config={"Share of true class": st.column_config.NumberColumn(format="%.1f %%")},
        key="eval_pairs",
    )


def _thumbnail(image: np.ndarray) -> Image.Image:
    side = image.shape[0]
    scale = max(1, GALLERY_SIDE // side)
    return Image.fromarray(image).resize((side * scale, side * scale), Image.Resampling.NEAREST)


def mistakes_tab(report: dict[str, Any], mistakes: Mistakes | None) -> None:
    names = report["class_names"]
    if mistakes is None:
        st.info("This run's mistakes gallery is missing: evaluate it again to rebuild it.")
        return
    if mistakes.total == 0:
        st.success("No mistakes: every test image was classified correctly.")
        return
    everything = "All classes"
    with st.container(horizontal=True):
        true = st.selectbox("True class", [everything, *names], key="eval_true")
        predicted = st.selectbox("Predicted as", [everything, *names], key="eval_pred")
        shown = st.number_input("Show", 6, 120, 24, step=6, key="eval_count")
    chosen = mistakes.select(
        true=None if true == everything else names.index(true),
        predicted=None if predicted == everything else names.index(predicted),
    )
    kept = "" if len(mistakes) == mistakes.total else f" (the gallery keeps {len(mistakes)})"
    st.caption(
        f"{len(chosen)} mistakes match, most confident first. The test split has "
        f"{mistakes.total} mistakes in all{kept}."
    )
    for start in range(0, min(len(chosen), int(shown)), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, i in zip(cols, chosen[start : start + GALLERY_COLUMNS], strict=False):
            guesses = " · ".join(
                f"{names[c]} {100 * p:.0f}%"
                for c, p in zip(mistakes.top[i], mistakes.probs[i], strict=True)
            )
            true = md_text(names[mistakes.true[i]])
            col.image(_thumbnail(mistakes.images[i]), caption=f"true {true}")
            col.caption(md_text(f"model: {guesses}"))


def calibration_tab(report: dict[str, Any]) -> None:
    st.plotly_chart(reliability_figure(report), key="eval_reliability", config=PLOTLY_CONFIG)
    st.caption(
        "Each bar holds the test images whose top-class confidence falls in that bin; its "
        "height is the share of them the model got right. Bars below the diagonal mean the "
        "model is over-confident there."
    )


def compare_tab(store: RunStore, run: Run, report: dict[str, Any], others: list[Run]) -> None:
    from studio.runs.naming import run_choice

    candidates = [r for r in others if r.id != run.id and stored_report(store, r.id)]
    if not candidates:
        st.info("No other evaluated run to compare with yet.")
        return
    other_id = st.selectbox(
        "Compare with (B)",
        [r.id for r in candidates],
        format_func=lambda i: run_choice(next(r for r in candidates if r.id == i)),
        key="eval_other",
    )
    other = stored_report(store, other_id)
    try:
        rows = per_class_deltas(report, other)
    except NotComparable as err:
        st.warning(md_text(f"These runs cannot be compared class by class: {err}."))
        return
    diff = accuracy_difference(report, other)
    verdict = "beyond" if diff["beyond_noise"] else "within"
    st.markdown(
        f"**A** = this run, **B** = {other_id}: top-1 {100 * diff['accuracy_a']:.1f} % vs "
        f"{100 * diff['accuracy_b']:.1f} % ({100 * diff['delta']:+.1f} points, {verdict} the "
        f"±{100 * diff['noise95']:.1f} points chance alone gives on test sets of these sizes)."
    )
    metric = st.segmented_control(
        "Per-class difference in", ["f1", "recall", "precision"], default="f1", key="eval_m"
    )
    st.plotly_chart(deltas_figure(rows, metric or "f1"), key="eval_deltas", config=PLOTLY_CONFIG)


def evaluation_view(store: RunStore, run: Run, others: list[Run]) -> None:
    """Everything the studio knows of how `run`'s model does on its test split."""
    report = stored_report(store, run.id)
    if report is None:
        no_report(store, run)
        return
    summary(report)
    tabs = st.tabs(
        ["Per class", "Confusion matrix", "Mistakes", "Calibration", "Compare", "Model card"]
    )
    with tabs[0]:
        per_class_tab(report, run.id)
    with tabs[1]:
        confusion_tab(report)
    with tabs[2]:
        mistakes_tab(report, read_mistakes(store.run_dir(run.id)))
    with tabs[3]:
        calibration_tab(report)
    with tabs[4]:
        compare_tab(store, run, report, others)
    with tabs[5]:
        card_tab(store, run.id)
