"""Train: pick data, model and preset, adjust hyperparameters, launch, and watch runs live."""

import streamlit as st

from studio.config import PRESET_HELP, VARIANTS
from studio.runs.launcher import submit_once, warm_up
from studio.runs.worker import max_concurrent_runs
from studio.ui import train_again, train_form
from studio.ui.common import cache_dir, get_store, uploads_dir
from studio.ui.forms import build_config, warning_text
from studio.ui.live import rerun_when_runs_change, run_panel, run_picker, watch
from studio.ui.text import md_text

store = get_store()
if store.read_only:
    # Everything below writes (the spare, uploads, the dataset cache, the run itself).
    st.title("Train a Vision Transformer", anchor=False)
    st.warning(md_text(store.read_only), icon=":material/lock:")
    st.page_link("pages/runs.py", label="See the runs", icon=":material/table_chart:")
    st.stop()
if not st.session_state.get("spare_warmed"):
    # A worker with the framework imported is ready by the time the form is filled in.
    warm_up(store)
    st.session_state["spare_warmed"] = True
# Before any widget is drawn, so each one opens on the run's value.
train_again.apply_from_query(store)
st.title("Train a Vision Transformer", anchor=False)
train_again.notice()

task = train_form.task_picker()
data_col, model_col = st.columns(2, gap="large")
with data_col:
    st.subheader("Data", anchor=False)
    choice = train_form.dataset_picker(uploads_dir(), task)
    dataset_error = st.empty()
    train_form.upload_report(choice)
    if choice.dataset is None:
        dataset_ok = False
    elif task == "caption":
        dataset_ok = train_form.caption_dataset_card(choice.dataset)
    else:
        dataset_ok = train_form.dataset_card(choice.dataset, cache_dir())

with model_col:
    st.subheader("Model", anchor=False)
    variant = train_form.model_picker(task)
    st.caption(VARIANTS[variant].help)
    teacher = None
    if VARIANTS[variant].distills:
        teacher = train_form.teacher_picker(store, choice.dataset)
    preset = train_form.preset_picker(task)
    st.caption(PRESET_HELP.get(preset, ""))

values = train_form.current_values(preset, task)
result = build_config(
    choice.dataset,
    variant,
    preset,
    values,
    teacher=teacher,
    store=store,
    extra=st.session_state.get(train_form.CARRIED),
    task=task,
)
if choice.dataset is None:
    # The picker's own words (or the upload's refusal) say what is missing.
    if choice.message:
        dataset_error.info(choice.message)
elif "data.dataset" in result.errors and dataset_ok:
    # When the preview already listed the folder's problems, this would only repeat them.
    dataset_error.error(result.errors["data.dataset"], icon=":material/error:")
elif "data.group_by" in result.errors:
    dataset_error.error(result.errors["data.group_by"], icon=":material/error:")

beside_picker = ("data.dataset", "data.group_by")
field_errors = {k: v for k, v in result.errors.items() if k not in beside_picker}
if field_errors:
    st.session_state["hp_open"] = True  # a message under a hidden field helps nobody
elif "launched" in st.session_state:
    st.session_state["hp_open"] = False
# Keyed with a fixed label, so it stays open or shut as the user left it while values change.
with st.expander("Hyperparameters", key="hp_open", on_change="rerun"):
    # 26 widgets cost the browser a second to draw: only while someone looks at them.
    if st.session_state.get("hp_open"):
        train_form.hyperparameter_grid(preset, variant, field_errors, task)
    st.button(
        "Reset to the preset's values",
        type="tertiary",
        on_click=train_form.reset_fields,
        args=(preset,),
    )
st.caption(train_form.hyperparameter_summary(values, variant, task))
for message in result.general:
    st.error(message)
ready = result.ok and dataset_ok
if ready and result.warnings:
    # Values that work but are very likely a mistake: the button itself asks to confirm.
    for warning in result.warnings:
        st.warning(warning_text(warning), icon=":material/warning:")

with st.container(horizontal=True, vertical_alignment="center"):
    start = st.button(
        "Start anyway" if ready and result.warnings else "Start training",
        type="primary",
        icon=":material/play_arrow:",
        disabled=not ready,
        help="Starts despite the warnings above" if ready and result.warnings else None,
    )
    if not ready:
        if field_errors:
            st.caption(f"Fix the {len(field_errors)} field(s) marked in red to start.")
        elif choice.upload_error is not None:
            st.caption("Upload a zip the studio accepts to start.")
        elif choice.dataset is None:
            st.caption("Pick a dataset to start.")
        elif not dataset_ok:
            st.caption("This dataset cannot be trained on yet (see above).")
    else:
        slots = max_concurrent_runs()
        at_once = "one at a time" if slots == 1 else f"{slots} at a time"
        st.caption(f"Runs train in the background, {at_once}; start more and they queue.")
if start and result.config is not None:
    # The store, not the button, makes Start idempotent: a second click or tab with the same
    # config within seconds gets the first run back (RunStore.create_run_once).
    run, created = submit_once(store, result.config.to_dict())
    watch(run.id)
    st.session_state["launched"] = run.id
    train_form.remember_queued(run, created, result.config)
    # Redraw with the form folded away, so the new run's live view comes into sight.
    st.rerun()
st.session_state.pop("launched", None)
train_form.queued_notice(store, result.config)

st.divider()
runs = sorted(store.list_runs(), key=lambda r: r.seq, reverse=True)
rerun_when_runs_change(store, runs)
if not runs:
    st.info("No runs yet. Start one above; its curves appear here as it trains.")
else:
    run_panel(store, run_picker(runs))
