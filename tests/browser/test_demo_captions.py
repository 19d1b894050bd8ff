"""The Gradio demo with a caption run, in chromium, at the studio's own /gradio/ mount: the
caption view replaces the class bars, an upload and an example get captions at the beam width
asked for, and picking a classifier brings the class bars back."""

from __future__ import annotations

import re

import pytest

from studio.inference.local import caption_files
from tests.helpers.caption_run import make_caption_run
from tests.helpers.probe_images import write_good_images
from tests.helpers.sample_run import make_sample_run

expect = pytest.importorskip("playwright.sync_api").expect

FIRST_ANSWER_MS = 180_000  # the first caption starts the inference worker


def test_a_caption_run_shows_captions_with_a_beam_width(studio, page, tmp_path):
    store = studio.store()
    classifier = make_sample_run(store)
    run = make_caption_run(store)
    photo = write_good_images(tmp_path / "good")["photo_jpeg"]
    _, (greedy,) = caption_files(store, run.id, [photo], 1)

    page.goto(f"{studio.url}/gradio/?run={run.id}")
    expect(page.locator("#demo-summary")).to_contain_text(run.id, timeout=60_000)
    expect(page.locator("#demo-caption-in")).to_be_visible()
    expect(page.locator("#demo-classify-in")).to_be_hidden()
    expect(page.locator("#demo-labels")).to_be_hidden()

    beam = page.locator("#demo-beam input[type=number]")
    beam.fill("1")
    beam.press("Enter")
    page.locator("#demo-image input[type=file]").set_input_files(str(photo))
    timing = page.locator("#demo-caption-timing textarea")
    expect(timing).to_have_value(re.compile(r" ms .*greedy\)$"), timeout=FIRST_ANSWER_MS)
    expect(page.locator("#demo-caption textarea")).to_have_value(greedy)
    page.screenshot(path=str(studio.shots / "demo-caption.png"), full_page=True)

    # An example from the run's own test images gets its caption too.
    first = timing.input_value()
    examples = page.locator("#demo-examples")
    examples.wait_for(timeout=120_000)
    examples.locator("button, .gallery-item, td").first.click()
    expect(timing).not_to_have_value(first, timeout=60_000)

    page.locator("#demo-run input").click()
    page.get_by_role("option").filter(has_text=f"#{classifier.seq} ").click()
    expect(page.locator("#demo-classify-in")).to_be_visible(timeout=30_000)
    expect(page.locator("#demo-caption-in")).to_be_hidden()
