"""Push to the Hugging Face Hub: an exported Space folder, or a run's model repository.

The token comes from the caller (the Demo page's password field), else HF_TOKEN, else the
login cached by `hf auth login`. It is never printed, logged, written to a file or put in an
error message: every message that leaves this module is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from studio.modelcard.card import DEFAULT_LICENSE
from studio.modelcard.repo import MODEL_REPO_FILES, stage_model_repo
from studio.runs.artifacts import ModelUnavailable
from studio.runs.store import RunStore
from studio.space import hub_http
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
    """The text with the token (as given, stripped, or escaped in a repr) and anything shaped
    like an HF token masked."""
    if token:
        for form in sorted({token, token.strip(), repr(token)[1:-1]} - {""}, key=len)[::-1]:
            text = text.replace(form, "***")
    return _TOKEN_LIKE.sub("hf_***", text)


def space_url(repo_id: str) -> str:
    return f"https://huggingface.co/spaces/{repo_id}"


def model_url(repo_id: str) -> str:
    return f"https://huggingface.co/{repo_id}"


def resolve_token(token: str | None = None) -> str:
    """The token to push with, or PushError (exit 2) saying how to provide one."""
    if token and token.strip():
        return token.strip()  # a pasted token often brings a newline or a space with it
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
    return found.strip()


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if it is a USER/NAME the Hub accepts, else PushError (exit 2)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    valid = isinstance(repo_id, str) and bool(_REPO_ID.fullmatch(repo_id))
    if valid:
        try:
            validate_repo_id(repo_id)  # the Hub's own rules: no '--' or '..', no '.git' ending
        except HFValidationError:
            valid = False
    if not valid or repo_id.split("/")[1][-1] in "-.":
        shown = repr(repo_id)[:100]
        raise PushError(
            f"{shown} is not a Hub repository name: expected USER/NAME (letters, digits, "
            "'-', '_', '.'; no '--' or '..'; not ending in '-', '.' or '.git')",
            EXIT_NO_TOKEN,
        )
    return repo_id


def _chain(err: BaseException) -> list[BaseException]:
    """`err` and the exceptions it was raised from or during."""
    found: list[BaseException] = []
    while err is not None and err not in found:
        found.append(err)
        err = err.__cause__ or err.__context__
    return found


def _explain(err: Exception, repo_id: str) -> str:
    host, again = hub_http.host(), "nothing was lost, and pushing again is safe"
    chain = _chain(err)
    gave_up = next((e for e in chain if isinstance(e, hub_http.HubGaveUp)), None)
    if gave_up is not None:
        return f"{gave_up}: try again later; {again}"
    status = getattr(getattr(err, "response", None), "status_code", None)
    name = type(err).__name__
    said = getattr(err, "server_message", None) or str(err)
    first = (said.strip().splitlines() or [name])[0][:200]
    if status == 401:
        return "the Hugging Face token was refused (401): check HF_TOKEN or log in again"
    if status == 403:
        return f"the token may not create or write {repo_id} (403): it needs write access"
    if status == 404:
        return (
            f"{host} found no {repo_id} (404): check the user or organisation name (and "
            "HF_ENDPOINT, if set)"
        )
    if status == 429:
        return f"{host} is limiting this token's requests (429): wait a few minutes; {again}"
    if status is not None and status >= 500:
        return f"{host} failed ({status}) for {repo_id}: try again later; {again}"
    if status is not None:
        return f"the Hub answered {status} for {repo_id}: {first}"
    if any("Offline" in type(e).__name__ for e in chain):
        return "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): nothing was pushed"
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in chain):
        seconds = hub_http.timeout_s()
        return (
            f"{host} did not answer within {seconds:g} s ({name}): check the network and push "
            f"again; {again}"
        )
    lowered = f"{name} {err}".lower()
    if any(word in lowered for word in ("connect", "timeout", "network", "resolve", "unreachable")):
        return f"cannot reach {host} ({name}): check the network and push again"
    return f"the push failed ({name}: {first})"


@contextlib.contextmanager
def _quiet_library() -> Iterator[None]:
    """huggingface_hub logs each retry as a warning; the push says what happened in one line."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


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

    hub_http.install()
    try:
        # Both calls may be repeated after any failure: create_repo with exist_ok, and an
        # upload of the same files is a commit the Hub takes again (or finds empty).
        with _quiet_library():
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
    except Exception as err:  # every failure becomes one scrubbed line
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
    # The upload follows links: a file linked in after the export would be published.
    links = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_symlink())
    if links:
        raise PushError(
            f"{folder} holds links ({', '.join(links[:3])}), which an export never writes: "
            "export the run again into a new folder, then push",
            2,
        )
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
