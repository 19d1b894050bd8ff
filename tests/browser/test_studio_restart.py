"""Restarting the studio loses nothing: the run trains on, and the new server shows it as it is.

A digits run (3 epochs on 300 images) is queued from the command line while a studio serves
the browser; the studio is stopped mid-run and started again on the same STUDIO_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from studio.runs import procs
from studio.runs.store import RunStore
from tests.browser.page_helpers import alert, wait_for_points, wait_ready
from tests.helpers.studio_server import REPO, running_studio, stop_workers

FIRST_POINT_TIMEOUT_MS = 240_000
RUN_TIMEOUT_MS = 420_000


def _queue_digits_run(home) -> str:
    args = ["--dataset", "digits", "--preset", "cpu-quick", "--model", "vit", "--epochs", "3",
            "--limit", "300", "--batch-size", "64", "--json"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "studio", "train", *args],
        cwd=REPO, env={**os.environ, "STUDIO_HOME": str(home)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["id"]


def test_a_run_trains_on_through_a_studio_restart_and_reappears(browser, tmp_path):
    home = tmp_path / "studio-home"
    home.mkdir()
    store = RunStore(home)
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    context.set_default_timeout(120_000)
    try:
        with running_studio(home) as (_, url):
            page = context.new_page()
            page.goto(url)
            wait_ready(page)
            run_id = _queue_digits_run(home)
            page.get_by_text("#1 Vanilla ViT · digits").first.wait_for()
            wait_for_points(page, "train", 1, FIRST_POINT_TIMEOUT_MS)
            page.close()
        # The server is gone; the worker is not, and keeps writing to the store.
        run = store.get(run_id)
        assert run.status == "running" and procs.is_alive(run.pid, run.pid_start)
        rows_before = len(store.metrics(run_id))

        with running_studio(home) as (_, url):
            page = context.new_page()
            page.goto(url)
            wait_ready(page)
            page.get_by_text("#1 Vanilla ViT · digits").first.wait_for()
            # What was recorded before the restart is drawn at once, then it goes on.
            wait_for_points(page, "train", 1, 30_000)
            alert(page, "Completed").wait_for(timeout=RUN_TIMEOUT_MS)
            wait_for_points(page, "validation", 3, 30_000)
        run = store.get(run_id)
        assert run.status == "completed" and run.epochs_done == 3
        assert len(store.metrics(run_id)) > rows_before
    finally:
        context.close()
        stop_workers(home)
