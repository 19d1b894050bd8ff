"""Patches: the five views Shifted Patch Tokenization builds, and what a trained run attends to."""

import streamlit as st

from studio.datasets.images import DecoderBusy, ImageDecodeError
from studio.ui import patch_figures as pf
from studio.ui.attention_panel import attention_panel
from studio.ui.common import get_store
from studio.ui.image_picker import decoded, digest, header, pick_image
from studio.ui.patch_widgets import (
    PLOT_CONFIG,
    RUN_KEY,
    follow_run_sizes,
    patch_inputs,
    pick_patch,
    size_inputs,
)
from studio.ui.text import md_text

st.title("Patches", anchor=False)
st.caption(
    "How a Vision Transformer cuts an image into patches, and the four copies shifted by half "
    "a patch that Shifted Patch Tokenization (Lee, Lee & Song 2021) stacks onto every patch. "
    "The views are computed by the same function as the model's SPT layer."
)


if "run" in st.query_params:
    # A run's view links here with `?run=ID`: picked once (the sizes follow it), before the
    # size inputs read the pick; the picker takes over after.
    if any(r.id == st.query_params["run"] for r in get_store().list_runs()):
        st.session_state[RUN_KEY] = st.query_params["run"]
    del st.query_params["run"]

controls, resized = st.columns([2, 3], gap="large")
with controls:
    picked = pick_image()
    following = follow_run_sizes(get_store())
    image_size, patch_size = size_inputs()
    if following:
        st.caption(following)
    problem = pf.size_problem(int(image_size), int(patch_size))
    if problem:
        st.error(md_text(problem), icon=":material/grid_off:")

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
            st.error(
                md_text(f"Cannot read {picked.label}: {err.reason}"), icon=":material/broken_image:"
            )
    except DecoderBusy as err:
        with controls:
            st.warning(
                md_text(f"{str(err)[:1].upper()}{str(err)[1:]}."), icon=":material/hourglass:"
            )

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

st.divider()
attention_panel(get_store(), picked)
