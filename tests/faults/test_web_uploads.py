"""Uploads through the pages' file widgets (studio.ui.upload_spool), in Streamlit's AppTest.

A file whose name changes on its way, a refused format, a busy server, a full disk: each
gets a line on the page, never an exception box, and Streamlit's in-memory copy of the
bytes is dropped as soon as the file is on disk.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO


def _png(color=(200, 30, 30), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), color).save(buffer, format=fmt)
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("cats", "dogs"):
            for i in range(3):
                archive.writestr(f"{name}/{i}.png", _png((40 * i, 90, 0)))
    return buffer.getvalue()


def _uploader_page(spool: str, suffixes: tuple[str, ...]) -> None:
    """A page with one spooled uploader that reports what Streamlit still holds."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from studio.ui.upload_spool import received_file

    got = received_file(
        "File",
        key="probe",
        spool_dir=__import__("pathlib").Path(spool),
        suffixes=suffixes,
        mime_types=("application/zip",) if suffixes else ("image/*",),
    )
    ctx = get_script_run_ctx()
    held = ctx.uploaded_file_mgr.file_storage.get(ctx.session_id, {})
    st.text(f"streamlit holds {sum(len(f.data) for f in held.values())} bytes")
    if got is not None:
        st.text(f"on disk {got.path.stat().st_size} bytes as {got.name}")


@pytest.fixture
def app(tmp_path):
    def start(suffixes=(".zip",)):
        at = AppTest.from_function(
            _uploader_page, args=(str(tmp_path / "spool"), suffixes), default_timeout=60
        )
        return at.run(timeout=60)

    return start


def _texts(at) -> list[str]:
    return [t.value for t in at.text]


def test_a_zip_is_moved_to_disk_and_streamlit_lets_go_of_its_bytes(app):
    at = app()
    data = _zip()
    at.file_uploader[0].set_value(("data.zip", data, "application/zip")).run()
    assert not at.exception
    assert "streamlit holds 0 bytes" in _texts(at)
    assert f"on disk {len(data)} bytes as data.zip" in _texts(at)
    assert at.file_uploader[0].value is None  # the widget is cleared, ready for the next
    assert any("Received `data.zip`" in c.value for c in at.caption)


def test_a_file_renamed_on_its_way_gets_a_line_not_an_exception_box(app):
    # The browser filters by name; a client that renames the file (a proxy, a script) sent
    # Streamlit's own type check into an exception that replaced the whole page.
    at = app()
    at.file_uploader[0].set_value(("data.exe", b"MZ\x90\x00", "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("`data.exe` is not a .zip file" in e.value for e in at.error)
    assert "streamlit holds 0 bytes" in _texts(at)


def test_a_busy_server_refuses_in_words_and_keeps_nothing(app, monkeypatch):
    from studio.ui import upload_spool

    at = app()
    for _ in range(upload_spool.MAX_HANDLING):
        assert upload_spool._handling.acquire(blocking=False)
    try:
        at.file_uploader[0].set_value(("data.zip", _zip(), "application/zip")).run()
    finally:
        for _ in range(upload_spool.MAX_HANDLING):
            upload_spool._handling.release()
    assert not at.exception
    assert any("busy" in e.value and "try again" in e.value.lower() for e in at.error)
    assert "streamlit holds 0 bytes" in _texts(at)


def test_a_full_disk_while_spooling_is_a_line_and_leaves_no_partial_file(
    app, tmp_path, monkeypatch
):
    at = app()

    def full(src, dst, length=0):
        dst.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("studio.ui.upload_spool.shutil.copyfileobj", full)
    at.file_uploader[0].set_value(("data.zip", _zip(), "application/zip")).run()
    assert not at.exception
    assert any("No space left on device" in e.value for e in at.error)
    assert list((tmp_path / "spool").glob("upload-*")) == []


def test_the_train_page_extracts_a_zip_from_disk_and_survives_a_renamed_file(studio_home):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.radio(key="ds_source").set_value("Upload a zip").run()
    at.file_uploader[0].set_value(("data.exe", b"MZ", "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("`data.exe` is not a .zip file" in e.value for e in at.error)
    at.file_uploader[0].set_value(("pets.zip", _zip(), "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Extracted 6 images" in s.value for s in at.success)
    incoming = Path(studio_home) / "uploads" / ".incoming"
    assert list(incoming.glob("upload-*")) == []  # the zip itself is gone once extracted
    at.run()  # reruns keep the extracted dataset without the upload's bytes
    assert any("Extracted 6 images" in s.value for s in at.success)


def test_the_patches_page_names_a_refused_format_and_a_busy_decoder(studio_home, monkeypatch):
    from studio.datasets import images
    from studio.datasets.decode_budget import MemoryBudget

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page("pages/patches.py").run()
    at.segmented_control(key="patches_source").set_value("Upload").run()
    at.file_uploader[0].set_value(("cat.png", _png(fmt="TGA"), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("TGA images are not accepted" in e.value for e in at.error)

    budget = MemoryBudget(1024)
    monkeypatch.setattr(images, "DECODING", budget)
    with budget.reserve(1):
        at.file_uploader[0].set_value(("cat.png", _png((1, 2, 3)), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("busy decoding other images" in w.value for w in at.warning)
    at.run()  # the budget is free again: the same upload, read back from disk, decodes
    assert not at.warning and not at.error
