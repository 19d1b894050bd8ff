"""The Patches page's logic: the five SPT views of an image, patch geometry, Plotly figures.

The views come from `studio.layers.shift_geometry.shift_views` with numpy, the very function
the model's `ShiftedPatchTokenization` layer calls with `keras.ops`, so the picture cannot
drift from the model. No Streamlit and no keras here (the module imports
`studio.layers.shift_geometry` directly; the `studio.layers` package loads keras lazily).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from studio.layers.shift_geometry import VIEW_NAMES, shift_views

IMAGE_SIZE_MIN = 4
IMAGE_SIZE_MAX = 512
# Above this many patches the invisible hover targets (one marker per patch and view) would
# make the browser sluggish; the row/column inputs still pick a patch.
MAX_HOVER_PATCHES = 4096
# A patch drawn smaller than this many screen pixels would turn the grid into a solid mesh.
MIN_PATCH_PX = 4
VIEW_PX = 260  # about how wide one view is drawn in the five-view figure
HIGHLIGHT = "#ff2b2b"
VIEW_HELP = {
    "ORIGINAL": "the image itself",
    "LEFT-UP": "shifted half a patch left and up",
    "LEFT-DOWN": "shifted half a patch left and down",
    "RIGHT-UP": "shifted half a patch right and up",
    "RIGHT-DOWN": "shifted half a patch right and down",
}


# -- sizes ------------------------------------------------------------------------------------


def divisors(n: int) -> list[int]:
    """Every patch size that tiles an n-pixel image exactly."""
    return [d for d in range(1, n + 1) if n % d == 0]


def size_problem(image_size: int, patch_size: int) -> str | None:
    """Why (image_size, patch_size) cannot be tokenised, in plain words; None when it can."""
    if not IMAGE_SIZE_MIN <= image_size <= IMAGE_SIZE_MAX:
        return (
            f"Image size {image_size} px is outside {IMAGE_SIZE_MIN}–{IMAGE_SIZE_MAX} px, "
            "the range this page draws."
        )
    if patch_size < 1:
        return f"Patch size {patch_size} px must be at least 1 px."
    if patch_size > image_size:
        return (
            f"A {patch_size}-px patch is larger than the {image_size}-px image: "
            "there would be no patch at all."
        )
    if image_size % patch_size:
        fitting = [d for d in divisors(image_size) if 1 < d < image_size]
        lower = image_size - image_size % patch_size
        upper = lower + patch_size
        sizes = f"{lower} or {upper} px" if lower >= IMAGE_SIZE_MIN else f"{upper} px"
        return (
            f"{image_size} px is not divisible by {patch_size} px: "
            f"{image_size // patch_size} patches per row would leave a "
            f"{image_size % patch_size}-px strip that no patch covers, and the SPT layer refuses "
            f"such a pair. Patch sizes that fit {image_size} px: "
            f"{', '.join(map(str, fitting)) or 'only 1 and the image size itself'}; "
            f"or make the image {sizes} for {patch_size}-px patches."
        )
    return None


def run_sizes(config: Mapping) -> tuple[int, int] | None:
    """(image_size, patch_size) of a run's model from its config, or None when the config
    lacks them or this page cannot draw them."""
    model = config.get("model") if isinstance(config, Mapping) else None
    try:
        sizes = int(model["image_size"]), int(model["patch_size"])
    except (TypeError, KeyError, ValueError):
        return None
    return None if size_problem(*sizes) else sizes


@dataclass(frozen=True)
class Grid:
    """How an image_size x image_size image is cut into patch_size patches."""

    image_size: int
    patch_size: int

    @property
    def side(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.side**2

    @property
    def half(self) -> int:
        return self.patch_size // 2

    def index(self, row: int, col: int) -> int:
        return row * self.side + col

    def cell(self, index: int) -> tuple[int, int]:
        return divmod(int(index), self.side)

    def clamp(self, row: int, col: int) -> tuple[int, int]:
        last = self.side - 1
        return min(max(int(row), 0), last), min(max(int(col), 0), last)

    def centre(self) -> tuple[int, int]:
        return self.side // 2, self.side // 2


# -- views and patches ------------------------------------------------------------------------


def page_views(pixels: np.ndarray, patch_size: int) -> dict[str, np.ndarray]:
    """The five (H, W, C) views of one image, by name, exactly as the SPT layer builds them."""
    if pixels.ndim != 3:
        raise ValueError(f"pixels must be (H, W, C); got shape {pixels.shape}")
    views = shift_views(pixels[None], patch_size, np)
    return {name: view[0] for name, view in zip(VIEW_NAMES, views, strict=True)}


def patch_pixels(view: np.ndarray, patch_size: int, row: int, col: int) -> np.ndarray:
    """The (patch_size, patch_size, C) pixels of patch (row, col) of one view."""
    top, left = row * patch_size, col * patch_size
    return view[top : top + patch_size, left : left + patch_size]


def flat_patches(views: Mapping[str, np.ndarray], patch_size: int) -> np.ndarray:
    """(num_patches, patch_size**2 * C * 5): what each SPT token is projected from.

    Row-major patches, (row, col, channel) inside a patch, the five views concatenated on
    channels in VIEW_NAMES order: the layout of `ShiftedPatchTokenization.patches`.
    """
    stacked = np.concatenate([views[name] for name in VIEW_NAMES], axis=-1)
    size, channels = stacked.shape[0], stacked.shape[-1]
    grid = size // patch_size
    x = stacked.reshape(grid, patch_size, grid, patch_size, channels).transpose(0, 2, 1, 3, 4)
    return x.reshape(grid * grid, patch_size * patch_size * channels)


def source_offset(name: str, half: int) -> tuple[int, int]:
    """(rows, cols) to add to a view's pixel position to find it in the original image."""
    return {
        "ORIGINAL": (0, 0),
        "LEFT-UP": (half, half),
        "LEFT-DOWN": (-half, half),
        "RIGHT-UP": (half, -half),
        "RIGHT-DOWN": (-half, -half),
    }[name]


def patch_from_selection(selection) -> int | None:
    """Patch index from a `st.plotly_chart(on_select=...)` selection; None if nothing picked."""
    if not selection:
        return None
    points = selection.get("points") if isinstance(selection, Mapping) else None
    for point in reversed(points or []):
        data = point.get("customdata")
        # Plotly sends a row of a 2-D customdata as a list, or as {"0": ..., "1": ...} when
        # the figure carried it as a typed array.
        if isinstance(data, Mapping):
            data = data.get("0", data.get(0))
        elif isinstance(data, Sequence) and not isinstance(data, str):
            data = data[0] if data else None
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return int(data)
    return None


# -- figure pieces ----------------------------------------------------------------------------


def png_data_uri(pixels: np.ndarray, scale: int = 1) -> str:
    """A PNG data URI of uint8 (H, W, 3) pixels, enlarged `scale` times with hard edges."""
    if scale > 1:
        pixels = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=1
    )
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def display_scale(size: int, target_px: int = VIEW_PX) -> int:
    """Integer enlargement that shows `size` pixels crisply at about `target_px`."""
    return max(1, min(32, round(target_px / max(size, 1))))


def image_trace(pixels: np.ndarray, extent: float | None = None, name: str = "") -> go.Image:
    """An image in pixel coordinates: pixel (r, c) covers [c-0.5, c+0.5] x [r-0.5, r+0.5].

    With `extent`, the image is stretched to cover `extent` units instead of its own size
    (used to lay a run's input image over its model-size grid).
    """
    size = pixels.shape[0]
    scale = display_scale(size)
    step = (extent or size) / (size * scale)
    return go.Image(
        source=png_data_uri(pixels, scale),
        x0=-0.5 + step / 2,
        y0=-0.5 + step / 2,
        dx=step,
        dy=step,
        hoverinfo="skip",
        name=name,
    )


def grid_traces(grid: Grid, xaxis: str = "x", yaxis: str = "y") -> list[go.Scatter]:
    """Patch boundaries as two line traces (a dark halo under a light line), or none if dense."""
    if grid.side > VIEW_PX // MIN_PATCH_PX:
        return []
    xs: list[float | None] = []
    ys: list[float | None] = []
    low, high = -0.5, grid.image_size - 0.5
    for k in range(1, grid.side):
        at = k * grid.patch_size - 0.5
        xs += [at, at, None, low, high, None]
        ys += [low, high, None, at, at, None]
    style = {"mode": "lines", "hoverinfo": "skip", "showlegend": False, "xaxis": xaxis}
    return [
        go.Scatter(
            x=xs, y=ys, yaxis=yaxis, line={"color": "rgba(0,0,0,0.45)", "width": 3}, **style
        ),
        go.Scatter(
            x=xs, y=ys, yaxis=yaxis, line={"color": "rgba(255,255,255,0.85)", "width": 1}, **style
        ),
    ]


def hover_trace(
    grid: Grid, label: str, xaxis: str = "x", yaxis: str = "y", px: float = VIEW_PX
) -> go.Scatter | None:
    """Invisible markers at patch centres: hover names the patch, a click selects it."""
    if grid.num_patches > MAX_HOVER_PATCHES:
        return None
    rows, cols = np.divmod(np.arange(grid.num_patches), grid.side)
    centre = (grid.patch_size - 1) / 2
    marker_px = max(6.0, min(48.0, px / grid.side))
    return go.Scatter(
        x=cols * grid.patch_size + centre,
        y=rows * grid.patch_size + centre,
        mode="markers",
        marker={"size": marker_px, "symbol": "square", "color": "rgba(0,0,0,0)"},
        customdata=np.stack([np.arange(grid.num_patches), rows, cols], axis=1),
        hovertemplate=(
            "patch %{customdata[0]}<br>row %{customdata[1]}, col %{customdata[2]}"
            f"<extra>{label}</extra>"
        ),
        showlegend=False,
        name=label,
        xaxis=xaxis,
        yaxis=yaxis,
        # Keep every marker invisible whether or not it is selected.
        selected={"marker": {"opacity": 0}},
        unselected={"marker": {"opacity": 0}},
    )


def highlight_shape(
    grid: Grid, row: int, col: int, xref: str = "x", yref: str = "y", offset=(0, 0)
) -> dict:
    """A red frame around patch (row, col), optionally moved by `offset` (rows, cols) pixels."""
    p = grid.patch_size
    top, left = row * p - 0.5 + offset[0], col * p - 0.5 + offset[1]
    return {
        "type": "rect",
        "xref": xref,
        "yref": yref,
        "x0": left,
        "x1": left + p,
        "y0": top,
        "y1": top + p,
        "line": {"color": HIGHLIGHT, "width": 3},
        "layer": "above",
    }


def image_layout(fig: go.Figure, height: int, top: int) -> None:
    """Layout of a figure of images: fixed height, thin margins, hover on the nearest patch."""
    fig.update_layout(
        height=height,
        margin={"l": 4, "r": 4, "t": top, "b": 4},
        hovermode="closest",
        # -1: hover reaches a patch from anywhere inside it, not only near its centre.
        hoverdistance=-1,
        dragmode=False,
        showlegend=False,
    )


def pixel_axes(fig: go.Figure, extent: float, row: int | None = None, col: int | None = None):
    bare = {
        "showticklabels": False,
        "ticks": "",
        "showgrid": False,
        "zeroline": False,
        "showline": False,
        "constrain": "domain",
        **({} if row is None else {"row": row, "col": col}),
    }
    fig.update_xaxes(range=[-0.5, extent - 0.5], **bare)
    # Reversed: row 0 of the image is at the top, as in the image itself.
    fig.update_yaxes(range=[extent - 0.5, -0.5], **bare)


def axis_names(index: int) -> tuple[str, str]:
    suffix = "" if index == 1 else str(index)
    return f"x{suffix}", f"y{suffix}"


# -- figures ----------------------------------------------------------------------------------


def resized_figure(
    pixels: np.ndarray, patch_size: int | None, selected: tuple[int, int] | None = None
) -> go.Figure:
    """The image at the model's size with the vanilla ViT patch grid; click a patch to pick it.

    With `patch_size` None (a pair that does not tile) only the image is drawn.
    """
    size = pixels.shape[0]
    fig = go.Figure()
    fig.add_trace(image_trace(pixels, name="image"))
    if patch_size is not None:
        grid = Grid(size, patch_size)
        for trace in grid_traces(grid):
            fig.add_trace(trace)
        target = hover_trace(grid, "image", px=360)
        if target is not None:
            fig.add_trace(target)
        if selected is not None:
            fig.add_shape(highlight_shape(grid, *selected))
    pixel_axes(fig, size)
    fig.update_yaxes(scaleanchor="x")
    image_layout(fig, height=380, top=4)
    return fig


def views_figure(
    views: Mapping[str, np.ndarray],
    patch_size: int,
    selected: tuple[int, int] | None = None,
) -> go.Figure:
    """The five views side by side, each with the patch grid; the selected patch framed in all.

    Hovering names the patch under the cursor; clicking selects it.
    """
    size = views["ORIGINAL"].shape[0]
    grid = Grid(size, patch_size)
    fig = make_subplots(
        rows=1,
        cols=len(VIEW_NAMES),
        subplot_titles=list(VIEW_NAMES),
        horizontal_spacing=0.015,
    )
    for i, name in enumerate(VIEW_NAMES, start=1):
        xaxis, yaxis = axis_names(i)
        fig.add_trace(image_trace(views[name], name=name), row=1, col=i)
        for trace in grid_traces(grid, xaxis, yaxis):
            fig.add_trace(trace, row=1, col=i)
        target = hover_trace(grid, name, xaxis, yaxis)
        if target is not None:
            fig.add_trace(target, row=1, col=i)
        if selected is not None:
            fig.add_shape(highlight_shape(grid, *selected, xref=xaxis, yref=yaxis))
        pixel_axes(fig, size, row=1, col=i)
        fig.update_yaxes(scaleanchor=xaxis, row=1, col=i)
    fig.update_annotations(font={"size": 13})
    image_layout(fig, height=VIEW_PX + 40, top=28)
    return fig


def patch_strip_figure(
    views: Mapping[str, np.ndarray], patch_size: int, selected: tuple[int, int]
) -> go.Figure:
    """The selected patch in each of the five views, enlarged, with half a patch of context.

    The red frame is the patch one token is cut from: the same place in every view, showing
    different pixels.
    """
    size = views["ORIGINAL"].shape[0]
    grid = Grid(size, patch_size)
    row, col = selected
    margin = max(grid.half, 1)
    top = max(row * patch_size - margin, 0)
    left = max(col * patch_size - margin, 0)
    bottom = min((row + 1) * patch_size + margin, size)
    right = min((col + 1) * patch_size + margin, size)
    fig = make_subplots(
        rows=1,
        cols=len(VIEW_NAMES),
        subplot_titles=[VIEW_HELP[name] for name in VIEW_NAMES],
        horizontal_spacing=0.015,
    )
    extent = max(bottom - top, right - left)
    for i, name in enumerate(VIEW_NAMES, start=1):
        xaxis, yaxis = axis_names(i)
        crop = views[name][top:bottom, left:right]
        scale = display_scale(extent, 180)
        fig.add_trace(
            go.Image(
                source=png_data_uri(crop, scale),
                x0=left - 0.5 + 0.5 / scale,
                y0=top - 0.5 + 0.5 / scale,
                dx=1 / scale,
                dy=1 / scale,
                hoverinfo="skip",
                name=name,
            ),
            row=1,
            col=i,
        )
        fig.add_shape(highlight_shape(grid, row, col, xaxis, yaxis))
        # A little slack so the frame of a patch at the image's edge is not cut in half.
        fig.update_xaxes(range=[left - 0.7, right - 0.3], row=1, col=i)
        fig.update_yaxes(range=[bottom - 0.3, top - 0.7], scaleanchor=xaxis, row=1, col=i)
    bare = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    fig.update_xaxes(constrain="domain", showline=False, **bare)
    fig.update_yaxes(constrain="domain", showline=False, **bare)
    fig.update_annotations(font={"size": 12})
    fig.update_layout(
        height=230,
        margin={"l": 4, "r": 4, "t": 28, "b": 4},
        dragmode=False,
        showlegend=False,
        hovermode=False,
    )
    return fig


def grid_summary(grid: Grid) -> str:
    """`12 × 12 = 144 patches of 6 px; each view is shifted by 3 px`."""
    shift = (
        f"each shifted view moves the image by {grid.half} px (half a patch)"
        if grid.half
        else "1-px patches cannot be shifted by half a patch, so all five views are identical"
    )
    return (
        f"{grid.side} × {grid.side} = {grid.num_patches:,} patches of {grid.patch_size} px; "
        f"{shift}. An SPT token sees {5 * grid.patch_size**2 * 3:,} numbers "
        f"(5 views × {grid.patch_size}² pixels × 3 channels), a vanilla ViT token "
        f"{grid.patch_size**2 * 3:,}."
    )


def too_dense_note(grid: Grid) -> str | None:
    """Say when the grid or the hover targets are left out because there are too many patches."""
    notes = []
    if not grid_traces(grid):
        notes.append("the patch grid is not drawn (its lines would cover the image)")
    if grid.num_patches > MAX_HOVER_PATCHES:
        notes.append("hovering does not name patches (pick one with the row and column inputs)")
    if not notes:
        return None
    return f"With {grid.num_patches:,} patches " + " and ".join(notes) + "."
