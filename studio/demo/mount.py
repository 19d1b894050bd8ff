"""The demo mounted in the studio's own server: routes and a lifespan for `st.App`.

`app.py` does `st.App(__file__, routes=demo.routes, lifespan=demo.lifespan)` with a
`DemoMount`. The Gradio Blocks is mounted on a FastAPI app at `GRADIO_PATH`; its lifespan,
which starts Gradio's queue, is entered from st.App's lifespan (without it every prediction
would wait forever), and leaving it stops the inference worker.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import gradio as gr
from fastapi import FastAPI
from starlette.routing import Mount

from studio.demo import GRADIO_PATH
from studio.demo.app import MAX_UPLOAD, build_demo, studio_theme
from studio.inference.client import close_shared, shared_client
from studio.runs.store import RunStore

_mounted: list[DemoMount] = []


class DemoMount:
    """A FastAPI app holding the demo, ready to hand to `st.App`."""

    def __init__(self, store: RunStore | None = None, path: str = GRADIO_PATH) -> None:
        self.path = path
        store = store or RunStore()
        # The pages ask the same worker for attention maps and examples.
        self.blocks = build_demo(store, shared_client(store.home))
        self.app = gr.mount_gradio_app(
            FastAPI(openapi_url=None, docs_url=None, redoc_url=None),
            self.blocks,
            path="/",
            max_file_size=MAX_UPLOAD,
            ssr_mode=False,
            run_history=False,
            footer_links=["api"],
            show_error=True,
            theme=studio_theme(),
        )
        # The Gradio App that serves the requests (not `blocks.app`, an earlier instance).
        self.gradio_app = next(r.app for r in self.app.routes if isinstance(r, Mount))
        _mounted.append(self)

    @property
    def routes(self) -> list[Mount]:
        return [Mount(self.path, app=self.app)]

    @asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        async with self.app.router.lifespan_context(self.app):
            restore = end_streams_on_signal(self.gradio_app.stop_event)
            try:
                yield
            finally:
                restore()
        close_shared()


def end_streams_on_signal(stop_event: asyncio.Event) -> Callable[[], None]:
    """Set Gradio's stop event as soon as the server is asked to stop (SIGINT, SIGTERM).

    Uvicorn waits for open connections before it shuts down, and every open demo tab (and
    every gradio_client) holds a heartbeat stream that only ends on this event; Gradio's own
    server sets it when it closes, a mounted Gradio needs us to. The server's own handlers
    still run after ours. Returns a function that puts the previous handlers back.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed: dict[int, tuple[Any, Any]] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def chained(signum, frame, previous=previous):
            loop.call_soon_threadsafe(stop_event.set)
            if callable(previous):
                previous(signum, frame)
            else:  # SIG_DFL or SIG_IGN: let the signal do what it did before
                signal.signal(signum, previous)
                signal.raise_signal(signum)

        signal.signal(sig, chained)
        installed[sig] = (previous, chained)

    def restore() -> None:
        for sig, (previous, chained) in installed.items():
            if signal.getsignal(sig) is chained:
                signal.signal(sig, previous)

    return restore


def is_mounted() -> bool:
    """True once a DemoMount exists in this process (the Demo page asks)."""
    return bool(_mounted)
