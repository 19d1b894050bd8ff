"""Sharing: nothing about this machine's file system leaves it in what is published.

A run trained on a server folder, grouped by a CSV on the server, with skipped files and
notes naming paths: its Space folder (and zip), its model repository and its model card
name the dataset by its last part only (studio/runs/public.py).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from studio.modelcard.card import render_card
from studio.modelcard.repo import stage_model_repo
from studio.runs import artifacts
from studio.runs.public import public_text, publisher
from studio.runs.store import RunStore
from studio.space.export import export_space, zip_folder
from tests.helpers.finished_run import finished_run

PRIVATE = "alice-private"  # a folder name that must never be published
DATASET = "patients-2024"  # the dataset's own name, which may be


@pytest.fixture
def leaky_run(tmp_path, studio_home):
    """A finished run whose every fact names a path under tmp_path/alice-private."""
    private = tmp_path / PRIVATE
    secret, csv = private / DATASET, private / "groups.csv"
    store = RunStore(studio_home)
    run, _ = finished_run(
        store,
        dataset=f"folder:{secret}",
        split={
            "method": "grouped",
            "group_by": f"csv:{csv}",
            "fractions": {"val": 0.1, "test": 0.1},
            "seed": 42,
        },
    )
    config = dict(run.config)
    config["data"] = {**config["data"], "group_by": f"csv:{csv}"}
    store.update(run.id, config=config)
    folder = store.run_dir(run.id)
    artifacts.write_config(folder, config)
    report = artifacts.read_dataset_report(folder)
    report["source"] = f"image folder {secret} (10 classes), cached in {studio_home}/cache"
    report["skipped"] = [
        {"path": f"{secret}/3/broken.png", "reason": f"cannot identify image file '{secret}/3'"},
        {"path": "/home/alice/Desktop/x.png", "reason": "not an image"},
    ]
    report["notes"] = [f"groups from {csv}", "train from C:\\Users\\alice\\data"]
    artifacts.write_dataset_report(folder, report)
    return store, store.get(run.id), tmp_path


def _leaks(text: str, tmp_path) -> list[str]:
    words = [PRIVATE, str(tmp_path), "/home/alice", "Users\\alice"]
    return [w for w in words if w in text]


def _folder_leaks(folder, tmp_path) -> dict[str, list[str]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            leaks = _leaks(path.read_bytes().decode("latin-1"), tmp_path)
            if leaks:
                found[path.relative_to(folder).as_posix()] = leaks
    return found


def test_a_space_of_a_server_folder_run_names_no_server_path(leaky_run):
    store, run, tmp_path = leaky_run
    out = export_space(store, run.id, tmp_path / "space").folder
    assert _folder_leaks(out, tmp_path) == {}
    labels = (out / "labels.json").read_text()
    assert f"folder:{DATASET}" in labels and f"folder:{DATASET}" in (out / "README.md").read_text()
    with zipfile.ZipFile(io.BytesIO(zip_folder(out))) as archive:
        assert not [
            n for n in archive.namelist() if _leaks(archive.read(n).decode("latin-1"), tmp_path)
        ]


def test_a_model_repository_names_no_server_path(leaky_run):
    store, run, tmp_path = leaky_run
    files = stage_model_repo(store, run.id, tmp_path / "repo")
    assert {"config.json", "labels.json", "README.md"} <= set(files)
    assert _folder_leaks(tmp_path / "repo", tmp_path) == {}
    config = (tmp_path / "repo" / "config.json").read_text()
    assert f"folder:{DATASET}" in config and "csv:groups.csv" in config


def test_the_model_card_names_no_server_path(leaky_run):
    store, run, tmp_path = leaky_run
    text = render_card(store, run.id).text
    assert _leaks(text, tmp_path) == []
    assert "broken.png" in text or "left out" in text


def test_the_run_itself_is_untouched_by_publishing(leaky_run):
    store, run, _ = leaky_run
    public = publisher(run, store.home)
    published = public(run)
    assert PRIVATE not in published.dataset and PRIVATE in run.dataset
    assert published.config["data"]["group_by"] == "csv:groups.csv"
    assert run.config["data"]["group_by"].endswith(f"{PRIVATE}/groups.csv")


@pytest.mark.parametrize(
    ("text", "public"),
    [
        ("https://storage.googleapis.com/a/b.tgz", "https://storage.googleapis.com/a/b.tgz"),
        ("hf://google/vit-base", "hf://google/vit-base"),
        ("1/2/3 of a/b/c, 2024/01/02", "1/2/3 of a/b/c, 2024/01/02"),
        ("extracted to /root/.keras/datasets/flower_photos", "extracted to flower_photos"),
        ("`~/data/cats/1.png`", "`1.png`"),
        ("/predict", "/predict"),
        ("D:\\scans\\brain\\x.png", "x.png"),
    ],
)
def test_any_absolute_path_left_in_a_fact_becomes_its_last_part(text, public):
    assert public_text(text, []) == public
