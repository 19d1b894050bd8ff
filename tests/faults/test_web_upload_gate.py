"""The gate in front of Streamlit's upload route (studio.ui.upload_gate): uploads in flight are
bounded in bytes by their declared size, and one above the studio's upload limit is refused,
both before any of the body is read; the page then says why in words.

The first test drives the studio exactly as `make run` serves it (a raw socket: headers that
promise a body never sent); the others drive the gate and the uploader in-process. The
uploader in the browser shows a refused PUT only as "Request failed with status code 429":
the words come from the page (`received_file`), rerun by the gate.
"""

from __future__ import annotations

import socket

import pytest
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from studio.ui import upload_gate
from studio.ui.upload_gate import BUSY, MAX_UPLOAD_MB, UploadGate
from tests.helpers.studio_server import running_studio

ROUTE = "/_stcore/upload_file/session-1/file-1"


def _put_headers(host: str, length: int | None) -> bytes:
    lines = [f"PUT {ROUTE} HTTP/1.1", f"Host: {host}", "Content-Type: multipart/form-data"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _reply(sock: socket.socket) -> tuple[int, str]:
    data = b""
    sock.settimeout(20)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields.get(b"content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body.decode("utf-8", "replace")


def test_the_studio_server_refuses_an_upload_above_its_limit_unread(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_studio(home) as (_, url):
        host, port = url.removeprefix("http://").split(":")
        address = (host, int(port))

        # Above the upload limit: refused on its headers alone, no body ever sent.
        with socket.create_connection(address) as sock:
            sock.sendall(_put_headers(url, (MAX_UPLOAD_MB + 10) * 2**20))
            status, text = _reply(sock)
        assert status == 413, (status, text)
        assert f"upload limit of {MAX_UPLOAD_MB} MB" in text

        # Below it, the gate lets Streamlit's own checks answer (here: no XSRF token).
        with socket.create_connection(address) as sock:
            sock.sendall(_put_headers(url, 10) + b"0123456789")
            status, text = _reply(sock)
        assert status == 403, (status, text)


async def _drain(scope, receive, send):
    """Stands in for Streamlit's upload route: reads the whole body, answers 204."""
    _reads.append(scope["path"])
    more = True
    while more and scope["type"] == "http":
        message = await receive()
        more = message.get("more_body", False)
    status = 204 if scope["method"] == "PUT" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


_reads: list[str] = []


@pytest.fixture
def gate():
    _reads.clear()
    return UploadGate(_drain, limit_bytes=1000, max_upload_bytes=2**20)


def test_the_gate_refuses_unread_beyond_the_limits(gate):
    client = TestClient(gate)
    big = client.put(ROUTE, content=b"x" * (3 * 2**20))
    assert big.status_code == 413 and "upload limit of 1 MB" in big.text
    gate.in_flight = 800  # another upload of 800 bytes is being received
    busy = client.put(ROUTE, content=b"y" * 300)
    assert busy.status_code == 429 and busy.text == BUSY
    assert busy.headers["retry-after"] == "5"
    assert _reads == []  # Streamlit's route never ran: nothing of either body was read
    chunked = client.put(ROUTE, headers={"transfer-encoding": "chunked"}, content=iter([b"ab"]))
    assert chunked.status_code == 411 and "Content-Length" in chunked.text


def test_the_gate_gives_its_bytes_back_and_admits_a_lone_large_upload(gate):
    client = TestClient(gate)
    for _ in range(3):  # each would overflow the limit if the last were still counted
        assert client.put(ROUTE, content=b"z" * 900).status_code == 204
    assert client.put(ROUTE, content=b"w" * 5000).status_code == 204  # alone: admitted
    assert gate.in_flight == 0
    assert client.get("/").status_code == 200  # nothing but uploads is gated
    assert len(_reads) == 5


def _uploader_page(spool: str) -> None:
    import pathlib

    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from studio.ui import upload_gate
    from studio.ui.upload_spool import received_file

    if st.session_state.setdefault("refuse_once", True):
        st.session_state["refuse_once"] = False
        # What the gate notes for this tab's session when it turns a PUT away.
        upload_gate._refusals[get_script_run_ctx().session_id] = upload_gate.BUSY
    received_file("Zip", key="z", spool_dir=pathlib.Path(spool), suffixes=(".zip",))


def test_the_page_says_in_words_why_the_gate_refused_an_upload(tmp_path):
    at = AppTest.from_function(_uploader_page, args=(str(tmp_path),), default_timeout=60)
    at.run(timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [BUSY]
    assert upload_gate._refusals == {}  # said once, then forgotten
    at.run()
    assert [e.value for e in at.error] == [BUSY]  # kept until the next upload or Remove
