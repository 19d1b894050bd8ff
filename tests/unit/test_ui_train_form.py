"""The Train form as people use it: fields per variant, errors under the edited field, an
idempotent Start, Reset, and "Train again with these settings" (`?from=RUN`)."""

from __future__ import annotations

import sqlite3

from streamlit.testing.v1 import AppTest

from studio.config import make_config
from studio.runs.store import RunStore
from tests.unit.test_ui_pages import APP, no_workers, open_hyperparameters


def start_button(at: AppTest):
    return next(b for b in at.button if b.label in ("Start training", "Start anyway"))


def test_a_vit_from_scratch_has_no_pretrained_fields_and_vit_b16_no_architecture(studio_home):
    at = open_hyperparameters()
    keys = {w.key for w in (*at.number_input, *at.text_input, *at.checkbox)}
    assert "hp:cpu-quick:model.patch_size" in keys
    assert not {"hp:cpu-quick:model.pretrained", "hp:cpu-quick:model.freeze_backbone"} & keys
    at.button_group(key="variant").set_value("vit-b16").run()
    keys = {w.key for w in (*at.number_input, *at.text_input, *at.checkbox)}
    assert {"hp:finetune:model.pretrained", "hp:finetune:model.freeze_backbone"} <= keys
    assert not {"hp:finetune:model.patch_size", "hp:finetune:model.depth"} & keys


def test_the_error_shows_right_under_the_field_changed_naming_valid_values(studio_home):
    at = open_hyperparameters()
    at.number_input(key="hp:cpu-quick:model.patch_size").set_value(5).run()
    column = next(
        c
        for c in at.columns
        if any(w.key == "hp:cpu-quick:model.patch_size" for w in c.number_input)
    )
    children = list(column.children.values())
    index = next(
        i
        for i, w in enumerate(children)
        if getattr(w, "key", None) == "hp:cpu-quick:model.patch_size"
    )
    message = children[index + 1].value
    assert "1, 2, 4, 8, 16, 32" in message
    # In the form's words: the fields' labels, not the CLI's dotted names.
    assert "**Patch size** 5" in message and "model.patch_size" not in message


def test_a_double_click_on_start_queues_one_run(studio_home, monkeypatch):
    no_workers(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60).run()
    start_button(at).click().run()
    start_button(at).click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = RunStore().list_runs()
    assert len(runs) == 1

    def notice() -> list[str]:
        return [i.value for i in at.info if i.value.startswith(("Already queued", "Queued run"))]

    # Not a toast gone in seconds: it stays under Start, with a link to the run, across reruns.
    at.run()
    assert notice() and notice()[0].startswith("Already queued as #1"), notice()
    link = next(e.proto for e in at.get("page_link") if e.proto.label == "Open run #1")
    assert (link.page, link.query_string) == ("runs", f"run={runs[0].id}")
    # The next action (another setting) ends it: it answered the last click only.
    at.session_state["hp_open"] = True
    at.run()
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(4).run()
    assert not notice()


def test_reset_puts_the_presets_values_back_in_the_fields(studio_home):
    at = open_hyperparameters()
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(3).run()
    next(b for b in at.button if b.label.startswith("Reset")).click().run()
    assert at.number_input(key="hp:cpu-quick:train.epochs").value == 10
    assert at.session_state["hp:cpu-quick:train.epochs"] == 10


def _open_from(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["hp_open"] = True
    at.query_params["from"] = run_id
    return at.run()


def test_train_again_fills_the_form_with_the_runs_settings_once(studio_home):
    overrides = {"train.epochs": "3", "model.depth": "2", "model.key_dim": "8"}
    run = RunStore().create_run(make_config("cpu-quick", "digits", "lsa", overrides).to_dict())
    at = _open_from(run.id)
    assert not at.exception, [e.value for e in at.exception]
    assert at.button_group(key="variant").value == "lsa"
    assert at.number_input(key="hp:cpu-quick:train.epochs").value == 3
    assert at.number_input(key="hp:cpu-quick:model.depth").value == 2
    note = at.info[0].value
    assert note.startswith("Settings of run #1 ViT + LSA · digits") and "model.key_dim=8" in note
    assert "from" not in at.query_params
    at.number_input(key="hp:cpu-quick:train.epochs").set_value(4).run()
    assert at.number_input(key="hp:cpu-quick:train.epochs").value == 4  # not re-applied
    assert "4 epochs · batch" in " ".join(c.value for c in at.caption)


def test_train_again_from_a_damaged_run_says_so(studio_home):
    store = RunStore()
    run = store.create_run(make_config("cpu-quick", "digits", "vit").to_dict())
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET config_json=? WHERE id=?", ("{not json", run.id))
    at = _open_from(run.id)
    assert not at.exception
    assert any("damaged" in e.value and "cannot be trained again" in e.value for e in at.error)
    assert at.number_input(key="hp:cpu-quick:train.epochs").value == 10


def test_the_summary_names_only_what_the_variant_uses():
    from studio.ui.forms import preset_values
    from studio.ui.train_form import hyperparameter_summary

    values = preset_values("finetune")
    # Seen in a ViT-B/16 screenshot: "patch 16 · depth 12" for fields the form hides.
    assert hyperparameter_summary(values, "vit-b16") == (
        "5 epochs · batch 32 · lr 5e-5 · 224 px · pretrained"
    )
    assert "patch" in hyperparameter_summary(preset_values("cpu-quick"), "vit")
