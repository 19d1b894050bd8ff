"""The CLI refuses bad input with exit code 2 and one line that names the field and the rule."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.helpers.cli import cli_process as run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image-size", "70"], "model.image_size=70 is not divisible by model.patch_size=4"),
        (["--patch-size", "64"], "model.patch_size=64 is larger than model.image_size=32"),
        (["--epochs", "0"], "train.epochs=0 must be >= 1"),
        (["--batch-size", "0"], "train.batch_size=0 must be >= 1"),
        (["--lr", "0"], "train.learning_rate=0.0 must be > 0"),
        (["--set", "dropout=1.5"], "model.dropout=1.5 must be in [0, 1)"),
        (["--model", "resnet"], "model.variant='resnet' is unknown"),
        (["--set", "epochs"], "expected FIELD=VALUE"),
    ],
)
def test_train_rejects_bad_values(args, message, studio_home):
    proc = run_cli("train", "--dataset", "digits", *args, env_home=studio_home)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_dataset(studio_home):
    proc = run_cli("train", "--dataset", "mnist", env_home=studio_home)
    assert proc.returncode == 2
    assert "data.dataset='mnist' is unknown" in proc.stderr


def test_empty_and_one_class_folders(tmp_path, studio_home):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("train", "--dataset", f"folder:{empty}", env_home=studio_home)
    assert proc.returncode == 2 and str(empty) in proc.stderr, proc.stderr
    one = tmp_path / "one"
    (one / "cats").mkdir(parents=True)
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(one / "cats" / f"{i}.png")
    proc = run_cli("train", "--dataset", f"folder:{one}", env_home=studio_home)
    assert proc.returncode == 2
    assert "2 class" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_unknown_run(studio_home):
    for verb in ("show", "stop", "resume", "evaluate", "delete"):
        proc = run_cli(verb, "nope", env_home=studio_home)
        assert proc.returncode == 2
        assert proc.stderr.strip() == "error: no run matches 'nope' (see `python -m studio list`)"


def test_read_verbs_do_not_import_keras(studio_home):
    code = (
        "import sys; from studio.cli import main; main(['list', '--json']);"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'keras imported'"
    )
    env = {**os.environ, "STUDIO_HOME": str(studio_home)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
