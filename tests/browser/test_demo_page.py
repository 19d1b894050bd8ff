"""The Demo page as a person uses it: the Gradio demo embedded in the studio, in chromium.

Upload an image, read the top classes and the time, click an example, try a file that is not
an image, and find the gradio_client snippet. The run is a tiny untrained model written the
way the trainer writes one (tests.helpers.sample_run), so no training is needed here.
"""

from __future__ import annotations

import pytest

from studio.inference.local import predict_files
from tests.browser.page_helpers import nav_link
from tests.helpers.probe_images import write_bad_images, write_good_images
from tests.helpers.sample_run import make_sample_run

expect = pytest.importorskip("playwright.sync_api").expect

# The first prediction starts the inference worker (TensorFlow import, model load).
FIRST_ANSWER_MS = 180_000


@pytest.fixture(scope="module")
def demo_run(studio):
    return make_sample_run(studio.store()).id


def timing_text(frame) -> str:
    return frame.locator("#demo-timing textarea").input_value()


def wait_for_new_timing(page, frame, previous: str, timeout_ms: int) -> str:
    waited = 0
    while waited < timeout_ms:
        value = timing_text(frame)
        if value and value != previous:
            return value
        page.wait_for_timeout(250)
        waited += 250
    raise AssertionError(f"no new answer within {timeout_ms} ms (still {previous!r})")


def test_demo_page_classifies_uploads_and_examples_and_refuses_non_images(
    studio, page, demo_run, tmp_path
):
    good = write_good_images(tmp_path / "good")
    bad = write_bad_images(tmp_path / "bad")
    _, expected = predict_files(studio.store(), demo_run, [good["photo_jpeg"]], k=5)

    page.goto(studio.url)
    nav_link(page, "Demo").click()
    page.get_by_role("heading", name="Demo").wait_for()
    iframe = page.locator("iframe[src*='/gradio/']")
    iframe.wait_for()
    assert f"run={demo_run}" in iframe.get_attribute("src")
    frame = page.frame_locator("iframe[src*='/gradio/']")
    frame.locator("#demo-image").wait_for()
    # The page load event picks the run and fills in its summary.
    expect(frame.locator("#demo-summary")).to_contain_text(demo_run, timeout=60_000)

    # Upload: the label chart shows the CLI's top class, the time box the milliseconds.
    frame.locator("#demo-image input[type=file]").set_input_files(str(good["photo_jpeg"]))
    first = wait_for_new_timing(page, frame, "", FIRST_ANSWER_MS)
    assert " ms (decode " in first
    labels = frame.locator("#demo-labels")
    top_class = expected[0][0][0]
    assert labels.locator("h2, .output-class").first.inner_text().strip() == top_class
    page.screenshot(path=str(studio.shots / "demo-upload.png"), full_page=True)

    # An example from the run's own test images.
    examples = frame.locator("#demo-examples")
    examples.wait_for(timeout=120_000)
    examples.locator("button, .gallery-item, td").first.click()
    wait_for_new_timing(page, frame, first, 60_000)

    # A text file named .png: a message from the decoder, not a traceback.
    path, phrase = bad["not_an_image"]
    frame.locator("#demo-image").get_by_role("button", name="Remove Image").click()
    frame.locator("#demo-image input[type=file]").set_input_files(str(path))
    toast = frame.locator(".toast-body, [data-testid='toast-body']").filter(has_text=phrase)
    toast.first.wait_for(timeout=60_000)
    text = toast.first.inner_text()
    assert "cannot be used" in text and "Traceback" not in text
    page.screenshot(path=str(studio.shots / "demo-refused.png"), full_page=True)

    # The API snippet for this run.
    page.get_by_role("tab", name="API (gradio_client)").click()
    code = page.locator("[data-testid='stCode']").first.inner_text()
    assert 'api_name="/predict"' in code and demo_run in code and "/gradio/" in code
