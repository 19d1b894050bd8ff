"""Sharing, the web side: pushes to a Hub that hangs, fails, refuses or echoes the token.

The Hub is a real HTTP server on 127.0.0.1 (tests/helpers/hub_server.py) or a socket that
accepts and never answers; huggingface_hub talks to it for real, through the studio's
bounded client (studio/space/hub_http.py). Requests time out after 1 s here.
"""

from __future__ import annotations

import socket

import pytest

from studio.runs.store import RunStore
from studio.space import hub_http
from studio.space.push import PushError, check_repo_id, push_folder
from tests.helpers.finished_run import finished_run
from tests.helpers.hub_server import Fault, fake_hub_server, point_hub_at

# Servers on threads and requests left to time out: out of the fast tiers.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

TOKEN = "hf_FakeTokenForFaultTests0123456789"
REPO = "someone/digits-vit"
REPO_FILES = {"README.md", "config.json", "labels.json", "evaluation.json", "model.keras"}


@pytest.fixture
def run_id(studio_home):
    run, _ = finished_run(RunStore(studio_home))
    return run.id


@pytest.fixture
def folder(tmp_path):
    """A small folder to push (no card to render)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# a model\n")
    (folder / "model.keras").write_bytes(bytes(range(256)) * 4)
    return folder


def _push_folder(folder, repo=REPO, token=None):
    """push_folder's error line ('' when it pushed)."""
    try:
        push_folder(
            folder, repo, repo_type="model", allow_patterns=["*"], commit_message="m", token=token
        )
    except PushError as err:
        text = str(err)
        assert TOKEN not in text and TOKEN[3:] not in text and "\n" not in text
        return text
    return ""


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv(hub_http.TIMEOUT_ENV, "1")
    with fake_hub_server() as (endpoint, state):
        point_hub_at(monkeypatch, endpoint, tmp_path)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield state


def _push(run_cli, run_id, repo=REPO):
    code, out, err = run_cli("card", run_id, "--push", repo)
    assert "Traceback" not in err and TOKEN not in out + err and TOKEN[3:] not in out + err
    return code, out, err.strip()


def _one_line(err: str) -> bool:
    return bool(err) and "\n" not in err


def test_a_hub_that_accepts_and_never_answers_gives_one_line_within_the_timeout(
    monkeypatch, tmp_path, run_cli, run_id
):
    """The case of the issue: before, `card --push` / `space --push` waited forever."""
    monkeypatch.setenv(hub_http.TIMEOUT_ENV, "1")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel accepts; nobody ever reads or answers
    try:
        point_hub_at(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}", tmp_path)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        code, _, err = _push(run_cli, run_id)
    finally:
        silent.close()
    assert code == 1 and _one_line(err)
    assert "did not answer within 1 s" in err and "pushing again is safe" in err


def test_an_upload_cut_off_mid_commit_is_retried_to_the_same_repository(
    hub, monkeypatch, run_cli, run_id
):
    monkeypatch.setattr(hub_http, "MAX_ATTEMPTS", 2)  # the same path, half the waiting
    hub.faults["commit"] = Fault(status=None)  # the files are sent, the answer never comes
    code, _, err = _push(run_cli, run_id)
    assert code == 1 and _one_line(err) and "did not answer within 1 s" in err
    assert "2 tries" in err and hub.commits == 0
    hub.faults.clear()
    code, out, err = _push(run_cli, run_id)
    assert code == 0, err
    assert f"/{REPO}" in out
    assert hub.created == [REPO] and hub.commits == 1  # created once, committed once
    assert set(hub.repos[REPO]) >= REPO_FILES
    first = dict(hub.repos[REPO])
    assert _push(run_cli, run_id)[0] == 0  # and once more: the same repository, same files
    assert hub.created == [REPO] and hub.repos[REPO] == first


def test_a_passing_server_error_is_retried_by_the_library(hub, folder):
    hub.faults["commit"] = Fault(status=503, times=1)
    assert _push_folder(folder) == ""
    assert hub.requests.count("POST commit") == 2 and hub.commits == 1


def test_a_hub_that_keeps_failing_stops_after_three_tries(hub, folder):
    hub.faults["preupload"] = Fault(status=502)
    err = _push_folder(folder)
    assert "kept answering 502" in err and "3 tries" in err and "pushing again is safe" in err
    assert hub.requests.count("POST preupload") == 3


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (401, "token was refused (401)"),
        (403, f"may not create or write {REPO} (403)"),
        (404, f"found no {REPO} (404)"),
        (429, "limiting this token's requests (429)"),
        (500, "failed (500)"),
        (418, "answered 418"),
    ],
)
def test_each_refusal_of_the_hub_is_one_line_saying_what_to_do(hub, folder, status, phrase):
    hub.faults["create"] = Fault(status=status)
    hub.faults["info"] = Fault(status=status)  # after a 401/403, the library asks for the repo
    assert phrase in _push_folder(folder)


def test_a_token_echoed_by_the_hub_is_masked(hub, folder):
    hub.faults["create"] = Fault(status=400, body=f'{{"error": "bad token {TOKEN} ({TOKEN!r})"}}')
    err = _push_folder(folder)
    assert "answered 400" in err and "***" in err


def test_a_pasted_token_with_a_newline_is_used_without_it(hub, folder):
    assert _push_folder(folder, token=f"  {TOKEN}\n") == ""
    assert all(a == f"Bearer {TOKEN}" for a in hub.authorizations if a)


def test_offline_mode_pushes_nothing_and_says_why(hub, monkeypatch, folder):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "offline mode" in _push_folder(folder)
    assert hub.requests == []


def test_every_request_gets_a_timeout_even_when_the_library_asks_for_none(hub, folder):
    """After a 403, create_repo asks for the repository with timeout=None: still bounded."""
    hub.faults["create"] = Fault(status=403)
    hub.faults["info"] = Fault(status=None)
    assert "did not answer within 1 s" in _push_folder(folder)
    assert hub.requests[-1] == "GET info"


@pytest.mark.parametrize(
    "repo",
    [
        "../etc/passwd",
        "someone/../other",
        "someone/a/b",
        "someone/x\n",
        "someone/x?y=1",
        "someone/x#y",
        "%2e%2e/x",
        "someone/x--y",
        "someone/x.git",
        "someone/x-",
        "someone/digits\u2010vit",
        "/x",
        "x",
        "someone/" + "x" * 97,
    ],
)
def test_a_repository_name_that_is_not_user_slash_name_is_refused_before_any_request(
    hub, folder, repo
):
    with pytest.raises(PushError) as raised:
        check_repo_id(repo)
    assert raised.value.exit_code == 2 and "USER/NAME" in str(raised.value)
    assert "USER/NAME" in _push_folder(folder, repo) and hub.requests == []
