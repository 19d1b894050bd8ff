"""How the studio's calls to the Hugging Face Hub travel: each with a timeout, few retries.

huggingface_hub 2.x sends every call through one shared httpx client made without a timeout
(some calls even pass `timeout=None`), so a Hub that accepts the connection and never answers
holds a push forever; and it retries a failed call six times with up to 23 s of waits. The
studio installs a client factory (the library's own, with a timeout) and a request hook that
gives every request a timeout whatever its caller asked, and stops a request that has already
been tried MAX_ATTEMPTS times (huggingface_hub does not retry the error it raises then).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

TIMEOUT_ENV = "STUDIO_HUB_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 60.0  # the Hub answers a commit of a few hundred MB well within this
CONNECT_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 3
RETRIED_STATUSES = (408, 429, 500, 502, 503, 504)  # the statuses huggingface_hub retries
# Tries of one request closer together than this are retries; an upload's token refresh an
# hour later is a new request.
RETRY_WINDOW_S = 600.0


class HubGaveUp(httpx2.TransportError):
    """A request tried MAX_ATTEMPTS times without an answer it could use; the message says
    what the last try got."""


def timeout_s() -> float:
    """Seconds a Hub request may wait for each step (connect at most CONNECT_TIMEOUT_S)."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if 0 < value < 24 * 3600 else DEFAULT_TIMEOUT_S


def host(url: str | None = None) -> str:
    """The Hub's host as people know it (huggingface.co, or HF_ENDPOINT's)."""
    if url is None:
        from huggingface_hub import constants

        url = constants.ENDPOINT
    return urlsplit(url).netloc or url


@dataclass
class _Try:
    count: int
    started: float
    status: int | None = None


class _Attempts:
    """The tries of each request (method and URL) in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tries: dict[tuple[str, str], _Try] = {}

    def clear(self) -> None:
        with self._lock:
            self._tries.clear()

    def begin(self, request: httpx2.Request, timeout: float) -> None:
        key, now = (request.method, str(request.url)), time.monotonic()
        with self._lock:
            last = self._tries.get(key)
            if last is None or now - last.started > RETRY_WINDOW_S:
                self._tries[key] = _Try(1, now)
                return
            if last.count >= MAX_ATTEMPTS:
                del self._tries[key]
                got = (
                    f"kept answering {last.status}"
                    if last.status
                    else f"did not answer within {timeout:g} s"
                )
                raise HubGaveUp(
                    f"{host(str(request.url))} {got} ({request.method} {request.url.path}, "
                    f"{MAX_ATTEMPTS} tries)",
                    request=request,
                )
            self._tries[key] = _Try(last.count + 1, now)

    def answered(self, response: httpx2.Response) -> None:
        request = response.request
        key = (request.method, str(request.url))
        with self._lock:
            last = self._tries.get(key)
            if last is None:
                return
            last.status = response.status_code
            if last.count < MAX_ATTEMPTS or response.status_code not in RETRIED_STATUSES:
                return
            del self._tries[key]
        # The library would wait and try again: stop here, with what the Hub said.
        raise HubGaveUp(
            f"{host(str(request.url))} kept answering {response.status_code} "
            f"({request.method} {request.url.path}, {MAX_ATTEMPTS} tries)",
            request=request,
        )


_ATTEMPTS = _Attempts()


def _bounded_timeout(request: httpx2.Request, seconds: float) -> None:
    asked = request.extensions.get("timeout") or {}
    bound = {"connect": min(CONNECT_TIMEOUT_S, seconds), "read": seconds, "write": seconds}
    bound["pool"] = bound["connect"]
    request.extensions["timeout"] = {
        k: min(v, asked[k]) if asked.get(k) else v for k, v in bound.items()
    }


def _client_factory(seconds: float):
    from huggingface_hub.utils import _http

    def make() -> httpx2.Client:
        client = _http.default_client_factory()
        client.timeout = httpx2.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))

        def on_request(request: httpx2.Request) -> None:
            _bounded_timeout(request, seconds)
            _ATTEMPTS.begin(request, seconds)

        hooks = client.event_hooks
        hooks["request"] = [*hooks.get("request", []), on_request]
        hooks["response"] = [*hooks.get("response", []), _ATTEMPTS.answered]
        client.event_hooks = hooks
        return client

    return make


_installed_timeout: float | None = None  # that of the factory installed, if any


def install() -> float:
    """Make huggingface_hub's calls in this process bounded (call before each push: it
    re-reads the timeout and forgets earlier tries); returns the timeout in seconds."""
    import huggingface_hub

    global _installed_timeout
    seconds = timeout_s()
    _ATTEMPTS.clear()
    if seconds != _installed_timeout:
        # Setting a factory closes the shared client: only when the timeout changed, so a
        # push running in another thread of the server keeps its connection.
        huggingface_hub.set_client_factory(_client_factory(seconds))
        _installed_timeout = seconds
    return seconds
