"""`received_file`: an st.file_uploader whose file goes to disk at once and leaves memory.

Streamlit keeps every uploaded file's bytes in the server's memory for as long as its
widget holds it, and for `server.disconnectedSessionTTL` after the tab closes: five 150 MB
zips were 1.8 GB of memory, 1 GB still after their tabs closed. Here the first script run
that sees an upload copies it to a spool file, drops Streamlit's copy and clears the widget;
the page keeps only the path. At most MAX_HANDLING uploads are spooled (and handled) at
once; another is refused with "busy, try again" rather than held. The file's name is
checked here, in words, rather than by Streamlit's own type check, which replaces the whole
page with an exception box when a file's name changes on its way (a proxy, a script).
What Streamlit reads into memory before all this is bounded by `upload_gate`, whose
refusals the uploader shows here in words.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from studio.ui.common import human_size
from studio.ui.text import code, md_text
from studio.ui.upload_gate import BUSY, MAX_UPLOAD_MB, take_refusal

MAX_HANDLING = 2  # uploads copied to disk and handled at once in this server
STALE_AFTER_S = 24 * 3600  # spool files of sessions long gone are swept after this
_handling = threading.BoundedSemaphore(MAX_HANDLING)


@dataclass(frozen=True)
class Received:
    """An upload on disk: the name the browser gave it, its spool file, what `handle` made."""

    name: str
    path: Path
    size: int
    result: Any = None

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def received_file(
    label: str,
    *,
    key: str,
    spool_dir: Path,
    suffixes: Sequence[str] = (),
    mime_types: Sequence[str] = (),
    max_mb: int | None = None,
    help: str | None = None,
    handle: Callable[[Path, str], Any] | None = None,
    keep: bool = True,
) -> Received | None:
    """The last file received under `key` this session, or None.

    `suffixes` (lower case, with the dot) are checked here; `mime_types` go to the browser's
    file picker with them. `handle(path, name)` runs once per upload, while it is counted
    as being handled; its value is `Received.result`. Without `keep`, the spool file is
    removed after `handle` (the result is what the page needs).
    """
    held_key, problem_key, gen_key = f"{key}:held", f"{key}:problem", f"{key}:gen"
    generation = st.session_state.get(gen_key, 0)
    accept = [*suffixes, *mime_types] or None
    uploaded = st.file_uploader(
        label,
        type=accept,
        key=f"{key}:{generation}",
        max_upload_size=max_mb or MAX_UPLOAD_MB,
        help=help,
    )
    ctx = get_script_run_ctx()
    refused = take_refusal(ctx.session_id) if ctx is not None else None
    if refused:  # the server's upload gate turned the file away before Streamlit read it
        st.session_state[problem_key] = refused
        st.session_state[gen_key] = generation + 1  # drops the browser's failed entry
        st.rerun()
    if uploaded is not None:
        st.session_state[problem_key] = None
        try:
            received = _take(uploaded, spool_dir, suffixes, handle, keep)
        except _Refused as refusal:
            st.session_state[problem_key] = str(refusal)
        else:
            _forget(st.session_state.get(held_key))
            st.session_state[held_key] = received
        finally:
            _release(uploaded)
            # A fresh, empty widget: the file now lives on disk and in our state only.
            st.session_state[gen_key] = generation + 1
        st.rerun()
    problem = st.session_state.get(problem_key)
    if problem:
        st.error(md_text(problem), icon=":material/block:")
    held: Received | None = st.session_state.get(held_key)
    if held is not None and keep and not held.path.is_file():
        held = None  # swept or removed by hand: nothing to offer any more
        st.session_state[held_key] = None
    if held is not None:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption(f"Received {code(held.name)} ({human_size(held.size)})")
            st.button("Remove", key=f"{key}:remove", type="tertiary", on_click=_remove, args=(key,))
    return held


class _Refused(Exception):
    pass


def _take(uploaded, spool_dir: Path, suffixes, handle, keep: bool) -> Received:
    name = uploaded.name or "upload"
    if suffixes and not name.lower().endswith(tuple(suffixes)):
        wanted = " or ".join(suffixes)
        raise _Refused(f"{name} is not a {wanted} file; nothing was kept.")
    if not _handling.acquire(blocking=False):
        raise _Refused(BUSY)
    try:
        path = _spool(uploaded, Path(spool_dir))
        try:
            result = handle(path, name) if handle is not None else None
        except OSError as err:  # a full or read-only disk while handling, in words
            raise _Refused(f"{name} could not be handled: {err.strerror or err}.") from None
        finally:
            if not keep:
                path.unlink(missing_ok=True)
        return Received(name, path, int(uploaded.size), result)
    finally:
        _handling.release()


def _spool(uploaded, spool_dir: Path) -> Path:
    try:
        spool_dir.mkdir(parents=True, exist_ok=True)
        _sweep(spool_dir)
        fd, name = tempfile.mkstemp(dir=spool_dir, prefix="upload-")
    except OSError as err:
        raise _Refused(f"The server could not store the upload: {err.strerror or err}.") from None
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            uploaded.seek(0)
            shutil.copyfileobj(uploaded, out, 1024 * 1024)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise _Refused(
            f"The server could not store the upload: {err.strerror or err}; nothing was kept."
        ) from None
    return path


def _release(uploaded) -> None:
    """Drop Streamlit's copy of the bytes: its upload manager's and the widget value's."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        with contextlib.suppress(Exception):  # an older or newer Streamlit: memory, not logic
            ctx.uploaded_file_mgr.remove_file(ctx.session_id, uploaded.file_id)
    uploaded.close()


def _sweep(spool_dir: Path) -> None:
    cutoff = time.time() - STALE_AFTER_S
    for old in spool_dir.glob("upload-*"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def _forget(held: Received | None) -> None:
    if held is not None:
        with contextlib.suppress(OSError):
            held.path.unlink(missing_ok=True)


def _remove(key: str) -> None:
    _forget(st.session_state.get(f"{key}:held"))
    st.session_state[f"{key}:held"] = None
    st.session_state[f"{key}:problem"] = None
