"""A real studio server on a free port with its own STUDIO_HOME, and Debian's chromium.

The server is started exactly as `make run` starts it, except for the port. Chromium is
driven through the playwright package with the system browser: `playwright install` is
never needed (and never run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.studio_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    StudioDidNotStart,
    running_studio,
    stop_workers,
)


class Studio:
    """A running studio: its URL, its STUDIO_HOME and where screenshots go."""

    def __init__(self, url: str, home: Path, shots: Path) -> None:
        self.url = url
        self.home = home
        self.shots = shots

    def store(self):
        from studio.runs.store import RunStore

        return RunStore(self.home)


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def studio_server(tmp_path_factory, env: dict[str, str]) -> Iterator[Studio]:
    """A studio server with its own STUDIO_HOME and `env`, stopped with its workers after."""
    require_browser()
    home = tmp_path_factory.mktemp("studio-home")
    shots = Path(os.environ.get("STUDIO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with running_studio(home, env=env) as (_, url):
            print(f"\nstudio at {url}, STUDIO_HOME={home}, screenshots in {shots}")
            yield Studio(url, home, shots)
    except StudioDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        stop_workers(home)


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Iterator[Studio]:
    # Two slots: the resumed run trains beside the second one instead of after it, which
    # keeps this module within a few minutes on two cores.
    yield from studio_server(tmp_path_factory, {"STUDIO_MAX_CONCURRENT_RUNS": "2"})


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict]()


@pytest.fixture
def page(request, browser, studio):
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(120_000)  # generous: CI machines have 2 cores
    yield page
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed:
        # What the browser showed when the test gave up is the first thing one needs.
        page.screenshot(path=studio.shots / f"failed-{request.node.name}.png")
        print(f"screenshot of the failure: {studio.shots / f'failed-{request.node.name}.png'}")
    context.close()
