"""The folder of a Hugging Face model repository for a finished run: exactly the files in
MODEL_REPO_FILES, nothing else of the run (no checkpoints, logs, caches, local paths)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from studio.evaluation.report import current_report
from studio.modelcard.card import DEFAULT_LICENSE, render_card, write_card
from studio.runs import artifacts
from studio.runs.artifacts import ModelUnavailable, model_info
from studio.runs.public import publisher
from studio.runs.store import RunStore

MODEL_REPO_FILES = (
    "README.md",
    artifacts.FINAL_MODEL,
    artifacts.CONFIG,
    artifacts.LABELS,
    artifacts.EVALUATION,
    "images/*.png",
)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (a ViT-B/16 is 350 MB), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def stage_model_repo(
    store: RunStore,
    run_id: str,
    folder: Path,
    *,
    license: str = DEFAULT_LICENSE,
    repo_id: str | None = None,
) -> list[str]:
    """Write the run's model repository into `folder` (new or empty): the model card and its
    images, model.keras (checksum checked after the copy), config.json, labels.json and
    evaluation.json (when it is of this model), each made publishable by studio.runs.public.
    Returns the files written, relative to `folder`."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ModelUnavailable(f"{folder} is not empty: the repository folder must be new")
    card = render_card(store, run_id, license=license, repo_id=repo_id)
    info = model_info(store, card.run_id)
    public = publisher(info.run, store.home)
    write_card(card, folder)
    _link_or_copy(info.path, folder / artifacts.FINAL_MODEL)
    if artifacts.sha256_file(folder / artifacts.FINAL_MODEL) != info.sha256:
        raise ModelUnavailable(f"run {info.run.id}: {artifacts.FINAL_MODEL} changed while copied")
    _json(folder / artifacts.CONFIG, public(info.run.config))
    _json(folder / artifacts.LABELS, public(info.labels.to_dict()))
    report = current_report(store.run_dir(info.run.id), info.sha256)
    if report is not None:
        _json(folder / artifacts.EVALUATION, public(report))
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
