"""At each epoch's end of a captioning run: validation BLEU-4 and CIDEr-D into the epoch's
metric row, and a few validation images' captions into the run folder for the run's view.

`caption_examples.json` holds `{"images": [{"name", "references"}], "epochs": [{"epoch",
"captions": [...]}]}`, the captions in the images' order; the images themselves are
`caption_examples.npz` (`images`: uint8), written once. The view shows the latest epoch's
captions under each image and how they changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from studio.runs import artifacts
from studio.text.tokenizer import CaptionTokenizer
from studio.training.caption_evaluation import VAL_SCORED_IMAGES, score_captions


class CaptionScoring(keras.callbacks.Callback):
    """Adds `val_bleu4` and `val_cider` (on the first `VAL_SCORED_IMAGES` validation images,
    written with `beam_width` beams) to each epoch's logs and records the example captions.

    Must come before the callback that stores the epoch's row: Keras hands every callback
    the same logs, in list order.
    """

    def __init__(
        self,
        tokenizer: CaptionTokenizer,
        images: np.ndarray,
        references: Sequence[Sequence[str]],
        names: Sequence[str],
        run_dir: Path,
        beam_width: int,
        examples: int,
        start_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.images = images[:VAL_SCORED_IMAGES]
        self.references = list(references[:VAL_SCORED_IMAGES])
        self.run_dir = run_dir
        self.beam_width = beam_width
        self.examples = min(examples, len(self.images))
        self._record = self._start_record(names, start_epoch)

    def _start_record(self, names: Sequence[str], start_epoch: int) -> dict:
        # A resumed run keeps the captions of the epochs it kept, none past them.
        kept = artifacts.read_caption_examples(self.run_dir) or {}
        epochs = [
            e
            for e in kept.get("epochs", [])
            if isinstance(e, dict) and isinstance(e.get("epoch"), int) and e["epoch"] <= start_epoch
        ]
        images = [
            {"name": str(names[i]), "references": list(self.references[i])}
            for i in range(self.examples)
        ]
        return {"images": images, "epochs": epochs}

    def on_train_begin(self, logs=None):
        if self.examples:
            artifacts.save_npz_atomically(
                self.run_dir / artifacts.CAPTION_EXAMPLE_IMAGES,
                {"images": np.asarray(self.images[: self.examples], dtype=np.uint8)},
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not len(self.images):
            return
        scores, captions = score_captions(
            self.model, self.tokenizer, self.images, self.references, self.beam_width
        )
        logs["val_bleu4"] = scores.bleu4
        logs["val_cider"] = scores.cider
        if self.examples:
            self._record["epochs"].append(
                {"epoch": epoch + 1, "captions": captions[: self.examples]}
            )
            artifacts.write_caption_examples(self.run_dir, self._record)
