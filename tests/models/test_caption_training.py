"""A captioning run through the trainer itself (TensorFlow, and again on JAX): it trains,
records what the run's view shows, scores its test split, and resumes with the tokenizer and
example captions it had."""

from __future__ import annotations

from studio.runs import artifacts
from studio.runs.store import RunStore
from studio.training.trainer import train_run
from tests.helpers.tiny import tiny_caption_config


def epoch_rows(store: RunStore, run_id: str) -> list[dict]:
    return list(store.metrics(run_id, kind="epoch"))


def test_a_caption_run_trains_scores_and_resumes_with_its_own_words(studio_home):
    store = RunStore()
    cfg = tiny_caption_config(
        **{"data.limit": 96, "train.epochs": 1, "caption.examples": 2, "caption.beam_width": 2}
    )
    run = store.create_run(cfg.to_dict())
    train_run(store, run.id)
    run_dir = store.run_dir(run.id)

    rows = epoch_rows(store, run.id)
    assert [r["epoch"] for r in rows] == [1]
    for key in ("loss", "token_accuracy", "val_loss", "val_token_accuracy"):
        assert rows[0][key] is not None, key
    assert 0.0 <= rows[0]["val_bleu4"] <= 1.0 and rows[0]["val_cider"] >= 0.0
    labels = artifacts.read_labels(store, run.id)
    assert (labels.task, labels.class_names) == ("caption", ())

    examples = artifacts.read_caption_examples(run_dir)
    assert [e["epoch"] for e in examples["epochs"]] == [1]
    assert len(examples["images"]) == 2 == len(examples["epochs"][0]["captions"])
    assert all(image["references"] for image in examples["images"])

    report = artifacts.read_evaluation(run_dir)
    assert report["task"] == "caption" and report["beam_width"] == 2
    finished = store.get(run.id)
    assert finished.test == {k: report["scores"][k] for k in ("bleu4", "cider")}
    assert report["model_sha256"] == finished.model_sha256
    assert len(report["captions"]) == report["scores"]["images"] > 0

    # One more epoch, as a resume after a crash: the checkpoint's own words, examples kept.
    words = (run_dir / artifacts.TOKENIZER).read_bytes()
    config = finished.config
    config["train"]["epochs"] = 2
    store.update(run.id, config=config, epochs_total=2)
    store.finish(run.id, "failed", "killed")
    train_run(store, run.id)
    assert [r["epoch"] for r in epoch_rows(store, run.id)] == [1, 2]
    assert (run_dir / artifacts.TOKENIZER).read_bytes() == words
    examples = artifacts.read_caption_examples(run_dir)
    assert [e["epoch"] for e in examples["epochs"]] == [1, 2]
