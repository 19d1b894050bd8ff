"""A small finished caption run without training, as `sample_run` makes a classifier's.

`make_caption_run` builds the tiny captioner (random weights, seeded) on the tiny shapes
set's 16 px images, with a tokenizer learnt from a few shapes captions, and writes the run's
model, tokenizer and labels as the caption trainer does. Its logits are scaled up, so each
next word wins by a wide margin: the same image gets the same caption in any batch (an
untrained model's near ties could part by a float32 rounding). Imports keras.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from studio.models.captioner import build_captioner, caption_decoder
from studio.runs import artifacts
from studio.runs.store import Run, RunStore
from studio.text.tokenizer import CaptionTokenizer
from tests.helpers.tiny import MEAN, VARIANCE, tiny_caption_config

CAPTIONS = [
    "a red circle left of a blue square",
    "a green triangle above a yellow circle",
    "a blue square at the top",
    "a yellow triangle on the right",
]
INPUT_SIZE = 16  # the tiny preset's shapes images (model.image_size)
LOGIT_SCALE = 30.0


def make_caption_run(store: RunStore, *, seed: int = 0, test: dict | None = None) -> Run:
    """A completed caption run whose model and tokenizer the studio wrote."""
    cfg = tiny_caption_config("spt-lsa")
    tokenizer = CaptionTokenizer.train(CAPTIONS, cfg.caption.vocab_size)
    keras.utils.set_random_seed(seed)
    shape = (INPUT_SIZE, INPUT_SIZE, 3)
    model = build_captioner(cfg, tokenizer.vocab_size, shape, MEAN, VARIANCE)
    head = caption_decoder(model).get_layer("logits")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * LOGIT_SCALE, bias])
    config = {**cfg.to_dict(), "preset": "sample-caption"}
    run = store.create_run(config)
    folder = store.run_dir(run.id)
    artifacts.write_config(folder, config)
    model.save(folder / artifacts.FINAL_MODEL)
    tokenizer.save(folder / artifacts.TOKENIZER)
    artifacts.write_labels(folder, artifacts.Labels((), INPUT_SIZE, "shapes", task="caption"))
    now = time.time()
    store.update(
        run.id,
        status="completed",
        started_at=now,
        finished_at=now,
        epochs_done=cfg.train.epochs,
        num_classes=tokenizer.vocab_size,
        device="cpu (untrained sample)",
        model_sha256=artifacts.sha256_file(folder / artifacts.FINAL_MODEL),
        test=test if test is not None else {},
    )
    return store.get(run.id)


def caption_images(n: int, seed: int = 0) -> np.ndarray:
    """Random uint8 images (n, 16, 16, 3) the tiny captioner takes."""
    return np.random.default_rng(seed).integers(0, 256, (n, INPUT_SIZE, INPUT_SIZE, 3), "uint8")
