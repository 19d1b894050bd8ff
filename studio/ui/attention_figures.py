"""Plotly figures of a trained run's attention: rollout, per layer and head maps, LSA details.

Built from an `AttentionResult` (what the inference worker computed, `studio.inference.attention`)
with the numpy maths of `studio.inference.attention_maps`. No Streamlit and no keras here.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sequential
from plotly.subplots import make_subplots

from studio.inference.attention_maps import (
    AttentionResult,
    DistanceResult,
    diagonal_share,
    head_mean,
    rollout_map,
)
from studio.ui.patch_figures import (
    Grid,
    axis_names,
    grid_traces,
    highlight_shape,
    hover_trace,
    image_layout,
    image_trace,
    pixel_axes,
)


def _rgb_scale(colours: list[str]) -> list[list]:
    # Streamlit 1.67's chart element misreads the hex colour "#000004" that starts Plotly's
    # Inferno and Magma scales (it draws it violet or pink, so zeros stand out as if they
    # were large); the same colours written as rgb() are drawn right.
    last = len(colours) - 1
    return [[i / last, "rgb({}, {}, {})".format(*hex_to_rgb(c))] for i, c in enumerate(colours)]


COLORSCALE = _rgb_scale(sequential.Inferno)
PANEL_PX = 165  # height of one small map in the layer x head figure


def _patch_heatmap(values: np.ndarray, grid: Grid, **kwargs) -> go.Heatmap:
    """A (side, side) map drawn in image pixel coordinates, one cell per patch."""
    side = values.shape[0]
    rows, cols = np.divmod(np.arange(side * side), side)
    return go.Heatmap(
        z=values,
        x0=(grid.patch_size - 1) / 2,
        dx=grid.patch_size,
        y0=(grid.patch_size - 1) / 2,
        dy=grid.patch_size,
        colorscale=COLORSCALE,
        showscale=False,
        customdata=np.stack([rows, cols], axis=-1).reshape(side, side, 2),
        **kwargs,
    )


def rollout_figure(result: AttentionResult, query: tuple[int, int] | None = None) -> go.Figure:
    """The image the run was given, its attention rollout, and the two overlaid.

    A model with several prefix tokens (DeiT's class and distillation tokens) gets a row per
    token, side by side in the same colour range, so the two heads' views compare directly.
    The image panel is clickable: a click picks the query patch for the per-head maps.
    """
    grid = Grid(result.image_size, result.patch_size)
    tokens = result.prefix_names if result.prefix_tokens > 1 else [None]
    maps = [
        rollout_map(result.scores, grid.side, result.prefix_tokens, token=i)
        for i in range(len(tokens))
    ]
    titles = ["Image (click a patch to query it)"]
    for name in tokens:  # cells left empty take no title
        if name:
            titles += [f"Rollout from the {name} token", f"Overlay ({name} token)"]
        else:
            titles += ["Attention rollout", "Overlay"]
    fig = make_subplots(
        rows=len(tokens),
        cols=3,
        subplot_titles=titles,
        horizontal_spacing=0.02,
        vertical_spacing=0.08,
        specs=[[{}, {}, {}]] + [[None, {}, {}] for _ in tokens[1:]],
    )
    fig.add_trace(image_trace(result.pixels, extent=grid.image_size, name="image"), row=1, col=1)
    for trace in grid_traces(grid):
        fig.add_trace(trace, row=1, col=1)
    target = hover_trace(grid, "query", px=300)
    if target is not None:
        fig.add_trace(target, row=1, col=1)
    top = max(float(m.max()) for m in maps)
    for row, (name, values) in enumerate(zip(tokens, maps, strict=True), start=1):
        token = f"{name} token " if name else ""
        hover = (
            "row %{customdata[0]}, col %{customdata[1]}<br>"
            f"{token}rollout %{{z:.4f}}<extra></extra>"
        )
        scale = {"zmin": 0.0, "zmax": top} if len(tokens) > 1 else {}
        fig.add_trace(_patch_heatmap(values, grid, hovertemplate=hover, **scale), row=row, col=2)
        fig.add_trace(
            image_trace(result.pixels, extent=grid.image_size, name="overlay"), row=row, col=3
        )
        fig.add_trace(
            _patch_heatmap(values, grid, opacity=0.55, hovertemplate=hover, **scale),
            row=row,
            col=3,
        )
        for col in (1, 2, 3) if row == 1 else (2, 3):
            pixel_axes(fig, grid.image_size, row=row, col=col)
    # Square pixels in every panel (each y axis scaled to the x axis it is anchored to).
    for axis in fig.select_yaxes():
        axis.scaleanchor = axis.anchor
    if query is not None:
        fig.add_shape(highlight_shape(grid, *query))
    fig.update_annotations(font={"size": 13})
    image_layout(fig, height=340 * len(tokens), top=28)
    return fig


def query_maps_figure(
    maps: np.ndarray, query: tuple[int, int], patch_size: int, lsa: bool
) -> go.Figure:
    """(layers, heads, side, side) maps of one query patch: a row per layer, a column per head.

    The last column is the heads' mean. The query patch is framed; under LSA its own cell is
    0 (self-attention masked) and marked with a cross. Each map has its own colour range, so
    read exact values from the hover.
    """
    layers, heads, side, _ = maps.shape
    grid = Grid(side * patch_size, patch_size)
    titles = [f"head {h + 1}" for h in range(heads)] + ["mean of heads"]
    fig = make_subplots(
        rows=layers,
        cols=heads + 1,
        column_titles=titles,
        row_titles=[f"layer {i + 1}" for i in range(layers)],
        horizontal_spacing=0.01,
        vertical_spacing=0.012,
    )
    row_q, col_q = query
    centre = (patch_size - 1) / 2
    for layer in range(layers):
        for head in range(heads + 1):
            values = maps[layer].mean(axis=0) if head == heads else maps[layer, head]
            name = f"layer {layer + 1} · {titles[head]}"
            index = layer * (heads + 1) + head + 1
            xaxis, yaxis = axis_names(index)
            fig.add_trace(
                _patch_heatmap(
                    values,
                    grid,
                    hovertemplate=(
                        f"{name}<br>key row %{{customdata[0]}}, col %{{customdata[1]}}"
                        "<br>attention %{z:.4f}<extra></extra>"
                    ),
                ),
                row=layer + 1,
                col=head + 1,
            )
            fig.add_shape(highlight_shape(grid, row_q, col_q, xaxis, yaxis))
            if lsa:
                fig.add_trace(
                    go.Scatter(
                        x=[col_q * patch_size + centre],
                        y=[row_q * patch_size + centre],
                        mode="markers",
                        marker={
                            "symbol": "x-thin",
                            "size": 9,
                            "line": {"width": 2, "color": "#fff"},
                        },
                        hovertemplate="masked: LSA sets a token's attention to itself to 0"
                        "<extra></extra>",
                        showlegend=False,
                    ),
                    row=layer + 1,
                    col=head + 1,
                )
            pixel_axes(fig, grid.image_size, row=layer + 1, col=head + 1)
            fig.update_yaxes(scaleanchor=xaxis, row=layer + 1, col=head + 1)
    fig.update_annotations(font={"size": 12})
    fig.update_layout(
        height=max(260, PANEL_PX * layers + 40),
        margin={"l": 4, "r": 28, "t": 28, "b": 4},
        hovermode="closest",
        dragmode=False,
        showlegend=False,
    )
    return fig


def temperature_figure(temperatures: np.ndarray, key_dim: int | None) -> go.Figure:
    """LSA's learned softmax temperature per layer, against where it started (sqrt(key_dim)).

    Points, not bars: after a short run the temperatures move by hundredths, which a bar from
    zero would hide.
    """
    values = np.asarray(temperatures, dtype=float)
    layers = [f"layer {i + 1}" for i in range(len(values))]
    fig = go.Figure(
        go.Scatter(
            x=layers,
            y=values,
            mode="lines+markers+text",
            text=[f"{v:.3f}" for v in values],
            textposition="top center",
            marker={"size": 10, "color": "#0072B2"},
            line={"color": "#0072B2"},
            hovertemplate="%{x}: temperature %{y:.4f}<extra></extra>",
        )
    )
    if key_dim:
        start = math.sqrt(key_dim)
        fig.add_hline(
            y=start,
            line={"dash": "dash", "color": "#888"},
            annotation_text=f"start: √{key_dim} = {start:.2f}",
            annotation_position="bottom right",
        )
        low, high = min(values.min(), start), max(values.max(), start)
        pad = max((high - low) * 0.25, 0.01 * start)
        fig.update_yaxes(range=[low - pad, high + pad])
    fig.update_layout(
        height=260,
        margin={"l": 4, "r": 4, "t": 24, "b": 4},
        yaxis_title="temperature",
        showlegend=False,
    )
    return fig


def diagonal_figure(result: AttentionResult) -> go.Figure:
    """Mean attention of each token to itself, per layer: exactly 0 under LSA's mask."""
    share = diagonal_share(result.scores)
    fig = go.Figure(
        go.Bar(
            x=[f"layer {i + 1}" for i in range(len(share))],
            y=share,
            text=[f"{v:.3g}" for v in share],
            textposition="inside",
            insidetextanchor="end",
            textfont={"color": "#fff"},
            marker_color="#D55E00",
            hovertemplate="%{x}: self-attention %{y:.4f}<extra></extra>",
        )
    )
    uniform = 1.0 / result.scores.shape[-1]
    fig.add_hline(
        y=uniform,
        line={"dash": "dot", "color": "#888"},
        annotation_text=f"uniform 1/T = {uniform:.4f}",
        annotation_position="top right",
    )
    if result.lsa:
        fig.add_annotation(
            text="0 in every layer: LSA masks each token's attention to itself",
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.45,
            showarrow=False,
            font={"size": 13, "color": "#D55E00"},
        )
    fig.update_layout(
        height=260,
        margin={"l": 4, "r": 4, "t": 24, "b": 4},
        yaxis_title="attention to itself",
        yaxis_range=[0, max(float(share.max()), uniform) * 1.3],
        showlegend=False,
    )
    return fig


def matrix_figure(result: AttentionResult, layer: int) -> go.Figure:
    """The full (T, T) attention of one layer, heads averaged: queries down, keys across.

    Under LSA the diagonal is exactly 0: the masked self-attention shows as a dark line.
    """
    matrix = head_mean(result.scores, layer)
    tokens = matrix.shape[0]
    labels = result.prefix_names + [f"patch {i}" for i in range(tokens - result.prefix_tokens)]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            colorscale=COLORSCALE,
            customdata=np.array(labels)[:, None].repeat(tokens, axis=1),
            hovertemplate=(
                "query %{customdata}<br>key token %{x}<br>attention %{z:.4f}<extra></extra>"
            ),
            colorbar={"thickness": 12, "len": 0.9},
        )
    )
    fig.update_yaxes(autorange="reversed", title="query token", scaleanchor="x")
    fig.update_xaxes(title="key token", constrain="domain")
    fig.update_layout(height=440, margin={"l": 4, "r": 4, "t": 8, "b": 4})
    return fig


def temperature_rows(temperatures: np.ndarray, key_dim: int) -> list[dict]:
    """LSA's temperature per layer against its start sqrt(key_dim), as table rows."""
    start = math.sqrt(key_dim)
    return [
        {
            "layer": i + 1,
            "learned": round(float(t), 4),
            f"start √{key_dim}": round(start, 4),
            "change": f"{(float(t) - start) / start:+.1%}",
        }
        for i, t in enumerate(np.asarray(temperatures, dtype=float))
    ]


# Colour-blind-safe (Okabe-Ito): the chosen run, then the run it is compared with.
RUN_COLOURS = ("#0072B2", "#D55E00")


def distance_figure(runs: list[tuple[str, DistanceResult]]) -> go.Figure:
    """Mean attention distance per head (dots) and its mean per layer (line), for one run or
    two overlaid, as Dosovitskiy et al. 2020 (fig. 7) plot it.

    Runs whose images differ in size are drawn as a share of the image side, since pixels of
    a 32-px and a 224-px image do not compare.
    """
    sizes = {r.image_size for _, r in runs}
    relative = len(sizes) > 1
    fig = go.Figure()
    shift = {0: 0.0} if len(runs) == 1 else {0: -0.12, 1: 0.12}
    for n, (label, r) in enumerate(runs):
        values = np.asarray(r.distances, dtype=float)
        if relative:
            values = values / r.image_size
        layers, heads = values.shape
        colour = RUN_COLOURS[n % len(RUN_COLOURS)]
        unit = " of the side" if relative else " px"
        fmt = ".1%" if relative else ".2f"
        x = np.repeat(np.arange(1, layers + 1), heads) + shift.get(n, 0.0)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values.ravel(),
                mode="markers",
                name=f"{label}: heads",
                legendgroup=label,
                marker={"size": 8, "color": colour, "opacity": 0.75},
                customdata=np.stack(
                    [
                        np.repeat(np.arange(1, layers + 1), heads),
                        np.tile(np.arange(1, heads + 1), layers),
                    ],
                    axis=-1,
                ),
                hovertemplate=(
                    f"{label}<br>layer %{{customdata[0]}}, head %{{customdata[1]}}"
                    f"<br>distance %{{y:{fmt}}}{unit}<extra></extra>"
                ),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, layers + 1),
                y=values.mean(axis=1),
                mode="lines",
                name=f"{label}: mean of heads",
                legendgroup=label,
                line={"color": colour, "width": 2},
                hovertemplate=f"{label}<br>layer %{{x}}: mean %{{y:{fmt}}}{unit}<extra></extra>",
            )
        )
    fig.update_xaxes(title="layer (network depth)", dtick=1)
    fig.update_yaxes(
        title="mean attention distance" + (" (share of image side)" if relative else " (px)"),
        rangemode="tozero",
        tickformat=".0%" if relative else None,
    )
    fig.update_layout(
        height=340,
        margin={"l": 4, "r": 4, "t": 24, "b": 4},
        legend={"orientation": "h", "y": -0.25},
        hovermode="closest",
    )
    return fig
