"""Captioning runs in the UI: the Train page's task switch (datasets, models, presets and
fields of the task, the config queued with task=caption, Train again keeping the task), a
finished caption run's view (its curves, example caption cards, test scores, only the next
steps that take captions) and the Runs page's table and Compare for caption runs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from studio.runs.store import RunStore
from studio.ui.caption_view import caption_cards, history_lines
from studio.ui.charts import run_figure
from studio.ui.forms import LABELS
from studio.ui.runinfo import CAPTION_COLUMNS, config_groups, table_row
from tests.helpers.finished_run import CAPTION_HISTORY, finished_caption_run, finished_run
from tests.unit.test_ui_pages import APP, no_workers

CLASSIFIER_ONLY = ("model.head_units", "model.head_dropout", "model.pooling", "augment.mixup")
CAPTION_FIELDS = ("caption.decoder_depth", "caption.vocab_size", "caption.beam_width")


def caption_form() -> AppTest:
    """The Train page switched to captioning, hyperparameters open."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["hp_open"] = True
    at.run()
    at.button_group(key="task").set_value("caption").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def field_labels(at: AppTest) -> set[str]:
    widgets = (*at.number_input, *at.text_input, *at.checkbox, *at.selectbox)
    return {w.label for w in widgets}


def test_the_task_switch_shows_the_caption_choices_and_fields(studio_home):
    at = caption_form()
    assert at.selectbox(key="cap_builtin").options == [
        "Shapes (offline, rendered scenes with their captions)"
    ]
    assert at.radio(key="cap_source").options == [
        "Built-in",
        "Folder on this server",
        "COCO caption file",
    ]
    assert at.selectbox(key="cap_preset").value == "caption-quick"
    assert at.selectbox(key="cap_preset").options == ["caption-quick"]
    # Only encoders with the `captions` ability: no DeiT student, no pretrained ViT-B/16.
    assert at.button_group(key="cap_variant").options == [
        "Vanilla ViT",
        "ViT + SPT",
        "ViT + LSA",
        "ViT + SPT + LSA",
    ]
    labels = field_labels(at)
    assert {LABELS[name] for name in CAPTION_FIELDS} <= labels
    assert not {LABELS[name] for name in CLASSIFIER_ONLY} & labels
    assert "Caption decoder" in [m.value.strip("*") for m in at.markdown]
    # The shapes set is described with a few scenes under their captions.
    assert any("images" in m.value and "6,000" in m.value for m in at.markdown)
    assert len(at.get("image")) == 5
    # And back: the classifier's form as it was.
    at.button_group(key="task").set_value("classify").run()
    labels = field_labels(at)
    assert {LABELS[name] for name in CLASSIFIER_ONLY} <= labels
    assert not {LABELS[name] for name in CAPTION_FIELDS} & labels
    assert at.selectbox(key="preset").value == "cpu-quick"
    assert "caption-quick" not in at.selectbox(key="preset").options


def test_start_queues_a_caption_run_with_the_edited_fields(studio_home, monkeypatch):
    no_workers(monkeypatch)
    at = caption_form()
    at.number_input(key="hp:caption-quick:caption.decoder_depth").set_value(3).run()
    at.number_input(key="hp:caption-quick:data.limit").set_value(300).run()
    assert "decoder depth 3" in " ".join(c.value for c in at.caption)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = RunStore().list_runs()
    assert len(runs) == 1
    config = runs[0].config
    assert config["task"] == "caption" and config["preset"] == "caption-quick"
    assert config["data"]["dataset"] == "shapes" and config["data"]["limit"] == 300
    assert config["caption"]["decoder_depth"] == 3
    assert config["model"]["variant"] == "spt-lsa"


def test_a_caption_field_error_shows_under_it_in_the_forms_words(studio_home):
    at = caption_form()
    at.number_input(key="hp:caption-quick:caption.decoder_heads").set_value(3).run()
    column = next(
        c
        for c in at.columns
        if any(w.key == "hp:caption-quick:caption.decoder_heads" for w in c.number_input)
    )
    children = list(column.children.values())
    index = next(
        i
        for i, w in enumerate(children)
        if getattr(w, "key", None) == "hp:caption-quick:caption.decoder_heads"
    )
    message = children[index + 1].value
    assert "**Decoder heads** 3" in message and "**Token width**" in message
    assert "caption.decoder_heads" not in message
    assert next(b for b in at.button if b.label == "Start training").disabled


def test_a_caption_folder_and_a_coco_file_are_read_before_start(studio_home, tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (20, 20), (200, 30, 30)).save(folder / name)
    (folder / "captions.csv").write_text(
        "image,caption\na.png,a red square\na.png,\nb.png,a red box\nc.png,a ghost\n"
    )
    at = caption_form()
    at.radio(key="cap_source").set_value("Folder on this server").run()
    at.text_input(key="cap_folder").input(str(folder)).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in (*at.markdown, *at.caption))
    assert "**2 images**" in text and "2 captions" in text
    assert "Left out, not fatal" in text and "empty captions" in text
    assert not next(b for b in at.button if b.label == "Start training").disabled
    at.radio(key="cap_source").set_value("COCO caption file").run()
    at.text_input(key="cap_coco").input(str(tmp_path / "missing.json")).run()
    assert any("no such file or folder" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Start training").disabled


def test_train_again_keeps_a_caption_runs_task_and_fields(studio_home):
    run = finished_caption_run(RunStore(), overrides={"caption.decoder_mlp": "96"})
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["from"] = run.id
    at.session_state["hp_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button_group(key="task").value == "caption"
    assert at.selectbox(key="cap_preset").value == "caption-quick"
    assert at.number_input(key="hp:caption-quick:caption.decoder_mlp").value == 96
    assert at.number_input(key="hp:caption-quick:caption.examples").value == 3


# -- a caption run's view ------------------------------------------------------------------


def open_runs(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/runs.py")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def caption_run(studio_home):
    return finished_caption_run(RunStore())


def test_a_caption_runs_view_shows_its_scores_cards_and_only_what_takes_captions(caption_run):
    other = finished_caption_run(RunStore())
    classifier, _ = finished_run(RunStore())
    at = open_runs(run=caption_run.id)
    links = {e.proto.label: e.proto.query_string for e in at.get("page_link")}
    assert links["Train again with these settings"] == f"from={caption_run.id}"
    # The other captioner may be compared; the classifier is not offered.
    assert links[f"#{other.seq} ViT + SPT + LSA · shapes"] == (
        f"compare={caption_run.id}%2C{other.id}"
    )
    # The demo captions; Evaluate, Patches and Export read classifiers only.
    assert links["Demo"] == f"run={caption_run.id}"
    assert not {"Evaluate", "Patches", "Export"} & set(links)
    assert not any(k.startswith(f"#{classifier.seq} ") for k in links)
    assert "Export the model" not in [e.label for e in at.expander]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best val BLEU-4"] == "0.300" and metrics["Val CIDEr-D"] == "1.500"
    assert "Val accuracy" not in metrics
    assert any("test BLEU-4 0.345, CIDEr-D 1.234" in s.value for s in at.success)
    facts = next(m.value for m in at.markdown if m.value.startswith("**Parameters:**"))
    assert "**Test BLEU-4:** 0.345 (600 test images, beam width 3)" in facts
    assert "**Test CIDEr-D:** 1.234" in facts
    assert "train 800 · val 600 · test 600" in facts
    # The example cards: the latest epoch's caption under each image, the history inside.
    texts = [m.value for m in at.markdown]
    assert "**Example captions**" in texts
    for caption in CAPTION_HISTORY[-1]:
        assert caption in texts
    assert "epoch 1: a green circle  \nepochs 2–3: a green triangle at the top" in texts
    assert len(at.get("image")) == 3
    config_titles = [m.value for m in at.markdown if m.value in ("**Caption decoder**",)]
    assert config_titles


def test_the_runs_table_and_compare_for_caption_runs(caption_run):
    other = finished_caption_run(RunStore())
    classifier, _ = finished_run(RunStore())
    at = open_runs()
    table = next(d.value for d in at.dataframe)
    rows = table.set_index("Run")
    assert rows.loc[caption_run.id, "Test B4"] == pytest.approx(0.345)
    assert rows.loc[caption_run.id, "Best val B4"] == pytest.approx(0.3)
    assert rows.loc[classifier.id, "Test acc"] > 0
    at = open_runs(compare=f"{caption_run.id},{other.id}")
    summary = next(d.value for d in at.dataframe if "Δ test B4 vs first" in d.value.columns)
    assert list(summary["Test B4"]) == ["0.345", "0.345"]
    assert list(summary["Δ test B4 vs first"]) == ["(reference)", "+0.000"]
    assert "Best val acc" not in summary.columns
    at = open_runs(compare=f"{caption_run.id},{classifier.id}")
    warning = next(w.value for w in at.warning if "cannot be compared" in w.value)
    assert "BLEU-4" in warning and "accuracy" in warning


# -- the pieces, without a page -------------------------------------------------------------


def test_caption_cards_keep_the_latest_caption_and_merge_unchanged_epochs():
    record = {
        "images": [{"name": "a", "references": ["x", 3]}, "not an image"],
        "epochs": [
            {"epoch": 2, "captions": ["b"]},
            {"epoch": 1, "captions": ["a"]},
            {"epoch": 3, "captions": ["b"]},
            {"epoch": "4", "captions": ["c"]},
        ],
    }
    (card,) = caption_cards(record)
    assert (card.caption, card.epoch, card.references) == ("b", 3, ["x"])
    assert history_lines(card) == ["epoch 1: a", "epochs 2–3: b"]
    assert caption_cards(None) == [] and caption_cards({"images": "x"}) == []


def test_a_caption_runs_figure_has_its_own_panels():
    rows = [
        {
            "kind": "epoch",
            "epoch": 1,
            "step": 4,
            "loss": 2.0,
            "token_accuracy": 0.4,
            "val_loss": 1.8,
            "val_token_accuracy": 0.5,
            "val_bleu4": 0.2,
            "val_cider": 0.9,
        },
    ]
    fig = run_figure(rows, 4, epochs_total=2, task="caption")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Loss", "Token accuracy", "Validation BLEU-4", "Validation CIDEr-D"]
    values = {
        t.xaxis: [v for v in t.y if v is not None] for t in fig.data if t.name == "validation"
    }
    assert values == {"x": [1.8], "x2": [0.5], "x3": [0.2], "x4": [0.9]}


def test_a_caption_runs_settings_and_table_row_are_its_own(caption_run):
    groups = dict(config_groups(caption_run.config, caption_run.variant, "caption"))
    assert "Caption decoder" in groups and "Distillation" not in groups
    assert dict(groups["Caption decoder"])["decoder_depth"] == "2"
    assert not {"pooling", "head_units", "head_dropout"} & set(dict(groups["Model"]))
    assert not {"mixup", "cutmix"} & set(dict(groups["Augmentation"]))
    run = RunStore().get(caption_run.id, with_latest=True)
    row = table_row(run, captions=True, accuracy=False)
    assert "Best val acc" not in row and "Test acc" not in row
    assert [row[c] for c in CAPTION_COLUMNS] == [pytest.approx(0.3), 0.345, 1.234]


def test_the_demo_page_offers_a_caption_run_with_its_caption_endpoint(caption_run):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("pages/demo.py").run()
    assert not at.exception
    assert at.selectbox(key="demo_run").value == caption_run.id
    assert any("/caption" in c.value and "beam_width" in c.value for c in at.caption)
    code = "\n".join(c.value for c in at.code)
    assert 'api_name="/caption"' in code and "--beam" in code
