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


# The curves chart is the Plotly chart with a trace of that name (the dataset card has one too).
CURVES_JS = """(name) => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(p => p.data && p.data.some(t => t.name === name || t.name.startsWith(name)))"""
_TRACES_JS = f"""(name) => {{
    const plot = ({CURVES_JS})(name);
    if (!plot) return null;
    return plot.data.map(t => [t.name, (t.y || []).filter(v => v !== null).length]);
}}"""


def traces(page, name: str) -> list[tuple[str, int]] | None:
    """(trace name, number of points) of the chart holding a trace called (or starting) `name`."""
    data = page.evaluate(_TRACES_JS, name)
    return None if data is None else [tuple(t) for t in data]


def wait_for_points(page, name: str, count: int, timeout_ms: int) -> None:
    """Wait until the curves chart's first `name` trace has at least `count` points."""
    page.wait_for_function(
        f"""([name, count]) => {{
            const plot = ({CURVES_JS})(name);
            if (!plot) return false;
            const trace = plot.data.find(t => t.name === name);
            return (trace.y || []).filter(v => v !== null).length >= count;
        }}""",
        arg=[name, count],
        timeout=timeout_ms,
    )


def nav_link(page, name: str):
    """The top navigation's link to a page (a run's view has links with the same names)."""
    return page.get_by_test_id("stTopNavLink").filter(has_text=name)
