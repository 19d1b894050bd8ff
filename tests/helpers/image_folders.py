"""Build small class-folder trees of real image files for the dataset tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# One flat color per class, so a test can tell every decoded image's true class from pixels.
COLORS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (250, 250, 10), (10, 250, 250)]


def write_images(folder: Path, count: int, color, ext: str = ".png", size=(12, 8)) -> list[Path]:
    """`count` solid-color images named img000.png, img001.png, ... in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}{ext}"
        Image.new("RGB", size, color).save(path)
        paths.append(path)
    return paths


def make_tree(root: Path, counts: dict[str, int]) -> Path:
    """root/<class>/img*.png with counts[class] images of class i's color."""
    for i, (name, count) in enumerate(counts.items()):
        write_images(root / name, count, COLORS[i])
    return root


def labels_from_pixels(x: np.ndarray, class_names: list[str], counts: dict[str, int]) -> np.ndarray:
    """The class each image's center color says it belongs to (index into class_names)."""
    order = list(counts)
    centers = x[:, x.shape[1] // 2, x.shape[2] // 2].astype(int)
    palette = np.array(COLORS[: len(order)])
    nearest = np.abs(centers[:, None, :] - palette[None]).sum(-1).argmin(1)
    return np.array([class_names.index(order[k]) for k in nearest])


def make_grouped_tree(
    root: Path, layout: dict[str, dict[str, int]], name: str = "{group}_{i:02d}.png"
) -> list[str]:
    """root/<class>/<group>_NN.png, 16x16: left half the class's color, right half a gray level
    coding the group (see `groups_from_pixels`). Returns the sorted group names."""
    names = sorted({g for per_class in layout.values() for g in per_class})
    for c, (class_name, per_class) in enumerate(layout.items()):
        for group, count in per_class.items():
            level = 1 + 3 * names.index(group)
            for i in range(count):
                path = root / class_name / name.format(group=group, i=i)
                path.parent.mkdir(parents=True, exist_ok=True)
                pixels = np.empty((16, 16, 3), dtype=np.uint8)
                pixels[:, :8] = COLORS[c]
                pixels[:, 8:] = level
                Image.fromarray(pixels).save(path)
    return names


def groups_from_pixels(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The group each image of `make_grouped_tree` (decoded at 16 px) belongs to."""
    return np.array([names[(int(v) - 1) // 3] for v in x[:, 8, -1, 0]])
