"""Preflight of the base model: a run that cannot load its model is refused before it takes the queue.

Real ``huggingface_hub`` calls against the local Hub-compatible server (tests/hubserver.py) and a real Hub cache
written by ``hf_hub_download``; nothing is mocked.
"""

from __future__ import annotations

import pytest
from hubserver import hub_server  # noqa: F401 - fixture
from huggingface_hub import HfApi, constants, hf_hub_download

from voxstudio.runs import preflight

REPO = "alice/voxtral-copy"


@pytest.fixture
def hub_with_model(hub_server, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.WRITE_TOKEN)
    api.create_repo(REPO, private=False)
    api.upload_file(path_or_fileobj=b'{"model_type": "voxtral"}', path_in_repo="config.json", repo_id=REPO)
    return hub_server


def test_tiny_and_a_local_model_folder_pass(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert preflight.model_problem("tiny") is None
    assert preflight.model_problem(str(tmp_path / "model")) is None


def test_a_missing_or_empty_folder_is_one_sentence(tmp_path):
    missing = preflight.model_problem(str(tmp_path / "nope"))
    assert missing.startswith(f"There is no model folder at '{tmp_path / 'nope'}'")
    (tmp_path / "empty").mkdir()
    assert "config.json is missing" in preflight.model_problem(str(tmp_path / "empty"))


def test_a_hub_model_that_exists_passes_and_an_unknown_one_is_named(hub_with_model):
    assert preflight.model_problem(REPO) is None
    problem = preflight.model_problem("alice/no-such-model")
    assert problem.startswith("There is no model alice/no-such-model on the Hub")


def test_offline_without_the_model_in_cache_says_hf_download(hub_with_model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    problem = preflight.model_problem(REPO)
    assert "offline (HF_HUB_OFFLINE=1)" in problem and f"`hf download {REPO}`" in problem
    assert "huggingface-cli" not in problem  # the venv has `hf`, not the old command


def test_a_cached_model_passes_offline(hub_with_model, monkeypatch):
    hf_hub_download(REPO, "config.json", endpoint=hub_with_model.endpoint)  # the real cache layout
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert preflight.in_hub_cache(REPO)
    assert preflight.model_problem(REPO) is None


def test_an_unreachable_hub_is_refused_at_once(hub_with_model, monkeypatch):
    hub_with_model.stop()
    problem = preflight.model_problem(REPO)
    assert "cannot be reached" in problem and f"`hf download {REPO}`" in problem
