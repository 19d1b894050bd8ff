"""`python -m studio export`: bad input exits with code 2 and one line, before keras loads."""

from __future__ import annotations

import pytest

from studio.runs.store import RunStore
from tests.helpers.tiny import tiny_config


@pytest.fixture
def queued(studio_home):
    return RunStore(studio_home).create_run(tiny_config("vit").to_dict())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "pdf"], "error: --format 'pdf' is not a format: use keras, savedmodel"),
        (["--format", ","], "error: --format ',': name a format"),
        (["--images", "0"], "error: --images 0: must be at least 1"),
        ([], "only completed runs have a final model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(queued, run_cli, argv, message):
    code, out, err = run_cli("export", queued.id, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_an_unknown_run_is_refused(studio_home, run_cli):
    code, _, err = run_cli("export", "nope", "--format", "onnx")
    assert code == 2 and err.startswith("error: no run matches 'nope'")
