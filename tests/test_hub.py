"""voxstudio.publish.hub against the local Hub-compatible server, through the real HfApi over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hubserver import HubServer, hub_server  # noqa: F401 - fixture

from voxstudio.publish import card, hub

ROOT = Path(__file__).resolve().parent.parent
WRITE, READ = HubServer.WRITE_TOKEN, HubServer.READ_TOKEN


@pytest.fixture
def hub_env(hub_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    monkeypatch.setenv(hub.BACKOFF_ENV, "0.05")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub_server


def make_folder(root: Path) -> dict[str, bytes]:
    files = {
        "README.md": card.render_model_card(facts=_facts(), artifact="adapter").encode(),
        "adapter_config.json": b'{"r": 16}\n',
        "adapter_model.safetensors": os.urandom(300_000),
        "tokenizer/tekken.json": "{\"vocab\": \"é ü 中\"}".encode(),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def _facts() -> dict:
    from test_card import FACTS

    return FACTS


def test_push_folder_arrives_byte_exact_private_in_one_commit(hub_env, tmp_path):
    files = make_folder(tmp_path / "out")
    steps = []
    result = hub.push_folder(tmp_path / "out", "fr-voice", WRITE, message="Upload adapter of run fr-voice-1",
                             progress=lambda f, text: steps.append(f))
    assert result.repo_id == "alice/fr-voice" and result.private is True
    assert result.url == f"{hub_env.endpoint}/alice/fr-voice"
    assert hub_env.files("alice/fr-voice") == files
    repo = hub_env.repo("alice/fr-voice")
    assert repo.private and [c.message for c in repo.commits[1:]] == ["Upload adapter of run fr-voice-1"]
    assert steps == sorted(steps) and steps[-1] == 1.0
    # The Hub reads the card's metadata: what the model page would show.
    from huggingface_hub import HfApi

    info = HfApi(endpoint=hub_env.endpoint, token=WRITE).model_info("alice/fr-voice")
    assert info.card_data.library_name == "peft" and info.pipeline_tag == "automatic-speech-recognition"
    assert info.card_data.base_model == "mistralai/Voxtral-Mini-3B-2507"


def test_public_push_and_rerun_adds_nothing(hub_env, tmp_path):
    make_folder(tmp_path / "out")
    first = hub.push_folder(tmp_path / "out", "alice/pub", WRITE, private=False)
    assert first.private is False and hub_env.repo("alice/pub").private is False
    again = hub.push_folder(tmp_path / "out", "alice/pub", WRITE, private=False)
    assert again.commit_oid == first.commit_oid  # unchanged files are not committed twice
    assert len(hub_env.repo("alice/pub").commits) == 2


def test_whoami_and_repo_names(hub_env):
    assert hub.whoami(WRITE) == "alice"
    assert hub.resolve_repo_id("my-voice", WRITE) == "alice/my-voice"
    assert hub.resolve_repo_id("team/my-voice", WRITE) == "team/my-voice"
    with pytest.raises(ValueError, match="not valid"):
        hub.resolve_repo_id("bad name!", WRITE)


@pytest.mark.parametrize("token, repo, expected", [
    ("hf_not_a_real_token_000000000000", "x", "token was refused"),
    (READ, "x", "can only read"),
    ("", "x", "No Hugging Face token"),
    (WRITE, "bob/x", "'bob' is not your account"),
    (WRITE, "team/taken", "taken by a repository you can't write to"),
])
def test_errors_are_one_clear_sentence(hub_env, tmp_path, token, repo, expected):
    hub_env.add_repo("team/taken", owner="carol", private=True, files={"README.md": b"carol's"})
    make_folder(tmp_path / "out")
    with pytest.raises(hub.HubError) as err:
        hub.push_folder(tmp_path / "out", repo, token)
    message = str(err.value)
    assert expected in message and message.count(". ") == 0 and message.endswith(".")
    assert (token or "@@") not in message
    assert hub_env.files("team/taken") == {"README.md": b"carol's"}  # nothing of someone else's changed


def test_server_down_is_a_clear_sentence(monkeypatch, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv(hub.BACKOFF_ENV, "0.01")
    make_folder(tmp_path / "out")
    with pytest.raises(hub.HubError, match="Could not reach the Hugging Face Hub"):
        hub.push_folder(tmp_path / "out", "x", WRITE)


def test_the_bounded_token_check_starts_no_retry_after_its_budget(monkeypatch):
    import threading

    with socket.socket() as s:  # refused at once: retried with the real backoff (1 s, 2 s, 4 s, 8 s)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv(hub.BACKOFF_ENV, raising=False)
    with pytest.raises(hub.HubError) as err:
        hub.account_within(WRITE, budget_s=3.0)  # one retry fits (1 s); the next (2 s more) would end past 3 s
    assert str(err.value) == (f"Could not reach the Hugging Face Hub at http://127.0.0.1:{port} to check your "
                              "token: check your internet connection and try again (nothing was lost).")
    assert not [t for t in threading.enumerate() if t.name == "hub-whoami"]  # nothing goes on retrying behind


def test_transient_failures_are_retried(hub_env, tmp_path):
    files = make_folder(tmp_path / "out")
    hub_env.fail_next("whoami", 1, status=502)
    hub_env.fail_next("create", 2, status=503)
    hub_env.fail_next("commit", 1, status=503)
    result = hub.push_folder(tmp_path / "out", "retry", WRITE)
    assert hub_env.files(result.repo_id) == files
    commits = [r for r in hub_env.requests if r.path.endswith("/commit/main")]
    assert len(commits) == 2 and len(hub_env.repo("alice/retry").commits) == 2  # one failed, one applied


def test_interrupted_push_can_be_rerun_and_ends_complete(hub_env, tmp_path):
    """A push killed while its commit is in flight leaves nothing half-done; running it again completes."""
    files = make_folder(tmp_path / "out")
    hub_env.hang_next("commit")
    env = {**os.environ, "HF_TOKEN": WRITE, "HF_ENDPOINT": hub_env.endpoint}
    code = ("import os, sys; from voxstudio.publish import hub; "
            "hub.push_folder(sys.argv[1], 'cut', os.environ['HF_TOKEN'])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not any(r.path.endswith("/commit/main") for r in hub_env.requests):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the push never reached its commit"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
        hub_env.hang_released.set()
    assert hub_env.files("alice/cut") == {}  # created, but the cut commit was never applied
    result = hub.push_folder(tmp_path / "out", "cut", WRITE)
    assert hub_env.files(result.repo_id) == files


def test_push_dataset_with_audio_column_and_card(hub_env, home, clips, tmp_path):
    import datasets

    from voxstudio.data.dataset import Dataset

    ds = Dataset.create("my-voice", languages=["fr"], speaker="Alice",
                        consent={"given": True, "speaker": "Alice", "statement": "I agree.",
                                 "given_at": "2026-11-20T10:00:00+00:00"})
    for row in [r for r in clips if r["language"] == "fr"]:
        ds.add_clip(row["path"], row["text"], language="fr")
    with pytest.raises(ValueError, match="licence"):  # nothing is chosen for the user ...
        hub.push_dataset("my-voice", "my-voice-data", WRITE)
    with pytest.raises(ValueError, match="no consent to publish"):  # ... and recording consent is not enough
        hub.push_dataset("my-voice", "my-voice-data", WRITE, licence="cc-by-4.0")
    assert not hub_env.repos
    ds.consent_to_publish("Alice", public=False)
    result = hub.push_dataset("my-voice", "my-voice-data", WRITE, licence="cc-by-4.0")
    assert result.repo_type == "dataset" and result.private is True
    pushed = hub_env.files("alice/my-voice-data", "dataset")
    assert set(pushed) == {"README.md", "data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
    meta = card.parse_front_matter(pushed["README.md"].decode())
    assert meta["language"] == ["fr"] and meta["license"] == "cc-by-4.0"
    assert "Alice gave consent on 2026-11-20" in pushed["README.md"].decode()
    rows = []
    for split in ("train", "test"):
        path = tmp_path / f"{split}.parquet"
        path.write_bytes(pushed[f"data/{split}-00000-of-00001.parquet"])
        part = datasets.Dataset.from_parquet(str(path))
        assert isinstance(part.features["audio"], datasets.Audio)
        rows += part.cast_column("audio", datasets.Audio(decode=False)).to_list()
    on_disk = {c.text: ds.audio_path(c).read_bytes() for c in ds.clips()}
    assert len(rows) == len(on_disk) == 7
    assert all(row["audio"]["bytes"] == on_disk[row["text"]] for row in rows)


def test_fine_grained_token_without_write_access(hub_env, tmp_path):
    from hubserver import Token

    hub_env.tokens["hf_fineGRAINED000000000000000000"] = Token("alice", "fineGrained")
    make_folder(tmp_path / "out")
    with pytest.raises(hub.HubError, match="fine-grained token may not write to 'alice/x'"):
        hub.push_folder(tmp_path / "out", "x", "hf_fineGRAINED000000000000000000")
