"""Shared fixtures: an isolated STUDIO_HOME per test, and the location of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def studio_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own run store; workers it spawns inherit it through the env."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


@pytest.fixture
def run_cli(capsys):
    """`run_cli(*argv)`: `python -m studio ARGV` in this process; (exit code, stdout, stderr)."""
    from studio.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or skip: a fresh clone without it must still pass."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (real images live in ../shared/data beside the repo)")
    return path
