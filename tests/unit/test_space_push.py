"""`python -m studio space RUN OUT --push USER/NAME`: huggingface_hub calls, clear failures,
and a token that never shows up in output, errors or files. No request leaves this machine:
HfApi is replaced, and HF_ENDPOINT points at a closed port in case anything slips through.
"""

from __future__ import annotations

import httpx
import pytest

from studio.inference.examples import write_examples
from studio.runs.store import RunStore
from studio.space import push as push_module
from studio.space.export import ALLOWLIST, folder_files
from tests.helpers.fake_hub import install_fake_hub
from tests.helpers.sample_run import make_sample_run

TOKEN = "hf_ThisIsASecretTokenValue1234567890"


@pytest.fixture(scope="module")
def run_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("push-home")
    store = RunStore(home)
    run = make_sample_run(store)
    write_examples(store, run.id)  # in-process, so the export needs no subprocess for them
    return home, run.id


@pytest.fixture
def cli(run_home, monkeypatch, run_cli, tmp_path):
    home, run_id = run_home
    monkeypatch.setenv("STUDIO_HOME", str(home))

    def run(*extra: str, out=None) -> tuple[int, str, str]:
        folder = out or tmp_path / "space"
        return run_cli("space", run_id, str(folder), "--overwrite", *extra)

    return run


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    return install_fake_hub(monkeypatch, tmp_path)


def _leaks(text: str) -> bool:
    return TOKEN in text or TOKEN[3:] in text


def _files_leak(folder) -> bool:
    return any(_leaks((folder / f).read_bytes().decode("latin-1")) for f in folder_files(folder))


def test_without_a_token_the_export_stays_and_one_line_says_how_to_log_in(cli, fake_hub, tmp_path):
    code, out, err = cli("--push", "someone/digits-vit")
    assert code == 2
    assert "exported" in out
    assert err.strip().count("\n") == 0 and "no Hugging Face token" in err
    assert "HF_TOKEN" in err and "hf auth login" in err
    assert fake_hub.calls == []


def test_a_push_creates_a_gradio_space_and_uploads_only_the_allowlist(
    cli, fake_hub, monkeypatch, tmp_path
):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, out, err = cli("--push", "someone/digits-vit", "--private")
    assert code == 0, err
    assert "https://huggingface.co/spaces/someone/digits-vit" in out
    assert not _leaks(out + err)
    kinds = [c[0] for c in fake_hub.calls]
    assert kinds == ["init", "create_repo", "upload_folder"]
    assert fake_hub.calls[0][1] == TOKEN  # handed to the client, and nowhere else
    _, repo_id, options = fake_hub.calls[1]
    assert repo_id == "someone/digits-vit"
    assert options["repo_type"] == "space" and options["space_sdk"] == "gradio"
    assert options["private"] is True and options["exist_ok"] is True
    upload = fake_hub.calls[2][1]
    assert upload["repo_type"] == "space" and upload["repo_id"] == "someone/digits-vit"
    assert upload["allow_patterns"] == list(ALLOWLIST)
    assert not _files_leak(tmp_path / "space")


@pytest.mark.parametrize(
    ("error", "phrase", "code"),
    [
        (httpx.ConnectError(f"cannot connect (Authorization: Bearer {TOKEN})"), "cannot reach", 1),
        (OSError(f"[Errno 101] Network is unreachable token={TOKEN}"), "cannot reach", 1),
    ],
)
def test_network_failures_give_one_clear_line_without_the_token(
    cli, fake_hub, monkeypatch, tmp_path, error, phrase, code
):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    fake_hub.error = error
    status, out, err = cli("--push", "someone/digits-vit")
    assert status == code
    assert phrase in err and err.strip().count("\n") == 0
    assert not _leaks(out + err) and "Traceback" not in err
    assert not _files_leak(tmp_path / "space")


def test_a_refused_token_is_reported_without_echoing_it(cli, fake_hub, monkeypatch):
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx.Response(401, request=httpx.Request("POST", "http://127.0.0.1:9/api"))
    fake_hub.error = HfHubHTTPError(f"401 Unauthorized for token {TOKEN}", response=response)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, out, err = cli("--push", "someone/digits-vit")
    assert code == 1 and "refused (401)" in err and not _leaks(out + err)


def test_a_bad_space_name_is_refused_before_anything_is_written(cli, fake_hub, tmp_path):
    code, _, err = cli("--push", "not a repo", out=tmp_path / "never")
    assert code == 2 and "USER/NAME" in err
    assert not (tmp_path / "never").exists() and fake_hub.calls == []


def test_scrub_masks_the_token_and_token_shaped_strings():
    text = f"failed with {TOKEN} and hf_OtherLooking1234567 too"
    assert push_module.scrub(text, TOKEN) == "failed with *** and hf_*** too"
