"""Push to the Hugging Face Hub: an exported Space folder, or a run's model repository.

The token comes from the caller (the Demo page's password field), else HF_TOKEN, else the
login cached by `hf auth login`. It is never printed, logged, written to a file or put in an
error message: every message that leaves this module is scrubbed of it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from studio.modelcard.card import DEFAULT_LICENSE
from studio.modelcard.repo import MODEL_REPO_FILES, stage_model_repo
from studio.runs.artifacts import ModelUnavailable
from studio.runs.store import RunStore
from studio.space.export import ALLOWLIST

EXIT_NO_TOKEN = 2
EXIT_PUSH_FAILED = 1
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{8,}")


class PushError(RuntimeError):
    """A push that did not happen; `exit_code` is 2 for missing setup, 1 for a failed push."""

    def __init__(self, message: str, exit_code: int = EXIT_PUSH_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def scrub(text: str, token: str | None) -> str:
    """The text with the token (and anything shaped like an HF token) masked."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_LIKE.sub("hf_***", text)


def space_url(repo_id: str) -> str:
    return f"https://huggingface.co/spaces/{repo_id}"


def model_url(repo_id: str) -> str:
    return f"https://huggingface.co/{repo_id}"


def resolve_token(token: str | None = None) -> str:
    """The token to push with, or PushError (exit 2) saying how to provide one."""
    if token:
        return token
    from huggingface_hub import get_token

    try:
        found = get_token()
    except Exception:  # an unreadable token file or a failed OIDC exchange
        found = None
    if not found:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again",
            EXIT_NO_TOKEN,
        )
    return found


def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id or "") or ".." in repo_id:
        raise PushError(
            f"{repo_id!r} is not a Hub repository name: expected USER/NAME (letters, digits, "
            "'-', '_', '.')",
            EXIT_NO_TOKEN,
        )
    return repo_id


def _explain(err: Exception, repo_id: str) -> str:
    status = getattr(getattr(err, "response", None), "status_code", None)
    name = type(err).__name__
    if status == 401:
        return "the Hugging Face token was refused (401): check HF_TOKEN or log in again"
    if status == 403:
        return f"the token may not create or write {repo_id} (403): it needs write access"
    if status is not None:
        first = (str(err).strip().splitlines() or [name])[0]
        return f"the Hub answered {status} for {repo_id}: {first[:200]}"
    if "Offline" in name:
        return "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): nothing was pushed"
    lowered = f"{name} {err}".lower()
    if any(word in lowered for word in ("connect", "timeout", "network", "resolve", "unreachable")):
        return f"cannot reach huggingface.co ({name}): check the network and push again"
    first = (str(err).strip().splitlines() or [name])[0]
    return f"the push failed ({name}: {first[:200]})"


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    repo_type: str,
    allow_patterns: Sequence[str],
    commit_message: str,
    token: str | None = None,
    private: bool | None = None,
    **create: str,
) -> None:
    """Create (or reuse) the repository and upload the allowed files of `folder`; every
    failure is a PushError with one scrubbed line."""
    check_repo_id(repo_id)
    token = resolve_token(token)
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **create)
        api.upload_folder(
            repo_id=repo_id,
            repo_type=repo_type,
            folder_path=str(folder),
            allow_patterns=list(allow_patterns),
            ignore_patterns=[".*", "**/.*"],
            commit_message=commit_message,
        )
    except Exception as err:
        # `from None`: the original exception (and any request it carries) stays unprinted.
        raise PushError(scrub(_explain(err, repo_id), token)) from None


def push_space(
    folder: Path, repo_id: str, *, token: str | None = None, private: bool | None = None
) -> str:
    """Create (or reuse) the Space `repo_id` and upload the export; returns the Space URL."""
    folder = Path(folder)
    check_repo_id(repo_id)
    if not (folder / "app.py").is_file() or not (folder / "labels.json").is_file():
        raise PushError(f"{folder} is not a Space export (run `python -m studio space` first)", 2)
    token = resolve_token(token)
    _name_the_space(folder, repo_id)
    push_folder(
        folder,
        repo_id,
        repo_type="space",
        space_sdk="gradio",
        allow_patterns=ALLOWLIST,
        commit_message="Upload a Vision Transformer demo exported from ViT Studio",
        token=token,
        private=private,
    )
    return space_url(repo_id)


def push_model(
    store: RunStore,
    run_id: str,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    license: str = DEFAULT_LICENSE,
) -> str:
    """Upload a completed run as the model repository `repo_id` (model.keras, config.json,
    labels.json, the model card and its images, evaluation.json); returns its URL.

    The repository is staged in a temporary folder (hard links where possible) and removed
    after; a run without a usable model is a PushError (exit 2) saying why."""
    check_repo_id(repo_id)
    token = resolve_token(token)
    with tempfile.TemporaryDirectory(prefix="vit-studio-model-") as tmp:
        try:
            stage_model_repo(store, run_id, Path(tmp), license=license, repo_id=repo_id)
        except ModelUnavailable as err:
            raise PushError(str(err), 2) from None
        push_folder(
            Path(tmp),
            repo_id,
            repo_type="model",
            allow_patterns=MODEL_REPO_FILES,
            commit_message=f"Upload run {store.resolve(run_id)} from ViT Studio",
            token=token,
            private=private,
        )
    return model_url(repo_id)


def _name_the_space(folder: Path, repo_id: str) -> None:
    """An export made before the Space had a name says USER/NAME in its snippet: fill it in."""
    readme = folder / "README.md"
    if readme.is_file():
        text = readme.read_text()
        if 'Client("USER/NAME")' in text:
            readme.write_text(text.replace('Client("USER/NAME")', f'Client("{repo_id}")'))
