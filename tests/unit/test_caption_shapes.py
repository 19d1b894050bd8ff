"""The shapes captioning set: seeded, sized, and its captions say what was drawn."""

from __future__ import annotations

import re

import numpy as np
import pytest

from studio.datasets.shapes import COLOURS, KINDS, PLACES, SIZES, generate_shapes, shapes_count

_CAPTION = re.compile(
    rf"^(?:there is |one )?(?:a )?({'|'.join(COLOURS)}) ({'|'.join(KINDS)}) (.+)$"
)


def _nearest_colour(pixel: np.ndarray) -> str:
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names])
    return names[int(np.abs(palette - pixel.astype(int)).sum(1).argmin())]


def test_the_same_seed_gives_the_same_scenes_and_another_seed_others():
    a, b = generate_shapes(200, seed=5), generate_shapes(200, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.captions == b.captions
    other = generate_shapes(200, seed=6)
    assert not np.array_equal(a.images, other.images)
    assert a.captions != other.captions


def test_the_size_switch_names_counts_and_smaller_sets_are_prefixes():
    small = generate_shapes("small")
    assert small.images.shape == (SIZES["small"], 64, 64, 3) and small.images.dtype == np.uint8
    assert len(small.captions) == SIZES["small"] == 1_500
    assert SIZES["default"] == 6_000 and shapes_count("default") == 6_000
    first = generate_shapes(40)
    np.testing.assert_array_equal(first.images, small.images[:40])
    with pytest.raises(ValueError, match="unknown; choose one of small, default, large"):
        generate_shapes("huge")
    with pytest.raises(ValueError, match="count >= 1"):
        shapes_count(0)


def test_every_scene_has_several_phrasings_and_both_kinds_of_scene_occur():
    scenes = generate_shapes(300)
    counts = {len(s) for s in scenes.scenes}
    assert counts == {1, 2}
    for shapes, captions in zip(scenes.scenes, scenes.captions, strict=True):
        assert len(captions) == (3 if len(shapes) == 1 else 4)
        assert len(set(captions)) == len(captions)
    assert set(scenes.relations) >= {"left of", "above", *PLACES}


def test_the_pixels_at_each_named_shape_have_the_colour_its_caption_says():
    scenes = generate_shapes(400, seed=11)
    for image, shapes, captions in zip(scenes.images, scenes.scenes, scenes.captions, strict=True):
        first = _CAPTION.match(captions[0])
        assert first, captions[0]
        # The first caption names the first shape: check the picture, not the record.
        shape = shapes[0]
        assert (first.group(1), first.group(2)) == (shape.colour, shape.kind)
        pixel = image[round(shape.y), round(shape.x)]
        assert _nearest_colour(pixel) == shape.colour, (captions[0], pixel)
        for other in shapes:
            assert _nearest_colour(image[round(other.y), round(other.x)]) == other.colour
            assert other.phrase in " ".join(captions)


def test_relations_and_places_match_where_the_shapes_are():
    scenes = generate_shapes(400, seed=3)
    side = scenes.images.shape[1]
    for shapes, relation, captions in zip(
        scenes.scenes, scenes.relations, scenes.captions, strict=True
    ):
        if len(shapes) == 2:
            a, b = shapes
            if relation == "left of":
                assert a.x + 0.3 * side < b.x and abs(a.y - b.y) < 0.25 * side
                assert captions[0] == f"{a.phrase} left of {b.phrase}"
                assert captions[1] == f"{b.phrase} right of {a.phrase}"
            else:
                assert a.y + 0.3 * side < b.y and abs(a.x - b.x) < 0.25 * side
                assert captions[0] == f"{a.phrase} above {b.phrase}"
                assert captions[1] == f"{b.phrase} below {a.phrase}"
            continue
        (s,) = shapes
        assert captions[0] == f"{s.phrase} {relation}"
        where = {
            "at the top": s.y < 0.35 * side,
            "at the bottom": s.y > 0.65 * side,
            "on the left": s.x < 0.35 * side,
            "on the right": s.x > 0.65 * side,
            "in the middle": abs(s.x - side / 2) < 0.1 * side and abs(s.y - side / 2) < 0.1 * side,
        }
        assert where[relation], (relation, s)


def test_the_corners_are_plain_grey_background():
    # Shapes keep a margin: the corners are background, never paint.
    scenes = generate_shapes(100)
    corners = scenes.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners.max(axis=-1) - corners.min(axis=-1) == 0).all()
