"""A run's model card in the studio: the card as it will read on the Hub, a zip download,
and a form that pushes the model repository (token care as in the Space tab: the field is a
password, never shown or stored; empty means HF_TOKEN or the `hf auth login` login)."""

from __future__ import annotations

import re

import streamlit as st

from studio.modelcard.card import DEFAULT_LICENSE, Card, card_zip, render_card
from studio.runs.artifacts import EVALUATION, ModelUnavailable, model_info
from studio.runs.store import RunStore
from studio.space.push import PushError, push_model
from studio.ui.space_panel import hub_push_fields
from studio.ui.text import md_text

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")


def show_card(card: Card) -> None:
    """The card's Markdown without its metadata block, its images drawn where it links them."""
    body = _FRONT_MATTER.sub("", card.text, count=1)
    last = 0
    for match in _IMAGE.finditer(body):
        st.markdown(body[last : match.start()])
        data = card.images.get(match.group(2))
        if data:
            st.image(data, caption=md_text(match.group(1)))
        last = match.end()
    st.markdown(body[last:])


@st.cache_data(max_entries=16, show_spinner="Writing the model card...")
def _card(_store: RunStore, run_id: str, model_sha256: str, report_stamp: float) -> Card:
    # Drawing the figures takes seconds, and every widget on the page reruns the script: a
    # card is redrawn only for another model file or another evaluation report.
    return render_card(_store, run_id)


def card_tab(store: RunStore, run_id: str) -> None:
    """The model card of a completed run, its download, and the push form."""
    try:
        info = model_info(store, run_id, verify=False)
        report = store.run_dir(info.run.id) / EVALUATION
        stamp = report.stat().st_mtime if report.exists() else 0.0
        card = _card(store, info.run.id, info.sha256, stamp)
    except ModelUnavailable as err:
        st.info(md_text(err), icon=":material/info:")
        return
    st.download_button(
        "Download the model card (zip)",
        card_zip(card),
        file_name=f"{card.run_id}-card.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        key=f"card_zip_{card.run_id}",
    )
    _push_form(store, card.run_id)
    with st.container(border=True):
        show_card(card)


def _push_form(store: RunStore, run_id: str) -> None:
    with st.form(f"card_push_{run_id}", border=True):
        st.write(
            "Push the model to the Hugging Face Hub: model.keras, config.json, labels.json, "
            "this card and its images, evaluation.json."
        )
        repo_id, token, private = hub_push_fields("Model repository", "Private repository")
        license = st.text_input("License", value=DEFAULT_LICENSE)
        if st.form_submit_button("Push to Hugging Face", icon=":material/cloud_upload:"):
            with st.spinner(f"Pushing to {repo_id}..."):
                try:
                    url = push_model(
                        store,
                        run_id,
                        repo_id,
                        token=token,
                        private=private,
                        license=license or DEFAULT_LICENSE,
                    )
                except PushError as err:
                    st.error(md_text(err), icon=":material/error:")
                else:
                    st.success(f"Pushed: [{url}]({url})", icon=":material/check_circle:")
