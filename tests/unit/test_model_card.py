"""The model card against the run store: every section there and filled, and every number in
it the one the store, the dataset report and the evaluation report hold. Push as a model
repository with a fake HfApi (no request leaves this machine). No keras: the run is written
into a temporary store directly, its model.keras a weights-only archive of known shapes.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from huggingface_hub import ModelCard

from studio.config import make_config
from studio.modelcard import card as card_module
from studio.modelcard.card import SECTIONS, Z95, render_card, write_card
from studio.modelcard.repo import MODEL_REPO_FILES
from studio.runs import artifacts
from studio.runs.store import RunStore
from tests.helpers.fake_hub import install_fake_hub
from tests.helpers.finished_run import (
    DIGITS,
    PARAMS,
    finished_run,
    write_model_file,
)

TOKEN = "hf_ThisIsASecretTokenValue1234567890"
PLACEHOLDERS = ("more information needed", "todo", "[more", "tbd", "lorem", "xxx")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    return RunStore(tmp_path / "home")


def _sections(text: str) -> dict[str, str]:
    body = re.split(r"^## ", text, flags=re.M)
    return {part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] for part in body[1:]}


def _table_rows(section: str, first_header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with `first_header`."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _pct(cell: str) -> float:
    return float(cell.rstrip(" %")) / 100


def test_every_section_is_there_and_filled(store):
    run, _ = finished_run(store)
    card = render_card(store, run.id)
    sections = _sections(card.text)
    assert list(sections) == list(SECTIONS)
    for heading, body in sections.items():
        assert len(body.strip()) > 40, heading
        assert not any(p in body.lower() for p in PLACEHOLDERS), heading
    assert card.text.count("\n# ") == 1  # one title
    assert set(card.images) == {card_module.CURVES, card_module.CONFUSION}
    for name, png in card.images.items():
        assert png.startswith(b"\x89PNG"), name
        assert f"]({name})" in card.text


def test_metadata_is_the_hub_card_format_with_the_reports_numbers(store):
    run, report = finished_run(store, dataset="cifar10")
    card = render_card(store, run.id, license="mit", repo_id="someone/digits-vit")
    data = ModelCard(card.text).data  # parses as the Hub does
    assert data.license == "mit"
    assert data.library_name == "keras" and data.pipeline_tag == "image-classification"
    assert data.datasets == ["uoft-cs/cifar10"]
    assert set(data.metrics) == {"accuracy", "precision", "recall", "f1"}
    assert data.model_name == "digits-vit"
    values = {r.metric_name: r.metric_value for r in data.eval_results}
    assert values["Top-1 accuracy"] == report["accuracy"]
    assert values["Top-5 accuracy"] == report["top5"]
    assert values["Macro f1"] == report["macro"]["f1"]
    assert all(r.dataset_split == "test" for r in data.eval_results)
    assert 'hf_hub_download("someone/digits-vit", "model.keras")' in card.text


def test_per_epoch_table_equals_the_stores_rows(store):
    run, _ = finished_run(store)
    section = _sections(render_card(store, run.id).text)["Training results"]
    rows = _table_rows(section, "epoch")
    stored = store.metrics(run.id, kind="epoch")
    assert len(rows) == len(stored) == 3
    for row, want in zip(rows, stored, strict=True):
        assert int(row[0]) == want["epoch"]
        assert float(row[1]) == pytest.approx(want["loss"], abs=5e-5)
        assert _pct(row[2]) == pytest.approx(want["accuracy"], abs=5e-5)
        assert float(row[3]) == pytest.approx(want["val_loss"], abs=5e-5)
        assert _pct(row[4]) == pytest.approx(want["val_accuracy"], abs=5e-5)
        assert float(row[6]) == pytest.approx(want["lr"], rel=1e-2)
    assert "Best validation top-1: 76.00 % at epoch 3" in section


def test_evaluation_numbers_equal_the_report(store):
    run, report = finished_run(store)
    section = _sections(render_card(store, run.id).text)["Evaluation"]
    metrics = dict(map(tuple, _table_rows(section, "metric")))
    assert _pct(metrics["top-1 accuracy"]) == pytest.approx(report["accuracy"], abs=5e-5)
    se = float(metrics["standard error of top-1"].split()[0]) / 100
    assert se == pytest.approx(report["accuracy_se"], abs=5e-5)
    low, high = (
        _pct(x) for x in metrics["95 % interval of top-1 (normal approximation)"].split(" to ")
    )
    assert low == pytest.approx(report["accuracy"] - Z95 * report["accuracy_se"], abs=5e-5)
    assert high == pytest.approx(report["accuracy"] + Z95 * report["accuracy_se"], abs=5e-5)
    assert _pct(metrics["top-5 accuracy"]) == pytest.approx(report["top5"], abs=5e-5)
    assert float(metrics["loss"]) == pytest.approx(report["loss"], abs=5e-5)
    assert _pct(metrics["macro f1"]) == pytest.approx(report["macro"]["f1"], abs=5e-5)
    assert _pct(metrics["weighted recall"]) == pytest.approx(report["weighted"]["recall"], abs=5e-5)
    ece = report["calibration"]["ece"]
    assert _pct(metrics["expected calibration error"]) == pytest.approx(ece, abs=5e-5)
    per_class = _table_rows(section, "class")
    assert [r[0] for r in per_class] == [c["class"] for c in report["per_class"]]
    for row, want in zip(per_class, report["per_class"], strict=True):
        assert _pct(row[1]) == pytest.approx(want["precision"], abs=5e-5)
        assert _pct(row[2]) == pytest.approx(want["recall"], abs=5e-5)
        assert _pct(row[3]) == pytest.approx(want["f1"], abs=5e-5)
        assert int(row[4]) == want["support"]
    pairs = _table_rows(section, "true")
    top = [p for p in report["confused_pairs"] if p["count"]][:5]
    assert [(r[0], r[1], int(r[2])) for r in pairs] == [
        (p["true"], p["predicted"], p["count"]) for p in top
    ]


def test_data_model_and_compute_facts_equal_the_run_folder(store):
    split = {
        "method": "grouped",
        "seed": 42,
        "given": [],
        "fractions": {"val": 0.1, "test": 0.1},
        "group_by": "^(p\\d+)_",
        "groups": {"train": 40, "val": 5, "test": 6},
        "shared_groups": {"train/val": 0, "train/test": 0, "val/test": 0},
    }
    run, _ = finished_run(store, split=split)
    sections = _sections(render_card(store, run.id).text)
    data = sections["Training data"]
    sizes = {r[0]: int(r[1]) for r in _table_rows(data, "split")}
    counts = artifacts.read_dataset_report(store.run_dir(run.id))["class_counts"]
    assert sizes == {s: sum(counts[s].values()) for s in ("train", "val", "test")}
    for row in _table_rows(data, "class"):
        assert [int(x) for x in row[1:]] == [counts[s][row[0]] for s in ("train", "val", "test")]
    assert "**Grouped** by `^(p\\d+)_`" in data and "train 40 / val 5 / test 6" in data
    assert "1 files were left out: 1 x not an image" in data
    model = sections["Model details"]
    assert f"| **Parameters** | {PARAMS:,} |" in model
    assert "Dosovitskiy et al. 2021 (ViT); Lee, Lee & Song 2021 (SPT, LSA)" in model
    assert "arXiv:2010.11929" in sections["Citation"] and "arXiv:2112.13492" in sections["Citation"]
    assert "arXiv:2012.12877" not in sections["Citation"]  # not a DeiT run
    procedure = sections["Training procedure"]
    assert "peak learning rate 0.002" in procedure and "36 steps (12 per epoch)" in procedure
    compute = sections["Compute and environment"]
    assert run.device in compute and "3.15.1 (written in model.keras)" in compute
    assert "61 s in epochs, 95 s from start to finish" in compute


def test_parameter_count_leaves_out_optimizer_state(tmp_path):
    write_model_file(tmp_path / "m.keras")
    assert artifacts.parameter_count(tmp_path / "m.keras") == PARAMS
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    assert artifacts.parameter_count(tmp_path / "broken.keras") is None


def test_without_an_evaluation_the_card_says_how_to_compute_it(store):
    run, report = finished_run(store, evaluation=False)
    card = render_card(store, run.id)
    assert card_module.CONFUSION not in card.images
    statement = f"`python -m studio evaluate {run.id}`"
    assert card.text.count(statement) == 2  # at the top and under Evaluation
    section = _sections(card.text)["Evaluation"]
    metrics = dict(map(tuple, _table_rows(section, "metric")))
    assert _pct(metrics["top-1 accuracy"]) == pytest.approx(run.test["accuracy"], abs=5e-5)
    n = 10 * 18
    se = math.sqrt(run.test["accuracy"] * (1 - run.test["accuracy"]) / n)
    assert float(metrics["standard error of top-1"].split()[0]) == pytest.approx(100 * se, abs=5e-3)
    assert "evaluation.json" not in _sections(card.text)["Files"]
    # A report of another model file is stale: the same statement, not its numbers.
    artifacts.write_evaluation(store.run_dir(run.id), {**report, "model_sha256": "0" * 64})
    assert statement in render_card(store, run.id).text


def test_small_test_sets_are_warned_about_and_large_ones_are_not(store):
    small, _ = finished_run(store, per_class_test=18)
    text = render_card(store, small.id).text
    assert text.count("**Small test set.**") == 2
    assert "as few as 18 in one class" in text
    large, _ = finished_run(store, per_class_test=120)
    assert "Small test set" not in render_card(store, large.id).text


def test_medical_looking_data_gets_a_plain_warning_first(store):
    run, _ = finished_run(store, classes=["glioma", "meningioma", "no tumor", "pituitary"])
    text = render_card(store, run.id).text
    first = text.split("\n# ", 1)[1].split("\n\n")[1]
    assert first.startswith("> **Not a medical device.**") and "glioma" in first
    limits = _sections(text)["Limitations and risks"]
    assert "not grouped by patient" in limits  # the split was not grouped
    digits, _ = finished_run(store)
    assert "> **Not a medical device.**" not in render_card(store, digits.id).text
    assert (
        "Not a medical device"
        in _sections(render_card(store, digits.id).text)["Limitations and risks"]
    )


def test_local_paths_stay_out_of_the_card(store, tmp_path):
    secret = tmp_path / "private" / "patients-2024"
    run, _ = finished_run(store, dataset=f"folder:{secret}")
    card = render_card(store, run.id)
    assert str(secret) not in card.text and "folder:patients-2024" in card.text
    assert str(store.home) not in card.text


def test_an_unfinished_run_has_no_card(store, run_cli):
    config = make_config("cpu-quick", "digits", "vit", {}).to_dict()
    run = store.create_run(config)
    code, _, err = run_cli("card", run.id)
    assert code == 2 and "only completed runs" in err and "Traceback" not in err


def test_card_verb_writes_readme_and_images(store, run_cli, tmp_path):
    run, _ = finished_run(store)
    code, _, err = run_cli("card", run.id)
    assert code == 0, err
    folder = store.run_dir(run.id) / artifacts.CARD
    assert (folder / "README.md").is_file() and (folder / card_module.CURVES).is_file()
    code, _, _ = run_cli("card", run.id, "--out", str(tmp_path / "elsewhere"))
    assert code == 0 and (tmp_path / "elsewhere" / card_module.CONFUSION).is_file()
    written = write_card(render_card(store, run.id), tmp_path / "again")
    assert sorted(p.name for p in written) == ["README.md", "confusion.png", "curves.png"]


@pytest.fixture
def hub(monkeypatch, tmp_path):
    return install_fake_hub(monkeypatch, tmp_path)


def test_push_uploads_a_model_repository_and_never_shows_the_token(
    store, run_cli, hub, monkeypatch, tmp_path
):
    secret = tmp_path / "private" / "patients-2024"
    run, report = finished_run(store, dataset=f"folder:{secret}")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, out, err = run_cli("card", run.id, "--push", "someone/digits-vit", "--private")
    assert code == 0, err
    assert "https://huggingface.co/someone/digits-vit" in out
    assert TOKEN not in out + err
    assert [c[0] for c in hub.calls] == ["init", "create_repo", "upload_folder"]
    assert hub.calls[0][1] == TOKEN
    _, repo_id, options = hub.calls[1]
    assert repo_id == "someone/digits-vit" and options["repo_type"] == "model"
    assert options["private"] is True and options["exist_ok"] is True
    _, upload, files = hub.calls[2]
    assert upload["repo_type"] == "model" and upload["allow_patterns"] == list(MODEL_REPO_FILES)
    assert sorted(files) == sorted(
        [
            "README.md",
            "config.json",
            "evaluation.json",
            "labels.json",
            "model.keras",
            card_module.CONFUSION,
            card_module.CURVES,
        ]
    )
    model = (store.run_dir(run.id) / artifacts.FINAL_MODEL).read_bytes()
    assert files["model.keras"] == model
    assert json.loads(files["evaluation.json"]) == report
    assert json.loads(files["labels.json"])["class_names"] == DIGITS
    for name, data in files.items():
        text = data.decode("latin-1")
        assert TOKEN not in text and str(secret) not in text, name
    assert json.loads(files["config.json"])["data"]["dataset"] == "folder:patients-2024"


def test_push_without_a_token_writes_the_card_and_says_how_to_log_in(store, run_cli, hub):
    run, _ = finished_run(store)
    code, out, err = run_cli("card", run.id, "--push", "someone/digits-vit")
    assert code == 2 and "model card of" in out
    assert "no Hugging Face token" in err and "hf auth login" in err
    assert err.strip().count("\n") == 0 and hub.calls == []


def test_a_refused_push_is_one_line_without_the_token(store, run_cli, hub, monkeypatch):
    import httpx

    run, _ = finished_run(store)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub.error = httpx.ConnectError(f"cannot connect (Authorization: Bearer {TOKEN})")
    code, out, err = run_cli("card", run.id, "--push", "someone/digits-vit")
    assert code == 1 and "cannot reach" in err and TOKEN not in out + err
    assert "Traceback" not in err


def test_the_card_panel_draws_the_card_and_its_push_form(store):
    from streamlit.testing.v1 import AppTest

    run, _ = finished_run(store)

    def page(home: str, run_id: str) -> None:
        from studio.runs.store import RunStore
        from studio.ui.card_panel import card_tab

        card_tab(RunStore(home), run_id)

    at = AppTest.from_function(page, args=(str(store.home), run.id), default_timeout=60).run()
    assert not at.exception
    assert any("Model details" in m.value for m in at.markdown)
    assert [b.label for b in at.button] == ["Push to Hugging Face"]
    assert any(t.label.startswith("Token") for t in at.text_input)
