"""Streamlit widgets of the Train page: the dataset picker and the hyperparameter grid.

Widget values are read back from session state *before* the widgets are drawn, so the
validation result is known while drawing and each message lands right under its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from studio.config import (
    BUILTIN,
    CAPTION_BUILTIN,
    COCO_PREFIX,
    FOLDER_PREFIX,
    default_preset_for,
)
from studio.config.presets import CAPTION_PRESET
from studio.config.variants import VARIANTS
from studio.datasets.catalog import PICKER_LABELS
from studio.datasets.uploads import ExtractResult, UploadError, extract_upload
from studio.runs.store import ACTIVE, RunNotFound
from studio.ui.charts import class_counts_figure
from studio.ui.common import human_size
from studio.ui.forms import (
    FIELDS_BY_NAME,
    GROUPS,
    FieldSpec,
    fields_for,
    preset_values,
    presets_for,
    variants_for,
)
from studio.ui.text import code, md_text
from studio.ui.upload_spool import received_file

SOURCES = ("Built-in", "Folder on this server", "Upload a zip")
BUILTIN_ORDER = ("digits", *(n for n in BUILTIN if n != "digits"))
# What a run learns, as the task picker says it (studio.config.TASKS).
TASK_LABELS = {"classify": "Classify images", "caption": "Caption images"}
TASK_KEY = "task"
CAPTION_SOURCES = ("Built-in", "Folder on this server", "COCO caption file")
CAPTION_LABELS = {"shapes": "Shapes (offline, rendered scenes with their captions)"}
# Each task keeps its own model, preset and dataset widgets: their choices differ, and
# switching back finds the other task's form as it was left.
CAPTION_KEYS = {
    "variant": "cap_variant",
    "preset": "cap_preset",
    "ds_source": "cap_source",
    "ds_builtin": "cap_builtin",
    "ds_folder": "cap_folder",
}
CAPTION_COCO_KEY = "cap_coco"
# Widget state survives a visit to another page and back.
KEEP = "session"
# Uploaded zips wait here (under the uploads folder) only while they are extracted.
SPOOL_FOLDER = ".incoming"
# Fields of the dataset itself (drawn under the picker), kept across presets: field -> key.
DATASET_KEYS = {"data.group_by": "ds_group_by"}
# Overrides of fields the form has no widget for, carried over from "Train again".
CARRIED = "carried_overrides"


# The last Start's run, noted under the button (a toast is gone before a double click's
# "already queued" has been read).
QUEUED = "queued_notice"


def task_key(name: str, task: str) -> str:
    """The session key of a task-dependent widget (`variant`, `preset`, `ds_*`)."""
    return CAPTION_KEYS.get(name, name) if task == "caption" else name


def current_task() -> str:
    """The task the form is set to (the task picker's value before it is drawn)."""
    task = st.session_state.get(TASK_KEY)
    return task if task in TASK_LABELS else "classify"


def task_picker() -> str:
    """Classify or caption: switches the dataset, model and preset choices and the fields."""
    return st.segmented_control(
        "Task",
        list(TASK_LABELS),
        format_func=TASK_LABELS.get,
        default="classify",
        required=True,
        key=TASK_KEY,
        persist_state=KEEP,
        label_visibility="collapsed",
    )


def model_picker(task: str) -> str:
    """The model variants the task can use, as one segmented control per task."""
    key = task_key("variant", task)
    choices = variants_for(task)
    if st.session_state.get(key) not in choices:
        st.session_state.pop(key, None)
    return st.segmented_control(
        "Model",
        choices,
        format_func=lambda name: VARIANTS[name].label,
        default="spt-lsa",
        required=True,
        key=key,
        on_change=suggest_preset if task == "classify" else None,
        persist_state=KEEP,
        label_visibility="collapsed",
    )


def preset_picker(task: str) -> str:
    """The presets of the task's runs (a classifier's preset cannot caption, and back)."""
    key = task_key("preset", task)
    choices = presets_for(task)
    if task == "caption":
        default = CAPTION_PRESET
    else:
        default = default_preset_for(
            st.session_state.get("ds_builtin", "digits"), st.session_state.get("variant")
        )
    if st.session_state.get(key) not in choices:
        st.session_state[key] = default if default in choices else choices[0]
    return st.selectbox("Preset", choices, key=key, persist_state=KEEP)


def field_key(preset: str, name: str) -> str:
    """One widget per (preset, field): switching presets shows that preset's values."""
    return f"hp:{preset}:{name}"


def current_values(preset: str, task: str = "classify") -> dict[str, Any]:
    """What the hyperparameter widgets hold now (their preset's values where untouched)."""
    defaults = preset_values(preset)
    values = {
        name: st.session_state.get(field_key(preset, name), v) for name, v in defaults.items()
    }
    folder = task == "classify" and st.session_state.get("ds_source", SOURCES[0]) != SOURCES[0]
    for name, key in DATASET_KEYS.items():
        # Only folders have groups; a key typed for one stays in its box, unused, for built-ins.
        values[name] = st.session_state.get(key, defaults[name]) if folder else defaults[name]
    return values


def reset_fields(preset: str) -> None:
    """Put the preset's values back into the widgets.

    Assigned, not forgotten: a widget whose key is merely dropped keeps its old value in the
    browser and sends it back with the next edit.
    """
    for name, value in preset_values(preset).items():
        if name not in DATASET_KEYS:
            st.session_state[field_key(preset, name)] = value
    st.session_state.pop(CARRIED, None)


def _widget(spec: FieldSpec, key: str, default: Any) -> None:
    common = {"key": key, "help": spec.help or None, "persist_state": KEEP}
    if spec.kind == "int":
        st.number_input(spec.label, value=int(default), step=1, **common)
    elif spec.kind == "optional_int":
        st.number_input(spec.label, value=default, step=1, placeholder="all", **common)
    elif spec.kind == "bool":
        st.checkbox(spec.label, value=bool(default), **common)
    elif spec.kind == "choice":
        st.selectbox(spec.label, spec.choices, index=spec.choices.index(default), **common)
    else:
        st.text_input(spec.label, value=str(default), **common)


def hyperparameter_grid(
    preset: str, variant: str, errors: dict[str, str], task: str = "classify"
) -> None:
    """A column per group of the fields a `task` run of `variant` uses, each error shown
    under its field."""
    defaults = preset_values(preset)
    shown = fields_for(variant, task)
    groups = [g for g in GROUPS if any(spec.group == g for spec in shown)]
    columns = st.columns(len(groups), gap="medium")
    for group, column in zip(groups, columns, strict=True):
        with column:
            st.markdown(f"**{group}**")
            for spec in (f for f in shown if f.group == group):
                _widget(spec, field_key(preset, spec.name), defaults[spec.name])
                if spec.name in errors:
                    st.error(errors[spec.name], icon=":material/error:")


def hyperparameter_summary(
    values: dict[str, Any], variant: str | None = None, task: str = "classify"
) -> str:
    """A one-line reminder of the main settings, for the collapsed expander's label; only
    fields the form shows for `variant` (a pretrained model's patch and depth are its own)."""
    limit = values.get("data.limit")
    own = variant is None or FIELDS_BY_NAME["model.patch_size"].used_by(variant)
    size = f"{values.get('model.image_size')} px"
    parts = [
        f"{values.get('train.epochs')} epochs",
        f"batch {values.get('train.batch_size')}",
        f"lr {values.get('train.learning_rate')}",
        f"{size} / patch {values.get('model.patch_size')}" if own else size,
        f"depth {values.get('model.depth')}" if own else "pretrained",
    ]
    if limit:
        parts.append(f"limit {limit}")
    depth = values.get("caption.decoder_depth")
    if task == "caption" and depth is not None:
        parts.append(f"decoder depth {depth}")
    return " · ".join(str(p) for p in parts)


@dataclass
class DatasetChoice:
    """What the dataset picker resolved to: a dataset name for the config, or why not yet."""

    dataset: str | None
    message: str | None = None
    upload: ExtractResult | None = None
    upload_error: UploadError | None = None
    extra: list[str] = field(default_factory=list)


def suggest_preset() -> None:
    """on_change of the dataset and the model: move the preset to the one that suits them."""
    st.session_state["preset"] = default_preset_for(
        st.session_state.get("ds_builtin", "digits"), st.session_state.get("variant")
    )


def dataset_picker(uploads_dir, task: str = "classify") -> DatasetChoice:
    """Built-in dataset, a folder path, or a zip upload extracted safely; for captioning,
    the shapes set, a folder with captions.csv / .jsonl, or a COCO caption file."""
    if task == "caption":
        return _caption_choice()
    source = st.radio(
        "Dataset source",
        SOURCES,
        horizontal=True,
        key="ds_source",
        persist_state=KEEP,
        label_visibility="collapsed",
    )
    if source == SOURCES[0]:
        name = st.selectbox(
            "Dataset",
            BUILTIN_ORDER,
            format_func=lambda n: PICKER_LABELS.get(n, n),
            key="ds_builtin",
            on_change=suggest_preset,
            persist_state=KEEP,
        )
        return DatasetChoice(name)
    if source == SOURCES[1]:
        path = st.text_input(
            "Folder of class folders",
            placeholder="/data/my_images  (holding cats/, dogs/, ... or train/ and test/)",
            key="ds_folder",
            persist_state=KEEP,
        ).strip()
        if not path:
            return DatasetChoice(None, "Type the path of a folder on this server.")
        group_field()
        return DatasetChoice(FOLDER_PREFIX + path)
    return _upload_choice(uploads_dir)


def _caption_choice() -> DatasetChoice:
    source = st.radio(
        "Dataset source",
        CAPTION_SOURCES,
        horizontal=True,
        key=task_key("ds_source", "caption"),
        persist_state=KEEP,
        label_visibility="collapsed",
    )
    if source == CAPTION_SOURCES[0]:
        name = st.selectbox(
            "Dataset",
            CAPTION_BUILTIN,
            format_func=lambda n: CAPTION_LABELS.get(n, n),
            key=task_key("ds_builtin", "caption"),
            persist_state=KEEP,
        )
        return DatasetChoice(name)
    if source == CAPTION_SOURCES[1]:
        path = st.text_input(
            "Folder of images with captions.csv or captions.jsonl",
            placeholder="/data/my_photos  (holding captions.csv: image,caption per row)",
            key=task_key("ds_folder", "caption"),
            persist_state=KEEP,
        ).strip()
        if not path:
            return DatasetChoice(None, "Type the path of a folder on this server.")
        return DatasetChoice(FOLDER_PREFIX + path)
    path = st.text_input(
        "COCO-format caption file, or its folder",
        placeholder="/data/vizwiz/annotations/train.json",
        key=CAPTION_COCO_KEY,
        persist_state=KEEP,
    ).strip()
    if not path:
        return DatasetChoice(None, "Type the path of a COCO caption file (JSON) on this server.")
    return DatasetChoice(COCO_PREFIX + path)


def group_field() -> None:
    """data.group_by for folder datasets; its errors show under the dataset picker."""
    spec = FIELDS_BY_NAME["data.group_by"]
    st.text_input(
        spec.label,
        key=DATASET_KEYS[spec.name],
        help=spec.help,
        placeholder=r"e.g. ^(patient\d+)_  or  csv:groups.csv",
        persist_state=KEEP,
    )


def _upload_choice(uploads_dir) -> DatasetChoice:
    received = received_file(
        "Zip of class folders (cats/a.jpg, dogs/b.jpg, ... or train/cats/a.jpg, ...)",
        key="ds_zip",
        spool_dir=Path(uploads_dir) / SPOOL_FOLDER,
        suffixes=(".zip",),
        mime_types=("application/zip", "application/x-zip-compressed"),
        handle=lambda path, name: _extracted(path, name, uploads_dir),
        keep=False,
    )
    if received is None:
        return DatasetChoice(None, "Upload a zip of class folders.")
    outcome = received.result
    if isinstance(outcome, UploadError):
        return DatasetChoice(None, upload_error=outcome)
    group_field()
    return DatasetChoice(FOLDER_PREFIX + str(outcome.root), upload=outcome)


def _extracted(path: Path, name: str, uploads_dir) -> ExtractResult | UploadError:
    # Once per upload (the result is kept with it), read from the spooled file, not memory.
    with path.open("rb") as stream:
        try:
            return extract_upload(stream, name, uploads_dir)
        except UploadError as exc:
            return exc


@st.cache_data(ttl=15, show_spinner=False)
def _preview(dataset: str, cache_dir: str):
    from studio.ui.dataset_preview import preview_dataset

    return preview_dataset(dataset, cache_dir)


@st.cache_data(ttl=15, show_spinner=False)
def _sample_pixels(dataset: str, cache_dir: str) -> list[tuple[str, Any]]:
    from studio.ui.dataset_preview import load_sample

    samples = _preview(dataset, cache_dir).samples
    pixels = [(s.label, load_sample(s)) for s in samples]
    return [(label, image) for label, image in pixels if image is not None]


@st.cache_data(ttl=15, show_spinner=False)
def _caption_preview(dataset: str):
    from studio.ui.dataset_preview import preview_captions

    return preview_captions(dataset)


@st.cache_data(ttl=15, show_spinner=False)
def _caption_pixels(dataset: str) -> list[tuple[str, Any]]:
    from studio.ui.dataset_preview import load_sample

    pixels = [(s.label, load_sample(s)) for s in _caption_preview(dataset).samples]
    return [(label, image) for label, image in pixels if image is not None]


def caption_dataset_card(dataset: str) -> bool:
    """Images and captions a caption file lists, what was left out, and a few images with
    their first caption; True when it can be trained on."""
    preview = _caption_preview(dataset)
    for problem in preview.problems:
        st.error(md_text(problem), icon=":material/error:")
    if preview.images:
        counted = f"**{preview.images:,} images**"
        if preview.captions:
            counted += f" · {preview.captions:,} captions"
        st.markdown(f"{counted} · split by image into train, validation and test")
    if preview.note:
        st.caption(md_text(preview.note))
    for note in preview.notes:
        st.caption(md_text(note))
    if preview.skipped:
        with st.expander(f"{len(preview.skipped)} image(s) will be skipped"):
            st.dataframe(
                [{"file": p, "reason": r} for p, r in preview.skipped[:500]], hide_index=True
            )
    samples = _caption_pixels(dataset)
    if samples:
        with st.container(horizontal=True, gap="small", key="caption_samples"):
            for caption, pixels in samples:
                st.image(pixels, caption=md_text(caption), width=96)
    return preview.ok


def upload_report(choice: DatasetChoice) -> None:
    """What happened to an uploaded zip: refused with its reasons, or extracted with skips."""
    if choice.upload_error is not None:
        error = choice.upload_error
        st.error(md_text(error.message[0].upper() + error.message[1:]), icon=":material/block:")
        if len(error.rejected) > 1:
            st.dataframe(
                [{"entry": r.name, "reason": r.reason} for r in error.rejected[:500]],
                hide_index=True,
                height=min(38 + 35 * len(error.rejected), 250),
            )
        return
    result = choice.upload
    if result is None:
        return
    st.success(
        f"Extracted {result.files:,} images ({human_size(result.total_bytes)}) to "
        f"{code(str(result.root))}",
        icon=":material/folder_zip:",
    )
    for note in result.notes:
        st.caption(md_text(note))
    if result.rejected:
        with st.expander(f"{len(result.rejected)} file(s) skipped"):
            st.dataframe(
                [{"entry": r.name, "reason": r.reason} for r in result.rejected[:500]],
                hide_index=True,
            )


def dataset_card(dataset: str, cache_dir) -> bool:
    """Class counts, sample images and problems of a dataset; True when it can be trained on."""
    preview = _preview(dataset, str(cache_dir))
    for problem in preview.problems:
        st.error(md_text(problem), icon=":material/error:")
    rows = preview.count_rows()
    if rows:
        totals = {split: sum(c.values()) for split, c in preview.counts.items()}
        split_text = " · ".join(f"{n:,} {split}" for split, n in totals.items())
        st.markdown(f"**{len(rows)} classes** · {split_text}")
    if preview.note:
        st.caption(md_text(preview.note))
    for note in preview.notes:
        st.caption(md_text(note))
    if preview.skipped:
        count = len(preview.skipped)
        with st.expander(f"{count} file(s) will be skipped: not images, or damaged"):
            st.dataframe(
                [{"file": p, "reason": r} for p, r in preview.skipped[:500]], hide_index=True
            )
    samples = _sample_pixels(dataset, str(cache_dir))
    if samples:
        # One image per element, in a row with a gap: a list in one st.image sits edge to edge.
        with st.container(horizontal=True, gap="xsmall"):
            for label, pixels in samples:
                caption = label if len(label) <= 9 else label[:8] + "…"
                st.image(pixels, caption=md_text(caption), width=48)
    if rows and len(rows) > 1:
        st.plotly_chart(
            class_counts_figure(rows), key="class_counts", config={"displayModeBar": False}
        )
    return preview.ok


def teacher_picker(store, dataset: str | None) -> str | None:
    """A DeiT student's teacher: completed runs on the same class names, newest first."""
    from studio.config import DataConfig
    from studio.runs.naming import run_choice
    from studio.runs.preflight import candidate_teachers

    if not dataset:
        return None
    runs = {r.id: r for r in candidate_teachers(store, DataConfig(dataset=dataset))}
    if not runs:
        st.info(
            "No completed run on these classes yet: train one first (any model), then pick it "
            "here as the teacher.",
            icon=":material/school:",
        )
        return None

    def label(run_id: str) -> str:
        return run_choice(runs[run_id])

    return st.selectbox(
        "Teacher",
        list(runs),
        format_func=label,
        key="deit_teacher",
        help="The finished run whose predictions the distillation token learns from.",
    )


def remember_queued(run, created: bool, config) -> None:
    """Note the run Start queued (or found already queued) for `queued_notice`."""
    st.session_state[QUEUED] = {
        "run": run.id,
        "seq": run.seq,
        "created": created,
        "config": config.to_dict(),
    }


def queued_notice(store, config) -> None:
    """Under Start: the run the last click queued, or that it was already queued, with a link
    to it; shown until the form's settings change or that run is no longer queued or training
    (it reads as the answer to the last click, not as news)."""
    note = st.session_state.get(QUEUED)
    if note is None:
        return
    try:
        run = store.get(note["run"])
    except RunNotFound:
        run = None
    if (
        run is None
        or run.status not in ACTIVE
        or config is None
        or config.to_dict() != note["config"]
    ):
        del st.session_state[QUEUED]
        return
    seq = note["seq"]
    if note["created"]:
        text = f"Queued run #{seq} with these settings; it is shown below."
        icon = ":material/play_arrow:"
    else:
        text = (
            f"Already queued as #{seq}: the same settings were just started, so no second "
            "run was queued. It is shown below."
        )
        icon = ":material/info:"
    with st.container(horizontal=True, vertical_alignment="center", key="queued_notice"):
        st.info(text, icon=icon)
        st.page_link(
            "pages/runs.py",
            label=f"Open run #{seq}",
            icon=":material/open_in_new:",
            query_params={"run": note["run"]},
        )
