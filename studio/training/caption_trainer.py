"""Train one captioning run (`task=caption`): captions, tokenizer, captioner, fit, test scores.

Like the classifier's trainer it talks to the outside only through the run store and the run
folder, and shares its resume, schedule and `fit` wiring (`studio.training.fitting`). What
differs: the tokenizer is learnt from the training captions (and kept in the run folder, so a
resume and the demo read the same words), batches are (image, caption) pairs, and each
epoch's row carries validation BLEU-4 and CIDEr-D beside the token loss and accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras

from studio.config.schema import RunConfig
from studio.datasets.captions import CaptionDataset
from studio.models.captioner import build_captioner
from studio.runs import artifacts
from studio.runs.errors import RunFailed
from studio.runs.store import RunStore
from studio.text.pairs import caption_pairs
from studio.text.tokenizer import CaptionTokenizer, TokenizerError, train_tokenizer
from studio.training.callbacks import save_atomically
from studio.training.caption_evaluation import test_report
from studio.training.caption_examples import CaptionScoring
from studio.training.caption_feed import CaptionBatches
from studio.training.caption_loss import CaptionLoss, TokenAccuracy
from studio.training.compile import compile_with
from studio.training.evaluation import EVAL_BATCH
from studio.training.fitting import channel_stats, fit_run, resume_or_build
from studio.training.run_data import load_run_captions
from studio.training.speed import execution_plan


def run_tokenizer(run_dir: Path, data: CaptionDataset, cfg: RunConfig) -> CaptionTokenizer:
    """The run's tokenizer: the one in its folder (a resume must read the words its
    checkpoint learnt), else one learnt now from the training captions and saved."""
    path = run_dir / artifacts.TOKENIZER
    if path.is_file():
        try:
            return CaptionTokenizer.load(path)
        except TokenizerError as err:
            raise RunFailed(
                f"{err}; the run's checkpoint was trained with the words it held, so it "
                "cannot resume: start it fresh"
            ) from None
    tokenizer = train_tokenizer(data.captions_train, cfg.caption.vocab_size)
    tokenizer.save(path)
    return tokenizer


def write_caption_dataset_files(run_dir: Path, data: CaptionDataset, cut: int) -> None:
    """labels.json (task, input size; no classes) and the dataset report, with the count of
    training captions longer than `caption.max_length`, which were cut."""
    labels = artifacts.Labels((), int(data.input_size), data.name, task="caption")
    artifacts.write_labels(run_dir, labels)
    report = data.report.to_dict()
    report["captions_cut"] = cut
    artifacts.write_dataset_report(run_dir, report)


def compile_captioner(model: keras.Model, cfg: RunConfig, steps_per_epoch: int, plan) -> None:
    """The studio's optimizer and schedule, the padding-blind token loss (with
    `train.label_smoothing`) and token accuracy."""
    compile_with(
        model,
        cfg.train,
        steps_per_epoch,
        plan,
        loss=CaptionLoss(label_smoothing=cfg.train.label_smoothing),
        metrics=[TokenAccuracy(name="token_accuracy")],
    )


def train_captioner(store: RunStore, run_id: str, cfg: RunConfig) -> str | None:
    """Train (or resume) a captioning run to its last epoch, then score its test split.
    Returns a note for the run's reason when it resumed from its previous checkpoint."""
    run_dir = store.run_dir(run_id)
    keras.utils.set_random_seed(cfg.train.seed)
    plan = execution_plan()

    data = load_run_captions(store, cfg)
    tokenizer = run_tokenizer(run_dir, data, cfg)
    max_length = cfg.caption.max_length
    train_pairs = caption_pairs(data.captions_train, tokenizer, max_length)
    write_caption_dataset_files(run_dir, data, train_pairs.cut)
    # An epoch is a pass over the images, one caption each (`CaptionBatches`).
    batch = min(cfg.train.batch_size, len(data.x_train))
    steps = math.ceil(len(data.x_train) / batch)
    store.update(run_id, steps_per_epoch=steps, num_classes=tokenizer.vocab_size)

    def build() -> keras.Model:
        mean, variance = channel_stats(data.x_train)
        model = build_captioner(
            cfg, tokenizer.vocab_size, tuple(data.x_train.shape[1:]), mean, variance
        )
        compile_captioner(model, cfg, steps, plan)
        return model

    model, start_epoch, note = resume_or_build(store, run_id, cfg, steps, plan, build)

    if start_epoch < cfg.train.epochs:
        train_feed = CaptionBatches(
            data.x_train,
            train_pairs,
            batch,
            shuffle=True,
            seed=cfg.train.seed,
            start_epoch=start_epoch,
        )
        val_feed = None
        scoring = []
        if len(data.x_val):
            val_pairs = caption_pairs(data.captions_val, tokenizer, max_length)
            val_feed = CaptionBatches(data.x_val, val_pairs, EVAL_BATCH)
            scoring = [
                CaptionScoring(
                    tokenizer,
                    data.x_val,
                    data.captions_val,
                    data.names_val,
                    run_dir,
                    cfg.caption.beam_width,
                    cfg.caption.examples,
                    start_epoch=start_epoch,
                )
            ]
        fit_run(
            store,
            run_id,
            model,
            train_feed,
            val_feed,
            batch,
            cfg,
            start_epoch,
            before_store=scoring,
        )

    final = run_dir / artifacts.FINAL_MODEL
    save_atomically(model, final)
    sha256 = artifacts.sha256_file(final)
    test: dict[str, float] = {}
    if len(data.x_test):
        report = test_report(
            model,
            tokenizer,
            data.x_test,
            data.captions_test,
            data.names_test,
            cfg,
            sha256,
        )
        artifacts.write_evaluation(run_dir, report)
        test = {key: report["scores"][key] for key in ("bleu4", "cider")}
    store.update(run_id, model_sha256=sha256, test=test)
    return note
