"""Sharing: where a Space export is written, and what a push of a folder may carry.

The output folder may be a link, hold a previous export, hold someone's files, or hold links
planted after the export: the export never writes through a link into files it did not make,
never deletes what is not an export, and a push refuses a folder with links.
"""

from __future__ import annotations

import pytest

from studio.runs.store import RunStore
from studio.space.export import SpaceExportError, export_space, folder_files
from studio.space.push import PushError, push_space
from tests.helpers.fake_hub import install_fake_hub
from tests.helpers.finished_run import finished_run


@pytest.fixture
def exported(studio_home, tmp_path):
    store = RunStore(studio_home)
    run, _ = finished_run(store)
    return store, run.id


def test_an_export_into_a_link_to_an_empty_folder_fills_that_folder(exported, tmp_path):
    store, run_id = exported
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    export_space(store, run_id, tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert "labels.json" in folder_files(tmp_path / "target")


def test_an_export_into_a_link_to_someones_folder_is_refused_and_leaves_it(exported, tmp_path):
    store, run_id = exported
    home = tmp_path / "someone"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    (home / "README.md").write_text("mine too")
    (tmp_path / "link").symlink_to(home)
    for overwrite in (False, True):
        with pytest.raises(SpaceExportError, match=r"not empty|not part of a Space export"):
            export_space(store, run_id, tmp_path / "link", overwrite=overwrite)
    assert sorted(p.name for p in home.iterdir()) == ["README.md", "notes.txt"]


def test_a_previous_export_is_replaced_only_when_asked(exported, tmp_path):
    store, run_id = exported
    out = tmp_path / "space"
    export_space(store, run_id, out)
    with pytest.raises(SpaceExportError, match="--overwrite"):
        export_space(store, run_id, out)
    export_space(store, run_id, out, overwrite=True)
    assert "model.keras" in folder_files(out)


def test_a_link_planted_in_a_previous_export_is_not_followed(exported, tmp_path):
    store, run_id = exported
    out = tmp_path / "space"
    export_space(store, run_id, out)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not publish")
    (out / "README.md").unlink()
    (out / "README.md").symlink_to(secret)
    export_space(store, run_id, out, overwrite=True)
    assert secret.read_text() == "do not publish"
    assert (
        not (out / "README.md").is_symlink()
        and "do not publish" not in (out / "README.md").read_text()
    )


def test_a_push_of_a_folder_with_a_planted_link_is_refused(exported, tmp_path, monkeypatch):
    store, run_id = exported
    hub = install_fake_hub(monkeypatch, tmp_path)
    out = tmp_path / "space"
    export_space(store, run_id, out)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not publish")
    (out / "examples").mkdir(exist_ok=True)
    (out / "examples" / "cat.png").symlink_to(secret)
    with pytest.raises(PushError, match="holds links") as raised:
        push_space(out, "someone/space", token="hf_FakeToken0123456789")
    assert raised.value.exit_code == 2 and hub.calls == []


def test_an_export_onto_a_file_is_refused(exported, tmp_path):
    store, run_id = exported
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpaceExportError, match="not a folder"):
        export_space(store, run_id, tmp_path / "file", overwrite=True)
    assert (tmp_path / "file").read_text() == "x"
