"""A stand-in for huggingface_hub.HfApi: records what a push asks of the Hub and the files an
upload would send; no request leaves this machine."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest


class FakeApi:
    """`calls`: ("init", token), ("create_repo", repo_id, kwargs), ("upload_folder", kwargs,
    {relative path: bytes}); `error` is raised from create_repo when set."""

    calls: ClassVar[list] = []
    error: Exception | None = None

    def __init__(self, token=None, **_):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))
        if FakeApi.error is not None:
            raise FakeApi.error

    def upload_folder(self, **kwargs):
        folder = Path(kwargs["folder_path"])
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }
        FakeApi.calls.append(("upload_folder", kwargs, files))


def install_fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[FakeApi]:
    """HfApi replaced by FakeApi, no token anywhere, HF_ENDPOINT at a closed port."""
    import huggingface_hub

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no cached login
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    FakeApi.calls, FakeApi.error = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi
