"""Patches: the five views Shifted Patch Tokenization builds, and what a trained run attends to."""

import streamlit as st

from studio import attention_service
from studio.attention_maps import query_maps
from studio.images import ImageDecodeError
from studio.ui import attention_figures as af
from studio.ui import patch_figures as pf
from studio.ui.common import get_store
from studio.ui.image_picker import KEEP, decoded, digest, header, pick_image
from studio.ui.runinfo import MODEL_LABELS, short_label

PLOT_CONFIG = {"displaylogo": False, "displayModeBar": False}

st.title("Patches", anchor=False)
st.caption(
    "How a Vision Transformer cuts an image into patches, and the four copies shifted by half "
    "a patch that Shifted Patch Tokenization (Lee, Lee & Song 2021) stacks onto every patch. "
    "The views are computed by the same function as the model's SPT layer."
)


def pick_patch(chart_key: str, row_key: str, col_key: str, side: int):
    """on_select callback: a clicked patch becomes the row/column inputs' value."""

    def callback() -> None:
        index = pf.patch_from_selection(st.session_state[chart_key].selection)
        if index is not None and 0 <= index < side * side:
            st.session_state[row_key], st.session_state[col_key] = divmod(index, side)

    return callback


def patch_inputs(grid: pf.Grid, row_key: str, col_key: str, label: str) -> tuple[int, int]:
    """Row and column inputs for a patch of `grid`, kept inside the grid when it shrinks."""
    for key, centre in zip((row_key, col_key), grid.centre(), strict=True):
        current = st.session_state.get(key)
        # Written back every run, even when unchanged: after a run that ended in st.stop()
        # before these inputs, Streamlit keeps their stale state and a re-created input would
        # show its minimum while returning the old value.
        valid = current is not None and 0 <= current < grid.side
        st.session_state[key] = int(current) if valid else centre
    with st.container(horizontal=True, vertical_alignment="bottom"):
        row = st.number_input(
            f"{label} row", min_value=0, max_value=grid.side - 1, step=1, key=row_key
        )
        col = st.number_input(
            f"{label} column", min_value=0, max_value=grid.side - 1, step=1, key=col_key
        )
    return int(row), int(col)


controls, resized = st.columns([2, 3], gap="large")
with controls:
    picked = pick_image()
    with st.container(horizontal=True):
        image_size = st.number_input(
            "Image size (px)",
            min_value=1,
            max_value=4096,
            value=72,
            step=1,
            key="patches_image_size",
            help="The side the image is resized to, like a model's image_size "
            f"({pf.IMAGE_SIZE_MIN}–{pf.IMAGE_SIZE_MAX} px here).",
            persist_state=KEEP,
        )
        patch_size = st.number_input(
            "Patch size (px)",
            min_value=1,
            max_value=4096,
            value=6,
            step=1,
            key="patches_patch_size",
            help="The side of a square patch; it must divide the image size.",
            persist_state=KEEP,
        )
    problem = pf.size_problem(int(image_size), int(patch_size))
    if problem:
        st.error(problem, icon=":material/grid_off:")

pixels = None
if picked is not None:
    key = digest(picked.data)
    try:
        info = header(key, picked.data)
        draw_size = int(image_size) if pf.IMAGE_SIZE_MIN <= image_size <= pf.IMAGE_SIZE_MAX else 72
        with st.spinner("Decoding the image…"):
            pixels = decoded(key, draw_size, picked.data)
    except ImageDecodeError as err:
        with controls:
            st.error(f"Cannot read {picked.label}: {err.reason}", icon=":material/broken_image:")

if pixels is None:
    with resized:
        if picked is None:
            st.info("Pick an image on the left to see its patches.", icon=":material/image:")
        else:
            st.info("Nothing to draw: pick another image.", icon=":material/image:")
    st.stop()

grid = None if problem else pf.Grid(int(image_size), int(patch_size))
with controls:
    st.caption(
        f"**{picked.label}**: {info.format or 'image'} {info.width}×{info.height} px, "
        f"resized to {pixels.shape[0]}×{pixels.shape[0]} (aspect ratio not kept, as in training)."
    )
    if grid is not None:
        st.caption(pf.grid_summary(grid))
        selected = patch_inputs(grid, "patches_row", "patches_col", "Patch")
        dense = pf.too_dense_note(grid)
        if dense:
            st.caption(dense)

with resized:
    if grid is None:
        st.plotly_chart(
            pf.resized_figure(pixels, None), key="patches_resized_plain", config=PLOT_CONFIG
        )
        st.caption("The resized image; its patch grid appears once the sizes fit.")
        st.stop()
    st.plotly_chart(
        pf.resized_figure(pixels, grid.patch_size, selected),
        key="patches_resized_chart",
        on_select=pick_patch("patches_resized_chart", "patches_row", "patches_col", grid.side),
        selection_mode="points",
        config=PLOT_CONFIG,
    )
    st.caption("The vanilla ViT patch grid. Hover to name a patch, click to select it.")

views = pf.page_views(pixels, grid.patch_size)
st.subheader("The five views SPT concatenates", anchor=False)
st.plotly_chart(
    pf.views_figure(views, grid.patch_size, selected),
    key="patches_views_chart",
    on_select=pick_patch("patches_views_chart", "patches_row", "patches_col", grid.side),
    selection_mode="points",
    config=PLOT_CONFIG,
)
st.caption(
    "Each view is cropped by half a patch on two sides and zero-padded back to size. "
    "The model does this after normalising, so there the padding is the dataset's mean "
    "colour; here it shows black. Click a patch in any view to select it."
)
st.markdown(
    f"**Patch {grid.index(*selected)}** (row {selected[0]}, column {selected[1]}) in each view"
)
st.plotly_chart(
    pf.patch_strip_figure(views, grid.patch_size, selected),
    key="patches_strip_chart",
    config=PLOT_CONFIG,
)
st.caption(
    "One SPT token is projected from all five red squares at once (with half a patch of "
    "context around each here), so it also sees pixels of its neighbours."
)

# -- attention of a trained run -------------------------------------------------------------------

st.divider()
st.subheader("Attention of a trained run", anchor=False)
store = get_store()
runs = sorted(store.list_runs(), key=lambda r: (r.status != "completed", -r.seq))
if not runs:
    st.info(
        "No runs yet. Train one on the Train page (digits trains in about a minute); "
        "then pick it here to see what it attends to in this image.",
        icon=":material/visibility:",
    )
    st.stop()

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
    st.stop()

run = by_id[run_id]
model_cfg = run.config.get("model", {})
try:
    attention_service.usable_run(store, run.id)
    result = attention_service.cached(store, run, picked.data)
    if result is None:
        with st.spinner("Loading the model in its own process and reading its attention…"):
            result = attention_service.request(store, run.id, picked.data)
except attention_service.AttentionUnavailable as err:
    st.error(str(err), icon=":material/error:")
    st.stop()

run_grid = pf.Grid(result.image_size, result.patch_size)
top = result.top_classes(3)
lsa_note = (
    " LSA masks each token's attention to itself, so the diagonal is exactly 0."
    if result.lsa
    else ""
)
st.caption(
    f"{MODEL_LABELS.get(run.variant, run.variant)} on {run.dataset}: the image enters at "
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
