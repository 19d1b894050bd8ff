"""Small playwright helpers the browser tests share: waiting, reading alerts, typing numbers."""

from __future__ import annotations

import json

SKELETONS_GONE = "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0"


def wait_ready(page) -> None:
    """The page has drawn: a title and no placeholders left."""
    page.wait_for_selector("h1")
    page.wait_for_function(SKELETONS_GONE)


def alert(page, text: str):
    """The first st.info / success / warning / error box holding `text`."""
    return page.locator("[data-testid='stAlert']").filter(has_text=text).first


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def record(studio, key: str, value) -> None:
    """Keep a measured figure in the screenshots folder's timings.json, and print it."""
    path = studio.shots / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2))
    print(f"{key}: {value}")
