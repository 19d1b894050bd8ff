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
