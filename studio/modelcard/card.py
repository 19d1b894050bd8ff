"""A finished run's model card: `README.md` with Hugging Face metadata, and its pictures.

Everything in it is read from the run store and the run folder (config, labels, dataset
report, metric rows, the evaluation report, the model file); nothing is typed in by hand and
no heading is left for someone to fill. The metadata (license, datasets, metrics,
model-index) is written through huggingface_hub's ModelCardData and EvalResult.
No keras: the Streamlit server renders cards.
"""

from __future__ import annotations

import io
import math
import re
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.config.variants import VARIANTS, Variant
from studio.evaluation.report import current_report
from studio.modelcard.figures import confusion_png, curves_png
from studio.runs import artifacts
from studio.runs.artifacts import Labels, ModelInfo, model_info
from studio.runs.backend import installed_version
from studio.runs.public import publisher
from studio.runs.store import Run, RunStore

DEFAULT_LICENSE = "apache-2.0"
README = "README.md"
CURVES = "images/curves.png"
CONFUSION = "images/confusion.png"
# A test split smaller than this, or with fewer images than this in some class, gets a plain
# warning: at 1,000 images one standard error of an 80 % accuracy is still 1.3 points, and
# below 30 images a class's recall moves by 3 points or more with each image.
SMALL_TEST_IMAGES = 1000
SMALL_TEST_PER_CLASS = 30
Z95 = 1.959964  # a normal 95 % interval: accuracy ± 1.96 standard errors
CONFUSED_PAIRS_SHOWN = 5
# The Hub's dataset repositories for the built-in datasets that have one.
HUB_DATASETS = {"cifar10": "uoft-cs/cifar10", "cifar100": "uoft-cs/cifar100"}
# A heuristic, not a classifier: words that suggest medical images in the dataset's name,
# source or class names (stems of 5 letters or more match the start of a word, so "tumor"
# finds "tumors"; shorter ones the whole word or its plural). A match
# makes the medical warning the card's first paragraph; every card carries it in Limitations.
MEDICAL_WORDS = (
    "alzheimer", "anatom", "benign", "biopsy", "brain", "cancer", "carcinoma", "cardiac",
    "cell", "chest", "clinic", "covid", "ct", "demented", "dementia", "dermat", "diagnos",
    "disease", "fundus", "glioma", "histolog", "histopath", "lesion", "leukemia", "lung",
    "malaria", "malignant", "mammo", "medical", "melanoma", "meningioma", "mri", "nevus",
    "patholog", "patient", "pituitary", "pneumonia", "polyp", "radiolog", "retina",
    "retinopathy", "scan", "skin", "tumor", "tumour", "tuberculosis", "ultrasound", "x-ray",
    "xray",
)  # fmt: skip

# The papers behind what a variant is, from its flags in the variant table: every variant is
# a ViT; SPT and LSA come from Lee, Lee & Song; a distilling student is DeiT.
PAPERS = {
    "vit": (
        "Dosovitskiy et al. 2021 (ViT)",
        "Dosovitskiy et al. 2021, *An Image is Worth 16x16 Words: Transformers for Image "
        "Recognition at Scale*, ICLR 2021, [arXiv:2010.11929](https://arxiv.org/abs/2010.11929)",
        """@inproceedings{dosovitskiy2021vit,
  title     = {An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale},
  author    = {Dosovitskiy, Alexey and Beyer, Lucas and Kolesnikov, Alexander and
               Weissenborn, Dirk and Zhai, Xiaohua and Unterthiner, Thomas and
               Dehghani, Mostafa and Minderer, Matthias and Heigold, Georg and Gelly, Sylvain
               and Uszkoreit, Jakob and Houlsby, Neil},
  booktitle = {International Conference on Learning Representations},
  year      = {2021},
  eprint    = {2010.11929},
  archivePrefix = {arXiv}
}""",
    ),
    "spt-lsa": (
        "Lee, Lee & Song 2021 (SPT, LSA)",
        "Lee, Lee & Song 2021, *Vision Transformer for Small-Size Datasets* (Shifted Patch "
        "Tokenization, Locality Self-Attention), "
        "[arXiv:2112.13492](https://arxiv.org/abs/2112.13492)",
        """@article{lee2021smallvit,
  title   = {Vision Transformer for Small-Size Datasets},
  author  = {Lee, Seung Hoon and Lee, Seunghyun and Song, Byung Cheol},
  journal = {arXiv preprint arXiv:2112.13492},
  year    = {2021}
}""",
    ),
    "deit": (
        "Touvron et al. 2021 (DeiT)",
        "Touvron et al. 2021, *Training data-efficient image transformers & distillation "
        "through attention*, ICML 2021, [arXiv:2012.12877](https://arxiv.org/abs/2012.12877)",
        """@inproceedings{touvron2021deit,
  title     = {Training data-efficient image transformers \\& distillation through attention},
  author    = {Touvron, Hugo and Cord, Matthieu and Douze, Matthijs and Massa, Francisco and
               Sablayrolles, Alexandre and J{\\'e}gou, Herv{\\'e}},
  booktitle = {International Conference on Machine Learning},
  pages     = {10347--10357},
  year      = {2021},
  eprint    = {2012.12877},
  archivePrefix = {arXiv}
}""",
    ),
}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Card:
    """A rendered card: `text` is the README.md (front matter included), `images` maps the
    paths it links (e.g. `images/curves.png`) to PNG bytes."""

    run_id: str
    text: str
    images: dict[str, bytes] = field(default_factory=dict)


@dataclass
class _Facts:
    """What the card is written from, read once."""

    run: Run
    info: ModelInfo
    labels: Labels
    rows: list[dict[str, Any]]
    data: dict[str, Any]
    report: dict[str, Any] | None
    params: int | None
    variant: Variant | None
    repo_id: str | None

    @property
    def dataset(self) -> str:
        """`digits`, or `folder:NAME` for a folder dataset (its path left out)."""
        return self.run.dataset

    @property
    def test_images(self) -> int | None:
        if self.report:
            return int(self.report["images"])
        counts = (self.data.get("class_counts") or {}).get("test")
        return sum(counts.values()) if isinstance(counts, dict) and counts else None

    @property
    def accuracy(self) -> float | None:
        if self.report:
            return self.report["accuracy"]
        return (self.run.test or {}).get("accuracy")

    @property
    def accuracy_se(self) -> float | None:
        """One standard error of the test accuracy (binomial), from the report when there is
        one, else from the stored accuracy and the test split's size."""
        if self.report:
            return self.report["accuracy_se"]
        n, p = self.test_images, self.accuracy
        return math.sqrt(p * (1 - p) / n) if n and p is not None else None


# -- formatting ---------------------------------------------------------------------------


def pct(value: float | None, digits: int = 2) -> str:
    """A share as a percentage, e.g. `74.30 %`; `n/a` when not recorded."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pairs(rows: list[tuple[str, Any]]) -> str:
    return _table(["", ""], [[f"**{k}**", v] for k, v in rows])


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "an unrecorded date"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | None) -> str:
    minutes = f" ({seconds / 60:.1f} min)" if seconds and seconds >= 120 else ""
    return f"{seconds:.0f} s{minutes}" if seconds else "n/a"


# -- the run's facts ----------------------------------------------------------------------


def _facts(store: RunStore, ref: str, repo_id: str | None) -> _Facts:
    info = model_info(store, ref)  # refuses unfinished runs and changed model files
    run = info.run
    folder = store.run_dir(run.id)
    # The card is published: every fact it is written from is made publishable here, once.
    public = publisher(run, store.home)
    return _Facts(
        run=public(run),
        info=info,
        labels=public(info.labels),
        rows=store.metrics(run.id, kind="epoch"),
        data=public(artifacts.read_dataset_report(folder) or {}),
        report=public(current_report(folder, info.sha256)),
        params=artifacts.parameter_count(info.path),
        variant=VARIANTS.get(run.variant),
        repo_id=repo_id,
    )


def looks_medical(f: _Facts) -> list[str]:
    """The words that make the heuristic think these are medical images (empty: it does not)."""
    text = " ".join([f.run.dataset, str(f.data.get("source", "")), *f.labels.class_names]).lower()
    words = re.findall(r"[a-z][a-z0-9-]*", text)
    # Short words match whole (or plural): "ct" must not find "cat", nor "cell" "cello".
    return sorted(
        {
            w
            for w in words
            for m in MEDICAL_WORDS
            if w in (m, f"{m}s") or (len(m) >= 5 and w.startswith(m))
        }
    )


def papers(variant: Variant | None) -> list[str]:
    """Keys of PAPERS for a variant: ViT always, SPT / LSA and DeiT where its flags say so."""
    keys = ["vit"]
    if variant and (variant.spt or variant.lsa):
        keys.append("spt-lsa")
    if variant and variant.distills:
        keys.append("deit")
    return keys


def _split_counts(f: _Facts) -> dict[str, dict[str, int]]:
    counts = f.data.get("class_counts")
    return counts if isinstance(counts, dict) else {}


def _small_test(f: _Facts) -> str | None:
    """The warning for a small test split, or None."""
    n = f.test_images
    if not n:
        return None
    per_class = _split_counts(f).get("test") or {}
    if f.report:
        per_class = {r["class"]: r["support"] for r in f.report["per_class"]}
    fewest = min(per_class.values()) if per_class else None
    if n >= SMALL_TEST_IMAGES and (fewest is None or fewest >= SMALL_TEST_PER_CLASS):
        return None
    se = f.accuracy_se
    spread = f" (one standard error of the accuracy is {100 * se:.1f} points)" if se else ""
    thin = f", as few as {fewest} in one class" if fewest is not None else ""
    return (
        f"**Small test set.** The test split holds {n} images{thin}{spread}: the figures below "
        "are estimates with wide error bars, and differences of a few points between models "
        f"may be chance. (The card warns below {SMALL_TEST_IMAGES} test images or "
        f"{SMALL_TEST_PER_CLASS} per class.)"
    )


# -- sections -----------------------------------------------------------------------------


def _title(f: _Facts) -> str:
    label = f.variant.label if f.variant else f.run.variant
    return f"{label} on {f.dataset}"


def _intro(f: _Facts) -> str:
    run, n_classes = f.run, len(f.labels.class_names)
    what = f.variant.description if f.variant else f"`{run.variant}` model"
    how = "fine-tuned" if f.variant and f.variant.pretrained else "trained from scratch"
    lines = [
        f"A {what} that classifies {f.labels.input_size} x {f.labels.input_size} px images "
        f"into the {n_classes} classes of `{f.dataset}`, {how} with "
        f"ViT Studio as run `{run.id}` (finished {_when(run.finished_at)})."
    ]
    if f.accuracy is not None:
        se = f" ± {100 * f.accuracy_se:.1f} points (one standard error)" if f.accuracy_se else ""
        n = f" of {f.test_images} held-out images" if f.test_images else ""
        lines.append(f"Top-1 accuracy on the test split{n}: **{pct(f.accuracy)}**{se}.")
    return " ".join(lines)


def _banners(f: _Facts) -> list[str]:
    banners = []
    medical = looks_medical(f)
    if medical:
        banners.append(
            "> **Not a medical device.** This looks like a model of medical images (the "
            f"dataset or class names mention {', '.join(medical[:5])}). It was trained by a "
            "general-purpose tool on a small dataset, has not been clinically validated, and "
            "must not be used to diagnose, screen or treat anyone."
        )
    small = _small_test(f)
    if small:
        banners.append(f"> {small}")
    if f.report is None:
        banners.append(f"> {_no_report(f)}")
    return banners


def _no_report(f: _Facts) -> str:
    return (
        "**The detailed evaluation has not been computed for this model file** (per-class "
        "precision, recall and F1, confusion matrix, calibration): run "
        f"`python -m studio evaluate {f.run.id}`, then `python -m studio card {f.run.id}` "
        "to write the card again with it."
    )


def _model_details(f: _Facts) -> str:
    run, v = f.run, f.variant
    m = run.config.get("model", {})
    tokens = ""
    if m.get("image_size") and m.get("patch_size"):
        tokens = f" ({(m['image_size'] // m['patch_size']) ** 2} patches)"
    rows: list[tuple[str, Any]] = [
        ("Variant", f"`{run.variant}`: {v.description if v else 'unknown to this release'}"),
        ("Parameters", f"{f.params:,}" if f.params is not None else "n/a (weights unreadable)"),
        (
            "Input",
            f"{f.labels.input_size} px RGB, resized by the model to {m.get('image_size')} px",
        ),
        ("Patch size", f"{m.get('patch_size')} px{tokens}"),
    ]
    if v and v.pretrained:
        rows += [
            ("Pretrained backbone", f"`{m.get('pretrained')}`"),
            ("Backbone frozen", "yes" if m.get("freeze_backbone") else "no (fine-tuned too)"),
        ]
    else:
        rows += [
            (
                "Width / depth / heads",
                f"{m.get('projection_dim')} / {m.get('depth')} / "
                f"{m.get('num_heads')} (key size {m.get('key_dim')})",
            ),
            ("Shifted Patch Tokenization", "yes" if v and v.spt else "no"),
            ("Locality Self-Attention", "yes" if v and v.lsa else "no"),
            ("MLP units / head units", f"{m.get('mlp_units')} / {m.get('head_units')}"),
            ("Pooling", m.get("pooling")),
            (
                "Dropout / head dropout / drop path",
                f"{m.get('dropout')} / {m.get('head_dropout')} / {m.get('stochastic_depth')}",
            ),
        ]
    if v and v.distills:
        d = run.config.get("distill", {})
        rows += [
            ("Teacher", f"run `{d.get('teacher')}`"),
            (
                "Distillation",
                f"{d.get('kind')}, alpha {d.get('alpha')}, temperature "
                f"{d.get('temperature')}; predicts with the average of its two heads",
            ),
        ]
    rows.append(("Papers", "; ".join(PAPERS[k][0] for k in papers(v))))
    return _pairs(rows)


def _intended_use(f: _Facts) -> str:
    names = len(f.labels.class_names)
    return (
        f"Sorting images like those of `{f.dataset}` into its {names} classes, "
        "for study, teaching and prototyping: for instance, to compare Vision Transformer "
        "variants on a small dataset, or as a baseline before collecting more data.\n\n"
        "Out of scope: images unlike the training images (the model always answers with one "
        "of its classes, however foreign the image), decisions about people, and any "
        "medical, safety-critical or legal use."
    )


def _split_method(f: _Facts) -> list[str]:
    """How the splits were made: the report's structured `split` field when present, its
    notes always (they say it in words, also for reports written before the field)."""
    lines = []
    split = f.data.get("split")
    if isinstance(split, dict) and split.get("method"):
        fractions = split.get("fractions") or {}
        carved = ", ".join(f"{s} {v:.0%}" for s, v in fractions.items() if v) or "none"
        given = ", ".join(split.get("given") or []) or "none"
        seed = split.get("seed")
        if split["method"] == "grouped":
            groups = split.get("groups") or {}
            per = " / ".join(f"{s} {groups[s]}" for s in SPLITS if s in groups)
            lines.append(
                f"**Grouped** by `{split.get('group_by')}`: every group lies whole in one split "
                f"(groups per split: {per or 'n/a'}); carved: {carved}; given by the source: "
                f"{given}; seed {seed}."
            )
            shared = {k: v for k, v in (split.get("shared_groups") or {}).items() if v}
            if shared:
                pairs = ", ".join(f"{k}: {v}" for k, v in shared.items())
                lines.append(f"Groups found in two splits as the source gave them: {pairs}.")
        else:
            lines.append(
                f"**{str(split['method']).capitalize()}**: each class cut in the same "
                f"proportions; carved: {carved}; given by the source: {given}; seed {seed}."
            )
    notes = [str(n) for n in f.data.get("notes") or []]
    lines += [f"- {n}" for n in notes]
    if not lines:
        lines.append("The dataset report of this run does not record how it was split.")
    return lines


def _training_data(f: _Facts) -> str:
    run, names = f.run, list(f.labels.class_names)
    counts = _split_counts(f)
    source = str(f.data.get("source") or "not recorded")
    parts = [f"Dataset `{f.dataset}`: {source}."]
    limit = (run.config.get("data") or {}).get("limit")
    if limit:
        parts.append(f"Training was limited to {limit} images (`data.limit`).")
    parts.append("\n**How it was split**\n")
    parts += _split_method(f)
    present = [s for s in SPLITS if s in counts]
    if present:
        totals = [
            [s, sum(counts[s].values()), sum(1 for v in counts[s].values() if v)] for s in present
        ]
        parts += ["\n**Split sizes**\n", _table(["split", "images", "classes"], totals)]
        rows = [[n, *(counts[s].get(n, 0) for s in present)] for n in names]
        parts += [
            f"\n**Classes** ({len(names)}, images per split)\n",
            _table(["class", *present], rows),
        ]
    else:
        parts += [f"\n**Classes** ({len(names)})\n", ", ".join(f"`{n}`" for n in names)]
    skipped = f.data.get("skipped") or []
    if skipped:
        reasons: dict[str, int] = {}
        for item in skipped:
            reason = item.get("reason", "?") if isinstance(item, dict) else str(item)
            reasons[reason] = reasons.get(reason, 0) + 1
        listed = "; ".join(f"{n} x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        parts.append(f"\n{len(skipped)} files were left out: {listed}.")
    else:
        parts.append("\nNo file was left out.")
    return "\n".join(parts)


def _training_procedure(f: _Facts) -> str:
    run = f.run
    t, a = run.config.get("train", {}), run.config.get("augment", {})
    total = (run.steps_per_epoch or 0) * (t.get("epochs") or 0)
    steps = f"{total} steps ({run.steps_per_epoch} per epoch)" if total else "all steps"
    schedule = (
        f"linear warm-up over the first {t.get('warmup_fraction', 0):.0%} of {steps} to the "
        f"peak, then cosine decay to 0"
    )
    augment = ", ".join(
        k if v is True else f"{k} {v}" for k, v in a.items() if v not in (False, 0, 0.0, None)
    )
    rows: list[tuple[str, Any]] = [
        ("Preset", f"`{run.preset or 'none'}`"),
        ("Epochs", f"{run.epochs_done} of {run.epochs_total}"),
        ("Batch size", t.get("batch_size")),
        (
            "Optimizer",
            f"AdamW, peak learning rate {t.get('learning_rate')}, weight decay "
            f"{t.get('weight_decay')}",
        ),
        ("Schedule", schedule),
        ("Loss", f"categorical cross-entropy, label smoothing {t.get('label_smoothing')}"),
        ("Augmentation", augment or "none"),
        ("Precision setting", f"`{t.get('precision')}`"),
        ("Seed", t.get("seed")),
    ]
    return (
        _pairs(rows) + "\n\nThe final model is the one after the last epoch (no early stopping, no "
        "checkpoint picked by its validation score)."
    )


def _results(f: _Facts, images: dict[str, bytes]) -> str:
    if not f.rows:
        return "This run recorded no per-epoch metrics."
    header = [
        "epoch",
        "train loss",
        "train top-1",
        "val loss",
        "val top-1",
        "val top-5",
        "learning rate",
        "seconds",
        "images/s",
    ]
    rows = [
        [
            r["epoch"],
            num(r["loss"]),
            pct(r["accuracy"]),
            num(r["val_loss"]),
            pct(r["val_accuracy"]),
            pct(r["val_top5"]),
            "n/a" if r["lr"] is None else f"{r['lr']:.3g}",
            "n/a" if r["epoch_seconds"] is None else f"{r['epoch_seconds']:.1f}",
            "n/a" if r["images_per_s"] is None else f"{r['images_per_s']:.0f}",
        ]
        for r in f.rows
    ]
    parts = [_table(header, rows)]
    scored = [r for r in f.rows if r["val_accuracy"] is not None]
    if scored:
        best = max(scored, key=lambda r: r["val_accuracy"])
        parts.append(
            f"\nBest validation top-1: {pct(best['val_accuracy'])} at epoch {best['epoch']}."
        )
    png = curves_png(f.rows)
    if png:
        images[CURVES] = png
        parts.append(f"\n![Loss and accuracy per epoch]({CURVES})")
    return "\n".join(parts)


def _evaluation(f: _Facts, images: dict[str, bytes]) -> str:
    test, r = f.run.test or {}, f.report
    if r is None and not test:
        return "This run has no test split, so the model was not tested on held-out images."
    se, acc = f.accuracy_se, f.accuracy
    interval = "n/a"
    if se is not None and acc is not None:
        interval = f"{pct(max(0.0, acc - Z95 * se))} to {pct(min(1.0, acc + Z95 * se))}"
    n = f.test_images
    parts = [
        f"On the held-out test split ({n if n else 'an unrecorded number of'} images), never "
        "used for training or for choosing the model:\n"
    ]
    rows: list[list[Any]] = [
        ["top-1 accuracy", pct(acc)],
        ["standard error of top-1", "n/a" if se is None else f"{100 * se:.2f} points"],
        ["95 % interval of top-1 (normal approximation)", interval],
        ["top-3 accuracy", pct((r or test).get("top3"))],
        ["top-5 accuracy", pct((r or test).get("top5"))],
        ["loss", num((r or test).get("loss"))],
    ]
    if r is None:
        parts += [_table(["metric", "value"], rows), "", _no_report(f)]
        return "\n".join(parts)
    for avg in ("macro", "weighted"):
        for m in ("precision", "recall", "f1"):
            rows.append([f"{avg} {m}", pct(r[avg][m])])
    if r.get("calibration"):
        rows.append(["expected calibration error", pct(r["calibration"]["ece"])])
    parts.append(_table(["metric", "value"], rows))
    per_class = [
        [c["class"], pct(c["precision"]), pct(c["recall"]), pct(c["f1"]), c["support"]]
        for c in r["per_class"]
    ]
    parts += [
        "\n**Per class**\n",
        _table(["class", "precision", "recall", "F1", "support"], per_class),
    ]
    images[CONFUSION] = confusion_png(r)
    parts.append(
        f"\n![Confusion matrix, rows normalised, confused classes side by side]({CONFUSION})"
    )
    pairs = [p for p in r.get("confused_pairs") or [] if p.get("count")][:CONFUSED_PAIRS_SHOWN]
    if pairs:
        rows = [[p["true"], p["predicted"], p["count"], pct(p["share"], 1)] for p in pairs]
        parts += [
            "\n**Most confused**\n",
            _table(["true", "predicted as", "images", "share of the true class"], rows),
        ]
    else:
        parts.append("\nNo test image was misclassified.")
    return "\n".join(parts)


def _limitations(f: _Facts) -> str:
    names = len(f.labels.class_names)
    size = f.labels.input_size
    train = sum((_split_counts(f).get("train") or {}).values())
    items = [
        f"It knows only its {names} classes and assigns every image to one of them, however "
        'unlike its training images it is: it cannot say "none of these".',
        f"Images are squashed to {size} x {size} px without keeping their aspect ratio "
        "(EXIF orientation applied, transparency on white), as in training.",
    ]
    if train:
        items.append(
            f"It learnt from {train} training images: a small dataset for a Vision Transformer, "
            "which learns from data what a convolutional network has built in."
        )
    items.append(
        "The test split comes from the same source as the training images: on images from "
        "elsewhere (other cameras, sites, people) accuracy is likely lower."
    )
    se, acc = f.accuracy_se, f.accuracy
    if se is not None and acc is not None:
        items.append(
            f"Test top-1 {pct(acc)} has a standard error of {100 * se:.2f} points: the true "
            f"accuracy on images like the test split is likely (95 %) within "
            f"{100 * Z95 * se:.1f} points of it."
        )
    small = _small_test(f)
    if small:
        items.append(small)
    medical = looks_medical(f)
    split = f.data.get("split") if isinstance(f.data.get("split"), dict) else {}
    if medical:
        items.append(
            "**Not a medical device.** The dataset looks medical (a word heuristic matched "
            f"{', '.join(medical[:5])}). The model has not been clinically validated and must "
            "not be used to diagnose, screen or treat anyone."
        )
        if split.get("method") != "grouped":
            items.append(
                "The split was not grouped by patient: images of one patient may be in both "
                "training and test, which inflates test accuracy. Retrain with `data.group_by`."
            )
    else:
        items.append(
            "Not a medical device: it must not be used to diagnose, screen or treat anyone, "
            "whatever its images."
        )
    if f.report and f.report.get("calibration"):
        items.append(
            "Its confidence differs from its accuracy by "
            f"{100 * f.report['calibration']['ece']:.1f} points on average (expected "
            "calibration error): read its probabilities as scores, not as guarantees."
        )
    return "\n".join(f"- {item}" for item in items)


def _compute(f: _Facts) -> str:
    run = f.run
    device = run.device or "not recorded"
    backend = device.split(" ", 1)[0] if run.device else "not recorded"
    wall = (run.finished_at - run.started_at) if run.finished_at and run.started_at else None
    keras = artifacts.keras_version_of(f.info.path)
    here = [
        f"{n} {v}"
        for n in ("tensorflow", "tensorflow-cpu", "jax", "numpy")
        if (v := installed_version(n))
    ]
    rows: list[tuple[str, Any]] = [
        ("Hardware, backend, precision, execution", device),
        ("Keras backend", backend),
        (
            "Training time",
            f"{_duration(run.train_seconds)} in epochs, {_duration(wall)} from "
            "start to finish (data loading and testing included)",
        ),
        ("Keras", f"{keras} (written in model.keras)" if keras else "not recorded"),
        ("ViT Studio", installed_version("vit-studio") or "not installed as a package"),
        ("Installed when this card was written", ", ".join(here) or "n/a"),
    ]
    return _pairs(rows)


def _how_to_use(f: _Facts) -> str:
    if f.repo_id:
        fetch = (
            "from huggingface_hub import hf_hub_download\n\n"
            f'model_file = hf_hub_download("{f.repo_id}", "model.keras")\n'
            f'labels_file = hf_hub_download("{f.repo_id}", "labels.json")\n'
        )
    else:
        fetch = 'model_file, labels_file = "model.keras", "labels.json"  # beside this card\n'
    return (
        "The model uses ViT Studio's custom layers: install the studio (`pip install -e .` in "
        "its repository), then\n\n"
        "```python\n"
        "import json\n\nimport keras\n\n"
        "import studio.inference.loading  # registers the studio's layers with Keras\n"
        "from studio.inference.predict import decode_for_model, predict_probs, ranked\n\n"
        f"{fetch}\n"
        "model = keras.saving.load_model(model_file, safe_mode=True, compile=False)\n"
        "labels = json.load(open(labels_file))\n"
        'image = decode_for_model("image.png", labels["input_size"])\n'
        'print(ranked(predict_probs(model, image)[0], labels["class_names"], 5))\n'
        "```\n\n"
        f"Or, inside the studio: `python -m studio predict {f.run.id} image.png`. The model "
        "outputs logits; `predict_probs` applies the softmax."
    )


def _files(f: _Facts, images: dict[str, bytes]) -> str:
    items = [
        f"`model.keras`: the Keras model (sha256 `{f.info.sha256}`)",
        "`labels.json`: class names in output order, input size, dataset",
        "`config.json`: the full run configuration (local paths reduced to their last part)",
    ]
    if f.report:
        items.append("`evaluation.json`: the whole test-set evaluation report")
    items += [f"`{name}`: the figure shown above" for name in sorted(images)]
    return "\n".join(f"- {i}" for i in items)


def _citation(f: _Facts) -> str:
    keys = papers(f.variant)
    listed = "\n".join(f"- {PAPERS[k][1]}" for k in keys)
    bib = "\n\n".join(PAPERS[k][2] for k in keys)
    return f"{listed}\n\n```bibtex\n{bib}\n```"


# -- metadata -----------------------------------------------------------------------------


def _metadata(f: _Facts, license: str):
    from huggingface_hub import EvalResult, ModelCardData

    dataset = f.run.dataset
    hub_id = HUB_DATASETS.get(dataset)
    name = f.repo_id.split("/")[-1] if f.repo_id else f.run.id
    results = []
    test, r = f.run.test or {}, f.report
    values = {
        ("accuracy", "Top-1 accuracy"): f.accuracy,
        ("top_3_accuracy", "Top-3 accuracy"): (r or test).get("top3"),
        ("top_5_accuracy", "Top-5 accuracy"): (r or test).get("top5"),
    }
    if r:
        for m in ("precision", "recall", "f1"):
            values[(m, f"Macro {m}")] = r["macro"][m]
    for (metric, label), value in values.items():
        if value is None:
            continue
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=hub_id or f.dataset,
                dataset_name=f.dataset,
                dataset_split="test",
                metric_type=metric,
                metric_name=label,
                metric_value=float(value),
                metric_args={"average": "macro"} if label.startswith("Macro") else None,
            )
        )
    return ModelCardData(
        license=license,
        library_name="keras",
        pipeline_tag="image-classification",
        tags=[
            "image-classification",
            "vision-transformer",
            "keras",
            "vit-studio",
            f.run.variant,
        ],
        datasets=[hub_id] if hub_id else None,
        metrics=["accuracy", "precision", "recall", "f1"] if r else ["accuracy"],
        model_name=name,
        eval_results=results or None,
    )


# -- the card -----------------------------------------------------------------------------

SECTIONS = (
    "Model details",
    "Intended use",
    "Training data",
    "Training procedure",
    "Training results",
    "Evaluation",
    "Limitations and risks",
    "Compute and environment",
    "How to use",
    "Files",
    "Citation",
)


def render_card(
    store: RunStore, run_id: str, *, license: str = DEFAULT_LICENSE, repo_id: str | None = None
) -> Card:
    """The model card of a completed run (ModelUnavailable, with the reason, otherwise).

    `repo_id` (USER/NAME), when known, goes into the loading snippet and the model-index."""
    from huggingface_hub import ModelCard

    f = _facts(store, run_id, repo_id)
    images: dict[str, bytes] = {}
    bodies = {
        "Model details": _model_details(f),
        "Intended use": _intended_use(f),
        "Training data": _training_data(f),
        "Training procedure": _training_procedure(f),
        "Training results": _results(f, images),
        "Evaluation": _evaluation(f, images),
        "Limitations and risks": _limitations(f),
        "Compute and environment": _compute(f),
        "How to use": _how_to_use(f),
        "Files": _files(f, images),
        "Citation": _citation(f),
    }
    body = [f"# {_title(f)}", "", *_banners(f), "", _intro(f)]
    for heading in SECTIONS:
        body += ["", f"## {heading}", "", bodies[heading]]
    body.append(f"\n*Written by ViT Studio from run `{f.run.id}` on {_when(time.time())}.*")
    text = "\n".join(line for line in body) + "\n"
    card = ModelCard(f"---\n{_metadata(f, license).to_yaml()}\n---\n\n{text}")
    return Card(run_id=f.run.id, text=str(card), images=images)


def write_card(card: Card, folder: Path) -> list[Path]:
    """Write README.md and the images into `folder` (made if missing); the paths written."""
    folder = Path(folder)
    written = [folder / README]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / README).write_text(card.text, encoding="utf-8")
    for name, data in card.images.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def card_zip(card: Card) -> bytes:
    """README.md and the images as a zip under `<run id>-card/`, for a download button."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{card.run_id}-card/{README}", card.text)
        for name, data in card.images.items():
            archive.writestr(f"{card.run_id}-card/{name}", data)
    return buffer.getvalue()
