"""The Train page's group field: drawn for folder datasets, its refusals shown under the picker."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.helpers.image_folders import make_grouped_tree


def test_a_folder_gets_a_group_field_whose_errors_block_start(studio_home, tmp_path):
    layout = {c: {f"p{c}{i}": 2 for i in range(4)} for c in ("a", "b")}
    make_grouped_tree(tmp_path / "mri", layout)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state["ds_source"] = "Folder on this server"
    at.session_state["ds_folder"] = str(tmp_path / "mri")
    at.session_state["ds_group_by"] = r"^(q\d)_"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_input(key="ds_group_by").label == "Group images by (optional)"
    start = next(b for b in at.button if b.label.startswith("Start"))
    assert start.disabled
    assert any("matches no image" in e.value for e in at.error)
    at.text_input(key="ds_group_by").set_value(r"^(p\w\d)_").run()
    assert not any("group_by" in e.value for e in at.error)
    assert not next(b for b in at.button if b.label.startswith("Start")).disabled
