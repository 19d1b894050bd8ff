"""`UploadGate`: ASGI middleware in front of Streamlit's upload route (`PUT /_stcore/upload_file/`).

Streamlit parses an upload and reads it whole into the server's memory before any page code
runs, so `upload_spool` can only move a file to disk once it is already there: five 150 MB
uploads at once peaked at several times their size. The gate bounds the bytes of uploads in
flight (`STUDIO_UPLOAD_INFLIGHT_MB`) by their Content-Length, before a byte of the body is
read, and refuses one above the studio's upload limit (`MAX_UPLOAD_MB`) the same way.

The browser's uploader shows a refused PUT only as "Request failed with status code 429", so
the refusal is also noted for the tab's session and the session is asked to rerun: the page's
`received_file` then shows it in words (`take_refusal`).
"""

from __future__ import annotations

import contextlib
import os
import threading

# The studio's upload limit: every file widget's default (the browser refuses a larger file
# before sending it) and what the gate refuses by Content-Length.
MAX_UPLOAD_MB = 200
DEFAULT_INFLIGHT_MB = 512
UPLOAD_ROUTE = "/_stcore/upload_file/"
# A multipart body carries a file plus its boundary lines and part headers.
MULTIPART_OVERHEAD = 1024 * 1024
BUSY = "The studio is busy receiving other uploads; nothing was kept. Try again in a moment."

_refusals: dict[str, str] = {}
_refusals_lock = threading.Lock()


def inflight_limit_bytes() -> int:
    """Bytes of uploads the server receives at once (STUDIO_UPLOAD_INFLIGHT_MB, 512)."""
    try:
        mb = int(os.environ.get("STUDIO_UPLOAD_INFLIGHT_MB", DEFAULT_INFLIGHT_MB))
    except ValueError:
        mb = DEFAULT_INFLIGHT_MB
    return max(1, mb) * 2**20


def too_large(size_mb: int = MAX_UPLOAD_MB) -> str:
    return f"The file is larger than the studio's upload limit of {size_mb} MB; nothing was kept."


def take_refusal(session_id: str) -> str | None:
    """Why the gate last refused an upload of this session, once; None if it did not."""
    with _refusals_lock:
        return _refusals.pop(session_id, None)


class UploadGate:
    """Admit an upload only while the bytes in flight stay under `limit_bytes`.

    An upload larger than the whole limit (but within `max_upload_bytes`) is admitted when
    nothing else is in flight, or it could never arrive.
    """

    def __init__(
        self, app, limit_bytes: int | None = None, max_upload_bytes: int | None = None
    ) -> None:
        self.app = app
        self.limit_bytes = inflight_limit_bytes() if limit_bytes is None else limit_bytes
        self.max_upload_bytes = (
            MAX_UPLOAD_MB * 2**20 if max_upload_bytes is None else max_upload_bytes
        )
        self.in_flight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT" or UPLOAD_ROUTE not in scope["path"]:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        try:
            size = int(headers.get(b"content-length", b""))
        except ValueError:
            # Without a declared size nothing can be reserved; browsers always declare it.
            await _refuse(scope, send, 411, "An upload must state its size (Content-Length).")
            return
        if size < 0:
            await _refuse(scope, send, 400, "An upload's Content-Length cannot be negative.")
            return
        if size > self.max_upload_bytes + MULTIPART_OVERHEAD:
            await _refuse(scope, send, 413, too_large(self.max_upload_bytes // 2**20))
            return
        # One event loop runs this: nothing else changes `in_flight` between check and add.
        if self.in_flight and self.in_flight + size > self.limit_bytes:
            await _refuse(scope, send, 429, BUSY, retry_after_s=5)
            return
        self.in_flight += size
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= size


async def _refuse(scope, send, status: int, message: str, retry_after_s: int | None = None):
    session_id = _session_of(scope["path"])
    if session_id:
        _tell_the_page(session_id, message)
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(retry_after_s).encode()))
    body = message.encode()
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _session_of(path: str) -> str | None:
    rest = path.split(UPLOAD_ROUTE, 1)[-1].split("/")
    return rest[0] if len(rest) >= 2 and rest[0] else None


def _tell_the_page(session_id: str, message: str) -> None:
    """Note why for the tab's session and have its page run again, so that its uploader
    says it in words. Only a live session is noted: made-up ids must not grow the notes."""
    with contextlib.suppress(Exception):  # no runtime (tests), an older or newer Streamlit
        from streamlit.runtime import Runtime

        info = Runtime.instance()._session_mgr.get_active_session_info(session_id)
        if info is None:
            return
        with _refusals_lock:
            _refusals[session_id] = message
        info.session.request_rerun(None)
