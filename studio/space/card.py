"""The exported Space's README: Hugging Face front matter (sdk gradio) and a model card, of a
classifier or of a captioner (labels.task)."""

from __future__ import annotations

import json

from studio.config.variants import VARIANTS
from studio.runs.artifacts import Labels
from studio.runs.store import Run

EMOJI = {"digits": "🔢", "cifar10": "🖼️", "cifar100": "🖼️", "tf_flowers": "🌸"}
MAX_LISTED_CLASSES = 30


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _num(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _yaml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def space_readme(
    run: Run,
    labels: Labels,
    *,
    title: str,
    license: str,
    versions: dict[str, str],
    backend: str,
    sha256: str,
    python: str,
    repo_id: str | None = None,
) -> str:
    cfg = run.config
    variant = VARIANTS[run.variant].description if run.variant in VARIANTS else run.variant
    model, train, data, augment = (
        cfg.get("model", {}),
        cfg.get("train", {}),
        cfg.get("data", {}),
        cfg.get("augment", {}),
    )
    test = run.test or {}
    dataset = run.dataset
    names = list(labels.class_names)
    listed = ", ".join(f"`{n}`" for n in names[:MAX_LISTED_CLASSES])
    if len(names) > MAX_LISTED_CLASSES:
        listed += f" and {len(names) - MAX_LISTED_CLASSES} more (see labels.json)"
    tokens = ""
    if model.get("image_size") and model.get("patch_size"):
        tokens = f" ({(model['image_size'] // model['patch_size']) ** 2} tokens)"
    captions = labels.task == "caption"
    short = f"{run.variant} Vision Transformer{' captioner' if captions else ''} on {dataset}"
    space = repo_id or "USER/NAME"
    front = "\n".join(
        [
            "---",
            f"title: {_yaml(title)}",
            f"emoji: {EMOJI.get(dataset, '🧩')}",
            "colorFrom: indigo",
            "colorTo: blue",
            "sdk: gradio",
            f"sdk_version: {versions.get('gradio', '')}",
            f"python_version: {_yaml(python)}",
            "app_file: app.py",
            "pinned: false",
            f"license: {license}",
            f"short_description: {_yaml(short[:60])}",
            "tags:",
            f"  - {'image-to-text' if captions else 'image-classification'}",
            "  - vision-transformer",
            "  - keras",
            "  - vit-studio",
            "---",
        ]
    )
    m, t = model, train
    shape = f"{m.get('projection_dim')} / {m.get('depth')} / {m.get('num_heads')}"
    drops = f"{m.get('dropout')} / {m.get('head_dropout')} / {m.get('stochastic_depth')}"
    optim = f"{t.get('batch_size')} / {t.get('learning_rate')} / {t.get('weight_decay')}"
    limit = f", limited to {data['limit']} training images" if data.get("limit") else ""
    rows = [
        ("Variant", f"`{run.variant}`: {variant}"),
        ("Input", f"{labels.input_size} px, resized by the model to {m.get('image_size')} px"),
        ("Patches", f"{m.get('patch_size')} px{tokens}"),
        ("Width / depth / heads", shape),
        ("MLP / head units", f"{m.get('mlp_units')} / {m.get('head_units')}"),
        ("Pooling", f"{m.get('pooling')}"),
        ("Dropout / head / drop path", drops),
    ]
    training = [
        ("Dataset", f"`{dataset}`{limit}"),
        ("Classes", f"{len(names)}: {listed}"),
        ("Preset", f"`{run.preset or '-'}`"),
        ("Epochs", f"{run.epochs_done} of {run.epochs_total}"),
        ("Batch / peak lr / weight decay", optim),
        ("Augmentation", ", ".join(f"{k} {v}" for k, v in augment.items()) or "-"),
        ("Training time / device", f"{run.train_seconds:.0f} s / {run.device or '-'}"),
    ]
    if captions:
        c = cfg.get("caption", {})
        decoder = f"{c.get('decoder_depth')} / {c.get('decoder_heads')} / {c.get('decoder_mlp')}"
        # A captioner has no class head; its decoder and vocabulary take their rows.
        rows = [
            ("MLP units", f"{m.get('mlp_units')}") if k == "MLP / head units" else (k, v)
            for k, v in rows
        ]
        rows.append(("Caption decoder depth / heads / MLP", decoder))
        rows.append(("Caption length", f"{c.get('max_length')} tokens, start and end included"))
        words = ("Vocabulary", f"{run.num_classes or '?'} tokens (`tokenizer.json`)")
        training = [words if k == "Classes" else (k, v) for k, v in training]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    training_table = "\n".join(f"| {k} | {v} |" for k, v in training)
    if captions:
        return _caption_card(
            front, title, variant, run, labels, space, table, training_table, versions, sha256
        )
    return f"""{front}

# {title}

A {variant} trained with ViT Studio on **{dataset}**,
exported from run `{run.id}`. Upload or paste an image, or click an example, to get its
top-k classes.

## Use it from Python

```python
from gradio_client import Client, handle_file

client = Client("{space}")
labels, timing = client.predict(image=handle_file("image.png"), top_k=5, api_name="/predict")
print(labels["label"], labels["confidences"])
```

Locally: `pip install -r requirements.txt && python app.py`, then open http://127.0.0.1:7860.

## Model

| | |
|---|---|
{table}

## Training

| | |
|---|---|
{training_table}

## Evaluation

On the held-out test split of `{dataset}`:

| loss | top-1 accuracy | top-5 accuracy |
|---|---|---|
| {_num(test.get("loss"))} | {_pct(test.get("accuracy"))} | {_pct(test.get("top5"))} |

## Limitations

The model knows only the {len(names)} classes above and assigns every image to one of them,
however unlike its training images it is. Images are decoded as in training (EXIF
orientation applied, transparency on white) and squashed to {labels.input_size} x
{labels.input_size} px without keeping the aspect ratio.

## Files

- `model.keras`: Keras {versions.get("keras", "?")} model, loaded with `safe_mode=True` and
  only if its sha256 is `{sha256}`
- `labels.json`: class names, input size, that sha256 and the Keras backend (`{backend}`)
- `vit_runtime/`: the studio's image decoder and custom layers
- `requirements.txt`: the versions that trained and serve the model
"""


def _caption_card(
    front: str,
    title: str,
    variant: str,
    run: Run,
    labels: Labels,
    space: str,
    table: str,
    training_table: str,
    versions: dict[str, str],
    sha256: str,
) -> str:
    """The card of a captioner's Space: its /caption endpoint, BLEU-4 and CIDEr-D."""
    test, dataset = run.test or {}, run.dataset
    beam = run.config.get("caption", {}).get("beam_width", 3)
    return f"""{front}

# {title}

A {variant} image encoder with a Transformer text decoder, trained with ViT Studio to caption
the images of **{dataset}**, exported from run `{run.id}`. Upload or paste an image, or click
an example, to read its caption; the beam width sets how many captions the search keeps at
each word (1 is greedy search).

## Use it from Python

```python
from gradio_client import Client, handle_file

client = Client("{space}")
caption = client.predict(image=handle_file("image.png"), beam_width={beam}, api_name="/caption")
print(caption)
```

Locally: `pip install -r requirements.txt && python app.py`, then open http://127.0.0.1:7860.

## Model

| | |
|---|---|
{table}

## Training

| | |
|---|---|
{training_table}

## Evaluation

On the held-out test split of `{dataset}`, captions written with beam width {beam}:

| BLEU-4 | CIDEr-D |
|---|---|
| {_num(test.get("bleu4"), 3)} | {_num(test.get("cider"), 3)} |

## Limitations

The decoder writes only words of its tokenizer, learnt from the training captions; what it has
never read about it cannot name. Images are decoded as in training (EXIF orientation applied,
transparency on white) and squashed to {labels.input_size} x {labels.input_size} px without
keeping the aspect ratio.

## Files

- `model.keras`: Keras {versions.get("keras", "?")} model, loaded with `safe_mode=True` and
  only if its sha256 is `{sha256}`
- `tokenizer.json`: the caption tokenizer (Hugging Face `tokenizers`), its sha256 in labels.json
- `labels.json`: input size, the sha256 of both files and the Keras backend
- `vit_runtime/`: the studio's image decoder, custom layers, tokenizer and caption search
- `requirements.txt`: the versions that trained and serve the model (keras-hub for the decoder's
  layers)
"""
