"""The shapes captioning set: scenes the studio renders itself, offline and seeded.

Each 64x64 RGB scene holds one or two shapes (circle, square, triangle) in one of four colours
on a dark grey background, with every true description of it: "a red circle left of a blue
square" and "a blue square right of a red circle"; "a green triangle at the top". Shade,
size, position and background vary a little from scene to scene, so a model has to look at
the pixels to name the colour, the shape and where it is; the words themselves form a small,
closed vocabulary (about 25 words), learnable in minutes on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

NATIVE_SIZE = 64
# The seed the studio's shapes dataset is drawn with: every run sees the same scenes and
# train.seed only changes the split.
DATASET_SEED = 0
SIZES = {"small": 1_500, "default": 6_000, "large": 24_000}

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 80, 235),
    "yellow": (235, 210, 40),
}
KINDS = ("circle", "square", "triangle")
# Where a lone shape sits, as a fraction of the side: (x, y) of its centre.
PLACES = {
    "at the top": (0.5, 0.25),
    "at the bottom": (0.5, 0.75),
    "on the left": (0.25, 0.5),
    "on the right": (0.75, 0.5),
    "in the middle": (0.5, 0.5),
}
_SHADE = 25  # each channel of a shape's colour varies by up to this much
_SINGLE_SHARE = 0.3  # share of scenes with one shape
_DRAWS = 18  # uniforms per scene: layout 0-10, background 11, shades 12-17


@dataclass(frozen=True)
class Shape:
    """One drawn shape: its kind and colour name, centre (x, y) and radius in pixels."""

    kind: str
    colour: str
    x: float
    y: float
    radius: float

    @property
    def phrase(self) -> str:
        return f"a {self.colour} {self.kind}"


@dataclass
class ShapesSet:
    """Rendered scenes and what is true of them.

    Args:
        images: uint8 (N, S, S, 3).
        captions: per image, its descriptions (3 for one shape, 4 for two).
        scenes: per image, the shapes drawn; for two, the first is left of (or above) the
            second.
        relations: per image, `"left of"`, `"above"` or, for one shape, its place
            (`"at the top"`, ...).
    """

    images: np.ndarray
    captions: list[list[str]]
    scenes: list[tuple[Shape, ...]]
    relations: list[str]


def shapes_count(size: str | int) -> int:
    """Images in a named size (`small`, `default`, `large`) or a positive count as given."""
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"shapes size {size!r} is unknown; choose one of {', '.join(SIZES)}")
        return SIZES[size]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"shapes size={size!r} must be a name or a count >= 1")
    return size


def generate_shapes(
    size: str | int = "default", *, seed: int = DATASET_SEED, image_size: int = NATIVE_SIZE
) -> ShapesSet:
    """Render `size` scenes (a name of SIZES or a count), the same ones for the same seed.

    The first n scenes of a larger size are the scenes of size n: each scene draws from its
    own seeded generator.
    """
    n = shapes_count(size)
    if image_size < 16:
        raise ValueError(f"image_size={image_size} is too small to draw shapes in (>= 16)")
    side = image_size
    captions, scenes, relations, greys, fills = [], [], [], [], []
    for i in range(n):
        # One draw of uniforms per scene from its own generator: many small numpy calls
        # cost more than the drawing, and scene i is the same whatever n is.
        u = np.random.default_rng([seed, i]).random(_DRAWS).tolist()
        shapes, relation = _scene(u, side)
        greys.append(15 + int(u[11] * 65))
        fills.append([_shade(s.colour, u[12 + 3 * k : 15 + 3 * k]) for k, s in enumerate(shapes)])
        captions.append(describe(shapes, relation))
        scenes.append(shapes)
        relations.append(relation)
    # One tall canvas, scene i in rows i*side..: a Pillow image per scene cost more than the
    # drawing itself (6,000 scenes in 0.6 s instead of 2 s on one core).
    column = np.repeat(np.array(greys, dtype=np.uint8), side * side * 3)
    canvas = Image.fromarray(column.reshape(n * side, side, 3), "RGB")
    pen = ImageDraw.Draw(canvas)
    for i, (shapes, colours) in enumerate(zip(scenes, fills, strict=True)):
        for shape, fill in zip(shapes, colours, strict=True):
            _draw(pen, shape, fill, top=i * side)
    images = np.array(canvas, dtype=np.uint8).reshape(n, side, side, 3)
    return ShapesSet(images=images, captions=captions, scenes=scenes, relations=relations)


def describe(shapes: tuple[Shape, ...], relation: str) -> list[str]:
    """Every caption of a scene: for two shapes, the first is `relation` ("left of" or
    "above") the second; for one, `relation` is its place ("at the top", ...)."""
    if len(shapes) == 1:
        a = shapes[0]
        return [
            f"{a.phrase} {relation}",
            f"there is {a.phrase} {relation}",
            f"one {a.colour} {a.kind} {relation}",
        ]
    a, b = (s.phrase for s in shapes)
    if relation == "left of":
        return [
            f"{a} left of {b}",
            f"{b} right of {a}",
            f"{a} to the left of {b}",
            f"{b} to the right of {a}",
        ]
    return [f"{a} above {b}", f"{b} below {a}", f"{a} over {b}", f"{b} under {a}"]


def _scene(u: list[float], side: int) -> tuple[tuple[Shape, ...], str]:
    colours = list(COLOURS)
    combos = [(c, k) for c in colours for k in KINDS]
    radius = [(0.11 + 0.05 * u[1]) * side, (0.11 + 0.05 * u[2]) * side]
    if u[0] < _SINGLE_SHARE:
        place = list(PLACES)[int(u[3] * len(PLACES))]
        fx, fy = PLACES[place]
        colour, kind = combos[int(u[4] * len(combos))]
        x, y = (fx + 0.12 * (u[5] - 0.5)) * side, (fy + 0.12 * (u[6] - 0.5)) * side
        return (Shape(kind=kind, colour=colour, x=x, y=y, radius=radius[0]),), place
    # Two shapes differing in colour or kind, so each caption names one of them unambiguously.
    first = int(u[3] * len(combos))
    second = int(u[4] * (len(combos) - 1))
    second += second >= first
    # Along the relation's axis the two centres are at least 0.34 of the side apart; across
    # it they differ by at most 0.2, so "left of" is never a matter of a pixel or two.
    margin = max(radius) + 2
    near = margin + u[5] * (0.36 * side - margin)
    low = max(near + 0.34 * side, 0.6 * side)
    far = low + u[6] * (side - margin - low)
    across = (0.3 + 0.4 * u[7]) * side
    spots = [(near, across + (u[8] - 0.5) * 0.2 * side), (far, across + (u[9] - 0.5) * 0.2 * side)]
    horizontal = u[10] < 0.5
    if not horizontal:
        spots = [(y, x) for x, y in spots]
    shapes = tuple(
        Shape(kind=combos[j][1], colour=combos[j][0], x=x, y=y, radius=r)
        for j, (x, y), r in zip((first, second), spots, radius, strict=True)
    )
    return shapes, "left of" if horizontal else "above"


def _shade(colour: str, u: list[float]) -> tuple[int, int, int]:
    r, g, b = (
        min(255, max(0, v + round((2 * d - 1) * _SHADE)))
        for v, d in zip(COLOURS[colour], u, strict=True)
    )
    return r, g, b


def _draw(pen: ImageDraw.ImageDraw, s: Shape, fill: tuple[int, int, int], top: int) -> None:
    # Shapes stay inside their scene (_scene keeps a margin), so no scene draws on another.
    x, y, r = s.x, s.y + top, s.radius
    if s.kind == "circle":
        pen.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif s.kind == "square":
        h = 0.85 * r  # a square of the circle's area looks the same size
        pen.rectangle((x - h, y - h, x + h, y + h), fill=fill)
    else:
        pen.polygon([(x, y - r), (x - r, y + 0.8 * r), (x + r, y + 0.8 * r)], fill=fill)
