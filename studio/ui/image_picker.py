"""Streamlit widgets and caches of the Patches page: pick an image, decode it once per size.

Decoding goes through `studio.datasets.images.decode_image` (the decoder training and the demo use),
cached per (file digest, size): a 4000x3000 photo is decoded and resized once, and moving a
slider afterwards costs nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from studio.datasets.images import ImageInfo, decode_image, image_info
from studio.ui.common import uploads_dir
from studio.ui.image_sources import (
    DIGITS,
    PickedImage,
    dataset_sources,
    digit_png,
    digits_by_class,
    folder_images,
    sample_paths,
    sample_title,
)
from studio.ui.text import md_text
from studio.ui.upload_spool import received_file

SOURCES = ("Sample", "Upload", "Dataset")
MAX_UPLOAD_MB = 50
KEEP = "session"
SPOOL_FOLDER = ".incoming"  # under the uploads folder; swept a day after the session


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=48, show_spinner=False)
def decoded(key: str, size: int, _data: bytes) -> np.ndarray:
    """decode_image(data, size) for the file whose digest is `key` (the bytes are not hashed).

    Raises DecoderBusy rather than wait while other decodes hold the server's budget.
    """
    return decode_image(_data, size=size, wait=False)


@st.cache_data(max_entries=48, show_spinner=False)
def header(key: str, _data: bytes) -> ImageInfo:
    """Format and displayed size, from the header only."""
    return image_info(_data)


@st.cache_data(show_spinner=False)
def _file_bytes(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


@st.cache_data(show_spinner=False, ttl=600)
def _folder_listing(folder: str) -> dict[str, list[str]]:
    return {name: [str(p) for p in paths] for name, paths in folder_images(folder).items()}


@st.cache_data(show_spinner=False)
def _digits_by_class() -> dict[str, list[int]]:
    return digits_by_class()


@st.cache_data(show_spinner=False, max_entries=64)
def _digit(index: int) -> bytes:
    return digit_png(index)


def _read(path: Path) -> bytes:
    return _file_bytes(str(path), path.stat().st_mtime)


def _sample() -> PickedImage | None:
    paths = sample_paths()
    if not paths:
        st.warning("No sample images found in studio/ui/samples.")
        return None
    by_name = {p.name: p for p in paths}
    name = st.selectbox(
        "Sample photo",
        list(by_name),
        format_func=lambda n: sample_title(by_name[n]),
        key="patches_sample",
        persist_state=KEEP,
    )
    st.caption("Public-domain photos shipped with the studio (sources in samples/LICENSES.md).")
    return PickedImage(name, _read(by_name[name]))


def _upload() -> PickedImage | None:
    received = received_file(
        "Image file (PNG, JPEG, WebP, BMP, GIF or TIFF)",
        key="patches_upload",
        spool_dir=uploads_dir() / SPOOL_FOLDER,
        # No name check: the decoder names the format of a file it refuses.
        mime_types=("image/*",),
        max_mb=MAX_UPLOAD_MB,
    )
    if received is None:
        st.caption("Drop a photo of any size: it is resized once to the image size below.")
        return None
    try:
        # From disk on each rerun: between reruns the bytes are not held in memory.
        return PickedImage(received.name, received.read_bytes())
    except OSError as err:
        st.error(md_text(f"Cannot read {received.name} back: {err.strerror or err}"))
        return None


def _dataset() -> PickedImage | None:
    sources = dataset_sources()
    source = st.selectbox(
        "Dataset",
        list(sources),
        format_func=sources.get,
        key="patches_dataset",
        persist_state=KEEP,
    )
    if source == DIGITS:
        by_class = {k: [str(i) for i in v] for k, v in _digits_by_class().items()}
    else:
        by_class = _folder_listing(source)
    if not by_class:
        st.warning(md_text(f"No images found in {source}."))
        return None
    left, right = st.columns([3, 2])
    name = left.selectbox("Class", list(by_class), key=f"patches_class:{source}")
    items = by_class[name]
    number = right.number_input(
        f"Image (1–{len(items)})",
        min_value=1,
        max_value=len(items),
        value=1,
        step=1,
        key=f"patches_item:{source}:{name}",
    )
    item = items[int(number) - 1]
    if source == DIGITS:
        return PickedImage(f"digit {name} #{item}", _digit(int(item)))
    path = Path(item)
    return PickedImage(f"{Path(source).name}/{name}/{path.name}", _read(path))


def pick_image() -> PickedImage | None:
    """Sample, upload or dataset image, as chosen with the widgets drawn here."""
    source = st.segmented_control(
        "Image",
        SOURCES,
        default="Sample",
        required=True,
        key="patches_source",
        persist_state=KEEP,
    )
    if source == "Upload":
        return _upload()
    if source == "Dataset":
        return _dataset()
    return _sample()
