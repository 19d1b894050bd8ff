"""The Patches page's lower half: what a trained run attends to in the chosen image.

The maps come from the shared inference worker (the server never loads a model) and are
cached per (image, model file) in the run's folder, so a second look is instant; so is each
run's mean attention distance over its test images (cached per model file).
"""

from __future__ import annotations

import streamlit as st

from studio.config.variants import VARIANTS, variant_label
from studio.inference.attention_maps import (
    DistanceResult,
    cached_distance,
    cached_result,
    familiarity,
    query_maps,
)
from studio.inference.client import Refused, WorkerError, shared_client
from studio.runs.artifacts import ModelUnavailable, check_ability, model_info, usable_runs
from studio.runs.naming import dataset_label, run_name
from studio.runs.store import Run, RunStore
from studio.ui import attention_figures as af
from studio.ui import patch_figures as pf
from studio.ui.image_picker import KEEP
from studio.ui.image_sources import PickedImage
from studio.ui.patch_widgets import PLOT_CONFIG, RUN_KEY, patch_inputs, pick_patch
from studio.ui.quick_start import quick_start
from studio.ui.text import md_text


def attention_panel(store: RunStore, picked: PickedImage) -> None:
    """A run picker, then rollout, per-head maps, temperatures and the full matrix."""
    st.subheader("Attention of a trained run", anchor=False)
    runs = sorted(store.list_runs(), key=lambda r: (r.status != "completed", -r.seq))
    if not usable_runs(store):
        quick_start(
            store, "to show what it attends to in this image", ":material/visibility:", RUN_KEY
        )
        return

    by_id = {r.id: r for r in runs}
    run_id = st.selectbox(
        "Finished run",
        list(by_id),
        index=None,
        placeholder="Pick a run to compute its attention on this image",
        format_func=lambda rid: f"{run_name(by_id[rid])} · {by_id[rid].status}",
        key=RUN_KEY,
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
        st.error(md_text(err), icon=":material/error:")
        return

    distance, distance_error = _distance(store, run)
    run_grid = pf.Grid(result.image_size, result.patch_size)
    top = result.top_classes(3)
    lsa_note = (
        " LSA masks each token's attention to itself, so the diagonal is exactly 0."
        if result.lsa
        else ""
    )
    st.caption(
        f"{variant_label(run.variant)} on {md_text(dataset_label(run.dataset))}: the image "
        f"enters at {result.meta['input_size']} px, is resized to {result.image_size} px and "
        f"cut into {run_grid.side}×{run_grid.side} patches of {result.patch_size} px "
        f"({model_cfg.get('pooling', 'flatten')} pooling).{lsa_note} It predicts "
        + ", ".join(f"**{md_text(name)}** {p:.0%}" for name, p in top)
        + "."
    )
    seen = familiarity(
        result.probs,
        result.meta.get("class_names") or [],
        None if distance is None else distance.reference_top,
        result.pixels,
        None if distance is None else distance.reference_stats,
    )
    if seen.unfamiliar:
        st.warning(md_text(seen.message), icon=":material/help:")
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
    if result.prefix_tokens > 1:
        pooled = (
            "the class token's row (its head learns from the labels) beside the distillation "
            "token's (its head learns from the teacher), in one colour range; DeiT predicts "
            "with the mean of both heads"
        )
    elif result.has_class_token:
        pooled = "the class token's row"
    else:
        pooled = "the mean over all output tokens (this model has no class token)"
    st.caption(
        "Attention rollout (Abnar & Zuidema 2020): heads averaged, the identity added for the "
        f"residual connection, rows renormalised, multiplied through all layers; shown is {pooled}."
    )

    st.markdown(
        f"**Where query patch {run_grid.index(*query)} looks**, per layer and head "
        "(each map has its own colour range; hover for values)"
    )
    maps = query_maps(result.scores, *query, run_grid.side, result.prefix_tokens)
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
            if result.meta.get("key_dim"):
                st.dataframe(
                    af.temperature_rows(result.temperatures, int(result.meta["key_dim"])),
                    hide_index=True,
                    key="patches_temperature_table",
                )
                st.caption(
                    "LSA's temperature starts at √key_dim, the scale plain attention divides "
                    "by; below it the softmax is sharper than a vanilla ViT's."
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

    st.divider()
    distance_section(store, run, distance, distance_error)


def _distance(store: RunStore, run: Run) -> tuple[DistanceResult | None, str | None]:
    """The run's mean attention distance (cached, else asked of the worker), or the reason."""
    found = cached_distance(store, run)
    if found is not None:
        return found, None
    try:
        with st.spinner("Measuring attention distance on the run's test images…"):
            return shared_client(store.home).attention_distance(run.id), None
    except (Refused, WorkerError) as err:
        return None, str(err)


def _comparable(store: RunStore, run: Run) -> list[Run]:
    """Completed runs other than `run` whose attention can be read, newest first."""
    return [
        r
        for r in sorted(store.list_runs(), key=lambda r: -r.seq)
        if r.id != run.id
        and r.status == "completed"
        and getattr(VARIANTS.get(r.variant), "attention_maps", False)
    ]


def distance_section(
    store: RunStore, run: Run, distance: DistanceResult | None, error: str | None
) -> None:
    """Mean attention distance per layer and head, with a second run to overlay."""
    st.subheader("Mean attention distance", anchor=False)
    if distance is None:
        st.info(f"Not measured: {md_text(error)}", icon=":material/straighten:")
        return
    others = {r.id: r for r in _comparable(store, run)}
    other_id = st.selectbox(
        "Compare with",
        list(others),
        index=None,
        placeholder="Another finished run, e.g. vanilla ViT against SPT + LSA",
        format_func=lambda rid: run_name(others[rid]),
        key="patches_compare_run",
    )
    runs = [(f"#{run.seq} {variant_label(run.variant)}", distance)]
    if other_id is not None:
        other = others[other_id]
        found, reason = _distance(store, other)
        if found is None:
            st.warning(
                f"Run #{other.seq} cannot be compared: {md_text(reason)}", icon=":material/error:"
            )
        else:
            runs.append((f"#{other.seq} {variant_label(other.variant)}", found))
    st.plotly_chart(af.distance_figure(runs), key="patches_distance_chart", config=PLOT_CONFIG)
    sources = "; ".join(
        f"{label}: {r.meta.get('images', '?')} {r.meta.get('source', 'images')}"
        for label, r in runs
    )
    st.caption(
        "For each head, how far (in pixels of the model's input) a patch's attention reaches: "
        "attention weight times the distance between patch centres, summed over keys and "
        "averaged over query patches and images (Dosovitskiy et al. 2020, fig. 7). Class and "
        "distillation tokens have no place in the image: their share is left out and each "
        "patch's attention renormalised over the patches. Low means local, like a "
        "convolution; under LSA a patch cannot attend to itself, so its own zero distance is "
        f"never counted. Measured on {sources}."
    )
