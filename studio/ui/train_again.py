""" "Train again with these settings": a finished run's config put back into the Train form.

The run view links to `pages/train.py?from=RUN_ID`; the Train page calls `apply_from_query`
before it draws a widget, so every widget opens on the run's value. The query parameter is
removed once applied, so a later rerun (or a reload) does not undo the user's edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from studio.config import PRESETS, VARIANTS, coco_of, folder_of, make_config
from studio.runs.artifacts import run_task
from studio.runs.naming import run_name
from studio.runs.store import RunNotFound, RunStore
from studio.ui import train_form
from studio.ui.forms import FIELDS_BY_NAME, presets_for, to_widget
from studio.ui.text import code, md_text

# Session keys: the note at the top of the form, and config values the form has no widget for.
NOTICE = "train_again_notice"


@dataclass
class FormSettings:
    """What the form's widgets should hold to reproduce a run, or why it cannot."""

    title: str
    error: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    # Fields without a widget (model.key_dim, distill.*, data.test_fraction) that differ from
    # the preset: passed on as overrides, and named in the note so nothing is silent.
    carried: dict[str, str] = field(default_factory=dict)


def _override_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def settings_of(run) -> FormSettings:
    """The session state that shows `run`'s settings in the form."""
    title = run_name(run)
    if run.damage:
        return FormSettings(
            title,
            f"Run {title} cannot be trained again from here: its stored settings are "
            f"damaged ({run.damage}). The form keeps its own values.",
        )
    cfg, preset, variant, task = run.config, run.preset, run.variant, run_task(run)
    if preset not in PRESETS or variant not in VARIANTS:
        return FormSettings(
            title,
            f"Run {title} used preset '{preset}' and model '{variant}', which this version "
            "does not have. The form keeps its own values.",
        )
    try:
        dataset = cfg["data"]["dataset"]
        base = make_config(preset, dataset, variant, task=task).to_dict()
    except Exception as err:  # a stored config this version cannot rebuild is named, not raised
        return FormSettings(title, f"Run {title}'s settings cannot be read: {err}.")
    if preset not in presets_for(task):
        # The form offers a task's own presets only (its preset picker would drop this one).
        return FormSettings(
            title,
            f"Run {title} is a {task} run trained with preset '{preset}', which the form does "
            f"not offer for that task. Train it again from the CLI: python -m studio train "
            f"--task {task} --preset {preset} ...",
        )

    def widget(name: str) -> str:
        return train_form.task_key(name, task)

    state: dict[str, Any] = {train_form.TASK_KEY: task, widget("variant"): variant}
    state[widget("preset")] = preset
    folder, coco = folder_of(dataset), coco_of(dataset)
    sources = train_form.CAPTION_SOURCES if task == "caption" else train_form.SOURCES
    if coco is not None and task == "caption":
        state |= {widget("ds_source"): sources[2], train_form.CAPTION_COCO_KEY: coco}
    elif folder is None:
        state |= {widget("ds_source"): sources[0], widget("ds_builtin"): dataset}
    else:
        state |= {widget("ds_source"): sources[1], widget("ds_folder"): folder}
    carried = {}
    for section, values in cfg.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            name = f"{section}.{key}"
            spec = FIELDS_BY_NAME.get(name)
            if name in train_form.DATASET_KEYS and task == "classify":
                state[train_form.DATASET_KEYS[name]] = value or ""
            elif spec is not None:
                state[train_form.field_key(preset, name)] = to_widget(spec, value)
            elif name == "distill.teacher":
                state["deit_teacher"] = value
            elif name not in ("data.dataset", "model.variant") and (
                base.get(section, {}).get(key) != value
            ):
                carried[name] = _override_text(value)
    return FormSettings(title, state=state, carried=carried)


def apply_from_query(store: RunStore) -> None:
    """Fill the form from `?from=RUN` once, then drop the parameter."""
    ref = st.query_params.get("from")
    if not ref:
        return
    del st.query_params["from"]
    try:
        settings = settings_of(store.get(ref))
    except RunNotFound:
        settings = FormSettings(
            ref,
            f"No run '{ref}' in this studio (deleted, or a link from another studio). "
            "The form keeps its own values.",
        )
    if settings.error is None:
        # Every field of the run's preset is assigned, so earlier edits there are replaced.
        st.session_state.update(settings.state)
        st.session_state[train_form.CARRIED] = settings.carried
    st.session_state[NOTICE] = settings


def notice() -> None:
    """The note at the top of the form: whose settings it shows, or why it could not."""
    settings = st.session_state.get(NOTICE)
    if settings is None:
        return
    if settings.error:
        st.error(md_text(settings.error), icon=":material/error:")
        return
    text = f"Settings of run {md_text(settings.title)}; change anything, then Start."
    carried = st.session_state.get(train_form.CARRIED) or {}
    if carried:
        kept = ", ".join(code(f"{k}={v}") for k, v in carried.items())
        text += f" Also kept from it (not on this form): {kept}."
    st.info(text, icon=":material/replay:")
