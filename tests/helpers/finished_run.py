"""A finished run written straight into a store, without keras: a weights-only `.keras`
archive, metric rows, a dataset report and an evaluation report, as the trainer leaves them.
For tests of what reads a finished run (model card, Evaluate page)."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np

from studio.config import make_config
from studio.evaluation.report import build_report, collect_mistakes, write_mistakes
from studio.runs import artifacts
from studio.runs.store import RunStore

DIGITS = [str(i) for i in range(10)]
# (path in model.weights.h5, shape): 64*128 + 128 + 128*10 + 10 + 4 = 9,614 parameters.
WEIGHTS = {
    "layers/dense/vars/0": (64, 128),
    "layers/dense/vars/1": (128,),
    "layers/head/vars/0": (128, 10),
    "layers/head/vars/1": (10,),
    "layers/block/attention/vars/0": (4,),
}
PARAMS = 9_614


def write_model_file(path) -> None:
    """A `.keras` archive as Keras writes it, weights only: layer variables, an optimizer
    slot and an integer iteration count (neither is a parameter)."""
    raw = io.BytesIO()
    with h5py.File(raw, "w") as h5:
        for name, shape in WEIGHTS.items():
            h5.create_dataset(name, data=np.zeros(shape, np.float32))
        h5.create_dataset("optimizer/vars/0", data=np.int64(7))
        h5.create_dataset("optimizer/vars/1", data=np.zeros((64, 128), np.float32))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", raw.getvalue())


def finished_run(
    store: RunStore,
    *,
    classes=DIGITS,
    dataset="digits",
    per_class_test=18,
    evaluation=True,
    split=None,
    seed=0,
    overrides=None,
):
    settings = {"train.epochs": "3", **(overrides or {})}
    config = make_config("cpu-quick", "digits", "spt-lsa", settings).to_dict()
    config["data"]["dataset"] = dataset
    run = store.create_run(config)
    folder = store.run_dir(run.id)
    artifacts.write_config(folder, config)
    artifacts.write_labels(folder, artifacts.Labels(tuple(classes), 32, dataset))
    counts = {
        "train": {c: 140 + i for i, c in enumerate(classes)},
        "val": dict.fromkeys(classes, 18),
        "test": dict.fromkeys(classes, per_class_test),
    }
    report_json = {
        "source": f"images from {dataset}",
        "class_counts": counts,
        "skipped": [{"path": "/x/broken.png", "reason": "not an image"}],
        "notes": ["val: 10%, test: 10% of all images, stratified, seed 42"],
    }
    if split is not None:
        report_json["split"] = split
    artifacts.write_dataset_report(folder, report_json)
    write_model_file(folder / artifacts.FINAL_MODEL)
    sha = artifacts.sha256_file(folder / artifacts.FINAL_MODEL)
    for epoch in (1, 2, 3):
        store.add_metric(
            run.id,
            "epoch",
            epoch,
            12 * epoch,
            loss=2.0 / epoch,
            accuracy=0.3 * epoch,
            val_loss=1.5 / epoch,
            val_accuracy=0.25 * epoch + 0.01,
            val_top5=0.9,
            lr=0.002 / epoch,
            epoch_seconds=7.5,
            images_per_s=300.0,
        )
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classes)), per_class_test)
    probs = rng.dirichlet(np.ones(len(classes)), size=len(labels))
    probs[np.arange(len(labels)), labels] += rng.uniform(0, 1.5, len(labels))
    probs /= probs.sum(axis=1, keepdims=True)
    report = build_report(probs, labels, classes, model_sha256=sha)
    if evaluation:
        artifacts.write_evaluation(folder, report)
        images = rng.integers(0, 256, (len(labels), 8, 8, 3), dtype=np.uint8)
        write_mistakes(folder, collect_mistakes(images, probs, labels))
    test = {"loss": report["loss"], "accuracy": report["accuracy"], "top5": report["top5"]}
    store.update(
        run.id,
        status="completed",
        started_at=1_800_000_000.0,
        finished_at=1_800_000_095.0,
        train_seconds=61.0,
        epochs_done=3,
        steps_per_epoch=12,
        num_classes=len(classes),
        device="tensorflow on CPU, mixed_bfloat16, no XLA",
        model_sha256=sha,
        test=test,
    )
    return store.get(run.id), report


# What a captioning run's model writes for its example images, epoch by epoch: the third
# image's caption stays the same from epoch 2 on (a span, not two lines, in its history).
CAPTION_HISTORY = (
    ("a red square", "a blue circle", "a green circle"),
    ("a red circle left of a blue square", "a blue circle", "a green triangle at the top"),
    ("a red circle left of a blue square", "a blue circle above", "a green triangle at the top"),
)


def finished_caption_run(store: RunStore, *, overrides=None, evaluation=True):
    """A completed captioning run on the shapes set, written without keras: metric rows as
    the caption trainer records them, three example images with their captions per epoch, a
    caption test report. Returns the run."""
    from studio.datasets.shapes import generate_shapes
    from studio.evaluation.caption_report import CAPTION_FORMAT

    settings = {"train.epochs": "3", "caption.examples": "3", **(overrides or {})}
    config = make_config("caption-quick", "shapes", "spt-lsa", settings).to_dict()
    run = store.create_run(config)
    folder = store.run_dir(run.id)
    artifacts.write_config(folder, config)
    artifacts.write_labels(folder, artifacts.Labels((), 64, "shapes", task="caption"))
    artifacts.write_dataset_report(
        folder,
        {
            "task": "caption",
            "source": "the studio's shapes scenes (6,000 rendered at 64 px, seed 0), at 64 px",
            "counts": {
                "train": {"images": 800, "captions": 2963},
                "val": {"images": 600, "captions": 2222},
                "test": {"images": 600, "captions": 2229},
            },
            "problems": {},
            "skipped": [],
            "notes": ["val: 10%, test: 10% of all images, by image"],
        },
    )
    write_model_file(folder / artifacts.FINAL_MODEL)
    sha = artifacts.sha256_file(folder / artifacts.FINAL_MODEL)
    for epoch in (1, 2, 3):
        store.add_metric(
            run.id,
            "epoch",
            epoch,
            13,
            loss=3.0 / epoch,
            token_accuracy=0.25 * epoch,
            val_loss=2.5 / epoch,
            val_token_accuracy=0.25 * epoch + 0.02,
            val_bleu4=0.1 * epoch,
            val_cider=0.5 * epoch,
            lr=0.001 / epoch,
            epoch_seconds=20.0,
            images_per_s=120.0,
        )
    scenes = generate_shapes(3)
    artifacts.save_npz_atomically(
        folder / artifacts.CAPTION_EXAMPLE_IMAGES, {"images": scenes.images}
    )
    artifacts.write_caption_examples(
        folder,
        {
            "images": [
                {"name": f"scene-{i:05d}", "references": list(scenes.captions[i])} for i in range(3)
            ],
            "epochs": [{"epoch": e, "captions": list(c)} for e, c in enumerate(CAPTION_HISTORY, 1)],
        },
    )
    scores = {
        "bleu1": 0.62,
        "bleu2": 0.51,
        "bleu3": 0.42,
        "bleu4": 0.345,
        "cider": 1.234,
        "images": 600,
    }
    if evaluation:
        artifacts.write_evaluation(
            folder,
            {
                "format": CAPTION_FORMAT,
                "task": "caption",
                "split": "test",
                "model_sha256": sha,
                "beam_width": 3,
                "scores": scores,
                "captions": [
                    {
                        "image": "scene-00001",
                        "caption": "a red square",
                        "cider": 0.0,
                        "references": ["a blue circle at the top"],
                    }
                ],
            },
        )
    store.update(
        run.id,
        status="completed",
        started_at=1_800_000_000.0,
        finished_at=1_800_000_070.0,
        train_seconds=60.0,
        epochs_done=3,
        steps_per_epoch=13,
        num_classes=40,
        device="tensorflow on CPU, mixed_bfloat16, no XLA",
        model_sha256=sha,
        test={"bleu4": scores["bleu4"], "cider": scores["cider"]},
    )
    return store.get(run.id)
