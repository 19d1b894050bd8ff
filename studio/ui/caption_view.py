"""A captioning run's example captions as image + caption cards: the latest epoch's caption
under each validation image, its references, and how the caption changed over the epochs.

The trainer writes them at each epoch's end (`caption_examples.json` and `.npz`, see
`studio.training.caption_examples`); both are read defensively, since a live run rewrites
the JSON while the page reads it and an older or damaged file must not break the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from studio.runs import artifacts
from studio.runs.store import ACTIVE, Run, RunStore
from studio.ui.text import md_text

CARD_SIDE = 200  # px an example image is drawn at
# How many cards a row holds before the next row starts (a run may ask for up to 64).
MAX_CARDS = 12


@dataclass
class CaptionCard:
    """One example image's captions: the latest, its references, and its history as
    (first epoch, last epoch, caption) spans of epochs that wrote the same caption."""

    index: int
    name: str
    caption: str | None
    epoch: int | None
    references: list[str] = field(default_factory=list)
    history: list[tuple[int, int, str]] = field(default_factory=list)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def caption_cards(record: dict[str, Any] | None) -> list[CaptionCard]:
    """The cards of a `caption_examples.json` record; entries of the wrong shape are left out
    (a card without captions yet shows its image and references only)."""
    if not isinstance(record, dict):
        return []
    images = record.get("images")
    epochs = record.get("epochs")
    images = images if isinstance(images, list) else []
    epochs = [
        e
        for e in (epochs if isinstance(epochs, list) else [])
        if isinstance(e, dict)
        and isinstance(e.get("epoch"), int)
        and isinstance(e.get("captions"), list)
    ]
    epochs.sort(key=lambda e: e["epoch"])
    cards = []
    for index, image in enumerate(images):
        if not isinstance(image, dict):
            continue
        refs = image.get("references")
        references = [r for r in (refs if isinstance(refs, list) else []) if isinstance(r, str)]
        card = CaptionCard(
            index, str(image.get("name", f"image {index + 1}")), None, None, references
        )
        for entry in epochs:
            captions = entry["captions"]
            caption = _text(captions[index]) if index < len(captions) else None
            if caption is None:
                continue
            epoch = entry["epoch"]
            if card.history and card.history[-1][2] == caption:
                first, _, _ = card.history[-1]
                card.history[-1] = (first, epoch, caption)
            else:
                card.history.append((epoch, epoch, caption))
            card.caption, card.epoch = caption, epoch
        cards.append(card)
    return cards


def history_lines(card: CaptionCard) -> list[str]:
    """`epoch 1: a red square`, `epochs 2-4: a red circle`: one line per change."""
    lines = []
    for first, last, caption in card.history:
        when = f"epoch {first}" if first == last else f"epochs {first}–{last}"
        lines.append(f"{when}: {caption or '(nothing)'}")
    return lines


@st.cache_data(max_entries=32, show_spinner=False)
def _images(path: str, mtime_ns: int) -> np.ndarray | None:
    del mtime_ns  # part of the cache key only: a resumed run rewrites the file
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
    except (OSError, ValueError, KeyError):
        return None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        return None
    return images


def example_images(run_dir: Path) -> np.ndarray | None:
    """The example images, uint8 (N, S, S, 3), or None when absent or unreadable."""
    path = run_dir / artifacts.CAPTION_EXAMPLE_IMAGES
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _images(str(path), mtime)


def _shown_at(pixels: np.ndarray, side: int = CARD_SIDE) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(pixels)
    # Small scenes are enlarged without blurring their edges; photos are shrunk smoothly.
    resample = Image.Resampling.NEAREST if image.width < side else Image.Resampling.LANCZOS
    return np.asarray(image.resize((side, side), resample))


def caption_examples(store: RunStore, run: Run) -> None:
    """The run's example captions, one card per validation image, newest epoch's caption
    under it; while it trains, a line saying when they appear."""
    folder = store.run_dir(run.id)
    cards = caption_cards(artifacts.read_caption_examples(folder))
    written = [c for c in cards if c.caption is not None]
    st.markdown("**Example captions**")
    if not written:
        if run.status in ACTIVE:
            st.caption("The example captions appear at the end of the first epoch.")
        else:
            st.caption("This run wrote no example captions.")
        return
    epoch = max(c.epoch or 0 for c in written)
    st.caption(
        f"Validation images the model has not trained on, captioned at the end of epoch {epoch}"
        " (? beside a caption lists its references; By epoch shows how it changed)."
    )
    images = example_images(folder)
    with st.container(horizontal=True, gap="small", key=f"caption-cards-{run.id}"):
        for card in cards[:MAX_CARDS]:
            with st.container(
                border=True, width=CARD_SIDE + 40, key=f"caption-card-{run.id}-{card.index}"
            ):
                if images is not None and card.index < len(images):
                    st.image(_shown_at(images[card.index]), width=CARD_SIDE)
                references = "\n".join(f"- {md_text(r)}" for r in card.references)
                st.markdown(
                    md_text(card.caption) if card.caption else "*(no caption yet)*",
                    help=f"References:\n\n{references}" if references else None,
                )
                if card.history:
                    with st.expander("By epoch"):
                        st.markdown("  \n".join(md_text(line) for line in history_lines(card)))
                        if card.references:
                            st.markdown("**References**\n\n" + references)
