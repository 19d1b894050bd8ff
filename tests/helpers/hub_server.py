"""A fake Hugging Face Hub over real HTTP on 127.0.0.1: the few endpoints a push uses (create a
repository, preupload, commit, repository info), with faults on request: an endpoint that
never answers, or answers with a status. Point huggingface_hub at it with `endpoint_for`."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ENDPOINTS = {
    "create": re.compile(r"^/api/repos/create$"),
    "validate": re.compile(r"^/api/validate-yaml$"),
    "preupload": re.compile(r"^/api/(\w+)s/([^/]+/[^/]+)/preupload/[^/]+$"),
    "commit": re.compile(r"^/api/(\w+)s/([^/]+/[^/]+)/commit/[^/]+$"),
    "info": re.compile(r"^/api/(\w+)s/([^/]+/[^/]+)$"),
}


@dataclass
class Fault:
    """`status` None: never answer (until the server stops); `times`: for that many requests."""

    status: int | None = None
    times: int = 1_000_000
    body: str = '{"error": "fake hub fault"}'


@dataclass
class HubState:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo -> path -> bytes
    created: list[str] = field(default_factory=list)
    commits: int = 0
    requests: list[str] = field(default_factory=list)  # "METHOD endpoint-name"
    authorizations: list[str] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)


def _handler(state: HubState, stop: threading.Event):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, value) -> None:
            body = (value if isinstance(value, str) else json.dumps(value)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self, method: str) -> None:
            path = self.path.split("?")[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            name = next((n for n, rx in ENDPOINTS.items() if rx.match(path)), f"other {path}")
            state.requests.append(f"{method} {name}")
            state.authorizations.append(self.headers.get("Authorization") or "")
            fault = state.faults.get(name)
            if fault is not None and fault.times > 0:
                fault.times -= 1
                if fault.status is None:
                    stop.wait()  # accepted, never answered
                    return
                self._answer(fault.status, fault.body)
                return
            if name == "create":
                payload = json.loads(body)
                repo = f"{payload['organization']}/{payload['name']}"
                kind = "" if payload.get("type") in (None, "model") else f"{payload['type']}s/"
                url = {"url": f"http://{self.headers['Host']}/{kind}{repo}", "name": repo}
                if repo in state.repos:
                    self._answer(409, {"error": "You already created this repo", **url})
                    return
                state.repos[repo] = {}
                state.created.append(repo)
                self._answer(200, url)
            elif name == "validate":
                self._answer(200, {"errors": [], "warnings": []})
            elif name == "preupload":
                files = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                    for f in json.loads(body)["files"]
                ]
                self._answer(200, {"files": files})
            elif name == "commit":
                repo = ENDPOINTS["commit"].match(path).group(2)
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        value = item["value"]
                        content = base64.b64decode(value["content"])
                        state.repos.setdefault(repo, {})[value["path"]] = content
                state.commits += 1
                self._answer(
                    200,
                    {
                        "commitUrl": f"http://{self.headers['Host']}/{repo}/commit/{'0' * 40}",
                        "commitOid": "0" * 40,
                        "pullRequestUrl": None,
                    },
                )
            elif name == "info":
                repo = ENDPOINTS["info"].match(path).group(2)
                if repo in state.repos:
                    self._answer(200, {"id": repo, "sha": "0" * 40, "siblings": []})
                else:
                    self._answer(404, {"error": "Repository not found"})
            else:
                self._answer(404, {"error": "not a fake-hub endpoint"})

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

    return Handler


@contextmanager
def fake_hub_server() -> Iterator[tuple[str, HubState]]:
    """(endpoint URL, state) of a fake Hub running for the block."""
    state, stop = HubState(), threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, stop))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def point_hub_at(monkeypatch: pytest.MonkeyPatch, endpoint: str, tmp_path) -> None:
    """huggingface_hub's calls go to `endpoint` (read at its import, so set in constants)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
