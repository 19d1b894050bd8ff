"""Shared fixtures: an isolated STUDIO_HOME per test, the CLI in-process, the tiny model every
model test builds, and where real images live. Markers come from the folder a test is in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.tiny import tiny_config

REPO = Path(__file__).resolve().parents[1]
# Real images for tests and benchmarks: ../shared/data beside the repository, or
# STUDIO_TEST_DATA. Product code never looks there.
SHARED_DATA = Path(os.environ.get("STUDIO_TEST_DATA") or REPO.parent / "shared" / "data")

# Each tier is a folder; its tests get these markers (`-m "not slow"`: the fast tiers alone,
# `-m models`: what `make test` runs again under KERAS_BACKEND=jax, `-m faults`: the fault
# suite, bad input and broken state on purpose). A fault module that starts workers or
# servers adds `pytestmark = pytest.mark.slow` itself: the only hand-set marker.
TIER_MARKERS = {
    "unit": (),
    "models": ("models",),
    "e2e": ("slow",),
    "browser": ("slow", "browser"),
    "faults": ("faults",),
}


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier not in TIER_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in {', '.join(TIER_MARKERS)}/")
        for marker in TIER_MARKERS[tier]:
            item.add_marker(marker)


@pytest.fixture(autouse=True)
def _environment_restored():
    """Code under test may set variables for its own process (the worker's KERAS_BACKEND,
    the export's): whatever a test leaves in os.environ is undone, so no later test, nor the
    workers it spawns, inherits it."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_warm_spare_in_fast_tiers(request, monkeypatch):
    """Unit and model tests never start a real warm spare (a process that imports TensorFlow
    and waits 15 minutes); a test of the spare turns it on itself. End-to-end and browser
    tests run with the studio's default."""
    tier = request.node.path.relative_to(Path(__file__).parent).parts[0]
    if tier in ("unit", "models", "faults"):
        monkeypatch.setenv("STUDIO_WARM_WORKER", "0")


def _no_real_worker(args, *_, **__):
    raise AssertionError(
        f"a {'/'.join(NO_WORKER_TIERS)} test started a real process ({' '.join(args)}): "
        "these tiers stay in their own process. Queue without a worker with "
        'monkeypatch.setattr("studio.runs.launcher._spawn", lambda store, run_id: None).'
    )


# A worker started by a unit test outlives it and trains on, taking a core from every later
# test (one did: a Train-page test whose stand-in stopped matching the page's submit queued a
# real 5,000-epoch run).
NO_WORKER_TIERS = ("unit", "models")


@pytest.fixture(autouse=True)
def _no_workers_in_fast_tiers(request, monkeypatch):
    tier = request.node.path.relative_to(Path(__file__).parent).parts[0]
    if tier in NO_WORKER_TIERS:
        monkeypatch.setattr("studio.runs.procs.spawn_detached", _no_real_worker)


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


@pytest.fixture
def tiny():
    """`tiny(variant, dataset, **overrides)`: the tiny-preset RunConfig (tests/helpers/tiny.py)."""
    return tiny_config


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or skip: a fresh clone without it must still pass."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (real images live in ../shared/data beside the repo)")
    return path
