"""Runs: every run in a table; select one to watch it, several to compare their curves."""

import time

import streamlit as st

from studio.runs.artifacts import run_task
from studio.runs.migrations import StoreError
from studio.runs.naming import run_name
from studio.runs.store import ACTIVE
from studio.ui.charts import RunCurves, compare_figure, metrics_csv
from studio.ui.common import REFRESH_S, get_store
from studio.ui.compare_table import (
    caption_summary_rows,
    compared_runs,
    diff_rows,
    mixed_tasks,
    summary_rows,
)
from studio.ui.export_panel import export_panel
from studio.ui.live import run_panel
from studio.ui.run_view import offers
from studio.ui.runinfo import table_row, troubles
from studio.ui.text import md_text

store = get_store()
st.title("Runs", anchor=False)
if store.read_only:
    st.info(md_text(store.read_only), icon=":material/lock:")

# A link from a run's view (`?run=ID` to export it, `?compare=ID,ID`) picks those runs once,
# ticked in the table too; the table's own selection takes over from its next change.
for param in ("run", "compare"):
    if param in st.query_params:
        known = {r.id for r in store.list_runs()}
        linked = [i for i in st.query_params[param].split(",") if i in known]
        st.session_state["picked_ids"] = list(dict.fromkeys(linked))
        st.session_state["tick_ids"] = st.session_state["picked_ids"]
        del st.query_params[param]


@st.fragment(run_every=REFRESH_S * 2)
def runs_table() -> None:
    """The table refreshes itself so statuses and accuracies stay current."""
    try:
        store.reconcile()
        runs = store.list_runs(with_latest=True)
    except StoreError as err:  # a fragment's error would not reach app.py's handler
        st.error(md_text(err), icon=":material/database:")
        return
    if not runs:
        st.info("No runs yet: start one on the Train page.")
        return
    now = time.time()
    tick = st.session_state.pop("tick_ids", None)
    if tick is not None:
        # The table's selection is widget state: set before the table is drawn, the browser
        # ticks those rows; table_ids agreeing with it spares the rerun below.
        rows = [i for i, r in enumerate(runs) if r.id in tick]
        st.session_state["runs_table"] = {"selection": {"rows": rows, "columns": []}}
        st.session_state["table_ids"] = [runs[i].id for i in rows]
    # Each task's scores get columns only while the store holds a run of that task.
    tasks = {run_task(r) for r in runs}
    event = st.dataframe(
        [table_row(r, now, "caption" in tasks, "classify" in tasks) for r in runs],
        key="runs_table",
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        column_config={
            "Best val acc": st.column_config.NumberColumn(format="%.1f %%"),
            "Test acc": st.column_config.NumberColumn(format="%.1f %%"),
            "Best val B4": st.column_config.NumberColumn(
                format="%.3f", help="Best validation BLEU-4 of a captioning run"
            ),
            "Test B4": st.column_config.NumberColumn(
                format="%.3f", help="BLEU-4 of a captioning run on its test split"
            ),
            "Test CIDEr": st.column_config.NumberColumn(
                format="%.3f", help="CIDEr-D of a captioning run on its test split"
            ),
        },
    )
    st.caption("Select rows to act on them: one to watch it, several to overlay their curves.")
    for line in (line for r in runs for line in troubles(r)):
        st.warning(md_text(line), icon=":material/report:")
    picked = [runs[i].id for i in event.selection.rows if i < len(runs)]
    if picked != st.session_state.get("table_ids", []):
        # A selection made inside this fragment must redraw the whole page below it.
        st.session_state["table_ids"] = picked
        st.session_state["picked_ids"] = picked
        st.rerun()


runs_table()
picked_ids = st.session_state.get("picked_ids", [])
runs = {r.id: r for r in store.list_runs()}
picked = [runs[i] for i in picked_ids if i in runs]

if picked:
    with st.container(horizontal=True, vertical_alignment="center"):
        rows = [row for r in picked for row in store.metrics(r.id)]
        st.download_button(
            f"Download metrics of {len(picked)} run(s) (CSV)",
            metrics_csv(rows, {r.id: run_name(r) for r in picked}),
            file_name="metrics.csv" if len(picked) > 1 else f"{picked[0].id}-metrics.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
        deletable = [r for r in picked if r.status not in ACTIVE]
        with st.popover(
            f"Delete {len(picked)} run(s)",
            icon=":material/delete:",
            disabled=not deletable or bool(store.read_only),
        ):
            busy = [r for r in picked if r.status in ACTIVE]
            if busy:
                st.warning(
                    f"{len(busy)} selected run(s) are still training; stop them first. "
                    f"Only the other {len(deletable)} will be deleted."
                )
            st.write("This removes the runs, their metrics, checkpoints and models for good.")
            if st.button(f"Delete {len(deletable)} run(s) permanently", type="primary"):
                for r in deletable:
                    store.delete(r.id)
                st.session_state["picked_ids"] = []
                st.session_state.pop("runs_table", None)
                st.toast(f"Deleted {len(deletable)} run(s)")
                st.rerun()

usable = len(picked) == 1 and not (picked[0].damage or picked[0].files_missing)
if len(picked) == 1:
    st.divider()
    run_panel(store, picked[0].id, on_runs_page=True)
    if picked[0].status == "completed" and usable and offers(picked[0], "export"):
        export_panel(store, picked[0].id)
elif len(picked) > 1:
    st.divider()
    st.subheader("Compare", anchor=False)

    task = run_task(picked[0])

    @st.fragment(run_every=REFRESH_S * 2 if any(r.status in ACTIVE for r in picked) else None)
    def comparison() -> None:
        items = compared_runs(store, picked)
        if task == "caption":
            st.dataframe(caption_summary_rows(items), hide_index=True, key="compare_summary")
            st.caption(
                "Differences are to the first run selected. BLEU-4 and CIDEr-D are of whole "
                "captions; the test scores come from each run's test split."
            )
        else:
            st.dataframe(summary_rows(items), hide_index=True, key="compare_summary")
            st.caption(
                "Differences are to the first run selected. A test difference says whether it "
                "is beyond the noise (95 %) when both runs have an evaluation report of their "
                "model (Evaluate page, or `python -m studio evaluate RUN`)."
            )
        diff = diff_rows(picked)
        with st.container(key="compare_config_diff"):
            if diff:
                st.markdown("**Settings that differ**")
                st.dataframe(diff, hide_index=True)
            else:
                st.caption("Their settings are the same in every field.")
        show_train = st.toggle("Also show training curves (dashed)", key="compare_train")
        curves = [RunCurves(run_name(i.run), i.epochs) for i in items]
        empty = [c.label for c in curves if not c.rows]
        st.plotly_chart(
            compare_figure(curves, show_train=show_train, task=task),
            key="compare_chart",
            config={"displaylogo": False},
        )
        if empty:
            st.caption(md_text(f"No finished epoch yet: {', '.join(empty)}"))

    cannot = mixed_tasks(picked)
    if cannot:
        st.warning(md_text(cannot), icon=":material/block:")
    else:
        comparison()
elif runs:
    st.caption("Tip: select a vanilla ViT and an SPT + LSA run on the same data to compare them.")
