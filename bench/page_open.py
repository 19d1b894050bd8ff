"""Seconds to open each studio page in a new browser tab, for issue 4's "under 2 s" target.

Usage: python bench/page_open.py [--repeats 5] [--runs 4] [--pages train runs patches demo]

Starts the studio as `make run` does (another port, a temporary STUDIO_HOME holding `--runs`
finished runs with 30 epochs of metrics each), then opens every page `--repeats` times, each
in a fresh browser context (a new session, as a new tab is), and prints the median and the
worst time from navigation to a drawn page: its title, no placeholders left, and the page's
main element. The first open of each page is reported apart: it pays for imports and caches.
Needs Debian's chromium and the playwright package (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test helpers (studio itself is installed)

from tests.browser.page_helpers import SKELETONS_GONE  # noqa: E402
from tests.helpers.studio_server import CHROMIUM, CHROMIUM_ARGS, running_studio  # noqa: E402

# Page path -> what must be on screen before the page counts as open.
PAGES = {
    "train": "button:has-text('Start training')",
    "runs": "[data-testid='stDataFrame']",
    "patches": "[data-testid='stPlotlyChart']",
    "demo": "h1",
}
TITLES = {"train": "Train", "runs": "Runs", "patches": "Patches", "demo": "Demo"}
HEADINGS = {
    "Train": "Train a Vision Transformer",
    "Runs": "Runs",
    "Patches": "Patches",
    "Demo": "Demo",
}


def seed_runs(home: Path, count: int) -> None:
    """Finished runs with a full set of epoch rows, so tables and charts have data to draw."""
    from studio.config import make_config
    from studio.runs.store import RunStore

    store = RunStore(home)
    for i in range(count):
        run = store.create_run(
            make_config("cpu-quick", "digits", ("vit", "spt-lsa")[i % 2]).to_dict()
        )
        store.update(run.id, steps_per_epoch=10, num_classes=10)
        for epoch in range(1, 31):
            store.add_metric(run.id, "epoch", epoch, epoch * 10, loss=2 / epoch,
                             accuracy=1 - 1 / (epoch + 1), val_loss=2.1 / epoch,
                             val_accuracy=1 - 1.1 / (epoch + 1))  # fmt: skip
        store.finish(run.id, "completed")


def wait_drawn(page, selector: str) -> None:
    page.wait_for_selector("h1")
    page.wait_for_selector(selector)
    page.wait_for_function(SKELETONS_GONE)


def timed_open(page, url: str, selector: str) -> float:
    page.set_default_timeout(120_000)
    start = time.perf_counter()
    page.goto(url)
    wait_drawn(page, selector)
    return time.perf_counter() - start


def new_visitor(browser, url: str, selector: str) -> float:
    """A browser that has never seen the studio: every script and style is fetched."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        return timed_open(context.new_page(), url, selector)
    finally:
        context.close()


def new_tab(context, url: str, selector: str) -> float:
    """A new tab (a new session) in a browser whose cache already holds the studio's files."""
    page = context.new_page()
    try:
        return timed_open(page, url, selector)
    finally:
        page.close()


def switch(page, title: str, selector: str) -> float:
    """A click on the page's name in the studio's top bar, within one session."""
    start = time.perf_counter()
    page.locator("[data-testid='stTopNavLink']").filter(has_text=title).first.click()
    page.wait_for_function(
        "(t) => Array.from(document.querySelectorAll('h1')).some(h => h.textContent.includes(t))",
        arg=HEADINGS[title],
    )
    wait_drawn(page, selector)
    return time.perf_counter() - start


def row(name: str, times: list[float]) -> str:
    return f"{name:<22} {statistics.median(times):7.2f} {max(times):7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--pages", nargs="*", default=list(PAGES), help="train runs patches demo")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp()) / "studio-home"
    seed_runs(home, args.runs)
    pages = {p: s for p, s in PAGES.items() if p in args.pages}
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with running_studio(home) as (_, base):
        url = {p: f"{base}/{'' if p == 'train' else p}" for p in pages}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            # The server's first visit of each page imports its modules: counted apart.
            first = {p: new_visitor(browser, url[p], s) for p, s in pages.items()}
            print("first open after start: " + ", ".join(f"{p} {t:.2f}" for p, t in first.items()))
            print(f"{'':<22} {'median':>7} {'worst':>7}  (seconds, {args.repeats} opens each)")
            for p, s in pages.items():
                print(
                    row(
                        f"{p}: new visitor",
                        [new_visitor(browser, url[p], s) for _ in range(args.repeats)],
                    )
                )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            for p, s in pages.items():
                new_tab(context, url[p], s)  # fills the cache
                print(
                    row(f"{p}: new tab", [new_tab(context, url[p], s) for _ in range(args.repeats)])
                )
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url[next(iter(pages))])
            wait_drawn(page, next(iter(pages.values())))
            times: dict[str, list[float]] = {p: [] for p in pages}
            for _ in range(args.repeats):
                for p, s in pages.items():
                    times[p].append(switch(page, TITLES[p], s))
            for p in pages:
                print(row(f"{p}: switch", times[p]))
            browser.close()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
