"""Read verbs as scripts use them: the whole history in `show --json`, a closed pipe, any cwd,
and help that names what this version can train."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from studio.cli import build_parser
from studio.config import BUILTIN, PRESETS, VARIANTS, make_config
from studio.runs.store import RunStore
from tests.helpers.finished_run import finished_run


def test_show_json_carries_every_epoch(studio_home, run_cli):
    run, _ = finished_run(RunStore(studio_home))
    code, out, err = run_cli("show", run.id, "--json")
    assert code == 0 and not err
    shown = json.loads(out)
    assert [row["epoch"] for row in shown["epochs"]] == [1, 2, 3]
    assert shown["epochs"][-1]["val_accuracy"] == 0.76 and shown["unreadable_rows"] == []


def test_every_verbs_help_lists_the_models_and_presets():
    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "verb").choices
    for name, sub in [("", parser), *verbs.items()]:
        text = sub.format_help()
        missing = [n for n in [*VARIANTS, *PRESETS, *BUILTIN] if n not in text]
        assert not missing, (name, missing)


def test_json_into_a_closed_pipe_ends_quietly_from_any_directory(studio_home, tmp_path):
    store = RunStore(studio_home)
    config = make_config("cpu-quick", "digits", "vit", {}).to_dict()
    for _ in range(120):  # more than a pipe holds, so the writer meets the closed end
        store.create_run(config)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = subprocess.Popen(
        [sys.executable, "-m", "studio", "list", "--json"],
        cwd=elsewhere,
        env={**os.environ, "STUDIO_HOME": str(studio_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli.stdout.read(10).startswith(b"[")
    cli.stdout.close()  # what `| head` does once it has its lines
    err = cli.stderr.read().decode()
    assert cli.wait(timeout=60) == 141, err
    assert err == ""
    assert not (elsewhere / "studio-home").exists()  # STUDIO_HOME, not the cwd
