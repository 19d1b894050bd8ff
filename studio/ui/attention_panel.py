"""The Patches page's lower half: what a trained run attends to in the chosen image.

The maps come from the shared inference worker (the server never loads a model) and are
cached per (image, model file) in the run's folder, so a second look is instant.
"""

from __future__ import annotations

import streamlit as st

from studio.config.variants import variant_label
from studio.inference.attention_maps import cached_result, query_maps
from studio.inference.client import Refused, WorkerError, shared_client
from studio.runs.artifacts import ModelUnavailable, check_ability, model_info
from studio.runs.store import RunStore
from studio.ui import attention_figures as af
from studio.ui import patch_figures as pf
from studio.ui.image_picker import KEEP
from studio.ui.image_sources import PickedImage
from studio.ui.patch_widgets import PLOT_CONFIG, patch_inputs, pick_patch
from studio.ui.runinfo import short_label


def attention_panel(store: RunStore, picked: PickedImage) -> None:
    """A run picker, then rollout, per-head maps, temperatures and the full matrix."""
    st.subheader("Attention of a trained run", anchor=False)
    runs = sorted(store.list_runs(), key=lambda r: (r.status != "completed", -r.seq))
    if not runs:
        st.info(
            "No runs yet. Train one on the Train page (digits trains in about a minute); "
            "then pick it here to see what it attends to in this image.",
            icon=":material/visibility:",
        )
        return

    by_id = {r.id: r for r in runs}
    run_id = st.selectbox(
        "Finished run",
        list(by_id),
        index=None,
        placeholder="Pick a run to compute its attention on this image",
        format_func=lambda rid: f"{short_label(by_id[rid])} · {by_id[rid].status}",
        key="patches_run",
        persist_state=KEEP,
    )
    if run_id is None:
        st.caption(
            "The maps are computed in a separate process (the studio's server never loads models); "
            "the first look at an image takes a few seconds, later ones are cached."
        )
        return

    run = by_id[run_id]
    model_cfg = run.config.get("model", {})
    try:
        # Refused here in a millisecond, before any process is asked.
        check_ability(model_info(store, run.id, verify=False).run, "attention_maps")
        result = cached_result(store, run, picked.data)
        if result is None:
            with st.spinner("Loading the model in its own process and reading its attention…"):
                result = shared_client(store.home).attention(run.id, picked.data)
    except (ModelUnavailable, Refused, WorkerError) as err:
        st.error(str(err), icon=":material/error:")
        return

    run_grid = pf.Grid(result.image_size, result.patch_size)
    top = result.top_classes(3)
    lsa_note = (
        " LSA masks each token's attention to itself, so the diagonal is exactly 0."
        if result.lsa
        else ""
    )
    st.caption(
        f"{variant_label(run.variant)} on {run.dataset}: the image enters at "
        f"{result.meta['input_size']} px, is resized to {result.image_size} px and cut into "
        f"{run_grid.side}×{run_grid.side} patches of {result.patch_size} px "
        f"({model_cfg.get('pooling', 'flatten')} pooling).{lsa_note} It predicts "
        + ", ".join(f"**{name}** {p:.0%}" for name, p in top)
        + "."
    )
    query = patch_inputs(run_grid, "patches_query_row", "patches_query_col", "Query patch")
    st.plotly_chart(
        af.rollout_figure(result, query),
        key="patches_rollout_chart",
        on_select=pick_patch(
            "patches_rollout_chart", "patches_query_row", "patches_query_col", run_grid.side
        ),
        selection_mode="points",
        config=PLOT_CONFIG,
    )
    pooled = (
        "the class token's row"
        if result.has_class_token
        else "the mean over all output tokens (this model has no class token)"
    )
    st.caption(
        "Attention rollout (Abnar & Zuidema 2020): heads averaged, the identity added for the "
        f"residual connection, rows renormalised, multiplied through all layers; shown is {pooled}."
    )

    st.markdown(
        f"**Where query patch {run_grid.index(*query)} looks**, per layer and head "
        "(each map has its own colour range; hover for values)"
    )
    maps = query_maps(result.scores, *query, run_grid.side, result.has_class_token)
    st.plotly_chart(
        af.query_maps_figure(maps, query, result.patch_size, result.lsa),
        key="patches_heads_chart",
        config=PLOT_CONFIG,
    )

    left, right = st.columns(2, gap="large")
    with left:
        if result.lsa:
            st.markdown("**Learned temperature per layer** (lower is sharper)")
            st.plotly_chart(
                af.temperature_figure(result.temperatures, result.meta.get("key_dim")),
                key="patches_temperature_chart",
                config=PLOT_CONFIG,
            )
        st.markdown("**Attention of each token to itself**")
        st.plotly_chart(
            af.diagonal_figure(result),
            key="patches_diagonal_chart",
            config=PLOT_CONFIG,
        )
    with right:
        shown = st.session_state.get("patches_matrix_layer", 1)
        st.session_state["patches_matrix_layer"] = shown if 1 <= shown <= result.layers else 1
        layer = st.select_slider(
            "Layer of the full attention matrix",
            options=list(range(1, result.layers + 1)),
            key="patches_matrix_layer",
        )
        st.plotly_chart(
            af.matrix_figure(result, int(layer) - 1),
            key="patches_matrix_chart",
            config=PLOT_CONFIG,
        )
        st.caption(
            "Queries down, keys across, heads averaged."
            + (" The dark diagonal is LSA's mask." if result.lsa else "")
        )
