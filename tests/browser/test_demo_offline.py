"""The Demo page loads without a single request leaving the machine: no font host, no CDN,
no analytics (a studio on a laptop offline, or behind a firewall, looks the same)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.page_helpers import nav_link
from tests.helpers.sample_run import make_sample_run

pytest.importorskip("playwright.sync_api")

LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


def test_demo_page_and_its_gradio_frame_fetch_only_from_the_studio(studio, page):
    make_sample_run(studio.store())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(studio.url)
    nav_link(page, "Demo").click()
    frame = page.frame_locator("iframe")
    frame.locator("#demo-image").wait_for()
    frame.locator("#demo-classify").wait_for()
    page.wait_for_timeout(2000)  # late fetches (favicon, fonts) are requested by now
    page.screenshot(path=studio.shots / "demo-offline.png")
    away = sorted(
        {
            u
            for u in requested
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in LOCAL
        }
    )
    assert not away, f"the page fetched from outside the machine: {away}"
