"""`voxstudio publish | push-dataset | export` as a user runs them: real subprocesses, real HTTP to the local
Hub-compatible server, tiny trained runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hubserver import HubServer, hub_server  # noqa: F401 - fixture
from support_runs import finished_runs, runs_home  # noqa: F401 - fixtures

from voxstudio.publish import card, export

ROOT = __import__("conftest").ROOT
TRAINING_STATE = ("optimizer", "scheduler", "rng_state", "trainer_state", "training_args", "checkpoint")

pytestmark = pytest.mark.slow  # trains tiny runs (once per session) and runs subprocesses


def cli(*argv, token: str | None = HubServer.WRITE_TOKEN, endpoint: str | None = None, home=None):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update(PYTHONPATH=str(ROOT), VOXSTUDIO_HUB_BACKOFF_S="0.05", OMP_NUM_THREADS="2")
    if home is not None:
        env["VOXSTUDIO_HOME"] = str(home)
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "voxstudio", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def test_publish_adapter_private_by_default(runs_home, hub_server, tmp_path):  # noqa: F811
    done = cli("publish", "--run", "pub-lora", "--repo", "tess-voice", "--licence", "apache-2.0",
               endpoint=hub_server.endpoint)
    assert done.returncode == 0, done.stderr
    assert f"{hub_server.endpoint}/alice/tess-voice (private" in done.stdout
    repo = hub_server.repo("alice/tess-voice")
    assert repo.private and [c.message for c in repo.commits[1:]] == ["Upload adapter of voxstudio run pub-lora"]
    pushed = hub_server.files("alice/tess-voice")
    # Exactly what `voxstudio export` writes for the same run and repo, byte for byte.
    local = export.export_run("pub-lora", tmp_path / "same", repo_id="alice/tess-voice", licence="apache-2.0")
    assert pushed == {name: (local / name).read_bytes() for name, _ in export.list_upload(local)}
    assert pushed["adapter_model.safetensors"] == (runs_home.lora / "output/adapter_model.safetensors").read_bytes()
    sent_paths = [r.path for r in hub_server.requests] + [p for p in pushed]
    assert not [p for p in sent_paths if any(bad in p for bad in TRAINING_STATE)]
    meta = card.parse_front_matter(pushed["README.md"].decode())
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "automatic-speech-recognition"
    assert meta["model-index"][0]["name"] == "alice/tess-voice"


def test_publish_merged_public_with_dataset(runs_home, hub_server, tmp_path):  # noqa: F811
    from huggingface_hub import snapshot_download
    from transformers import VoxtralForConditionalGeneration

    assert cli("dataset", "consent", "pub-voice", "--speaker", "Tess", "--public").returncode == 0
    done = cli("publish", "--run", "pub-lora", "--repo", "tess-merged", "--merge", "--public", "--with-dataset",
               "--licence", "apache-2.0", "--data-licence", "cc-by-4.0", endpoint=hub_server.endpoint)
    assert done.returncode == 0, done.stderr
    assert not hub_server.repo("alice/tess-merged").private
    data = hub_server.repo("alice/tess-merged-data", "dataset")
    assert not data.private and "data/train-00000-of-00001.parquet" in hub_server.files(data.repo_id, "dataset")
    pushed = hub_server.files("alice/tess-merged")
    meta = card.parse_front_matter(pushed["README.md"].decode())
    assert meta["datasets"] == ["alice/tess-merged-data"] and meta["library_name"] == "transformers"
    assert "adapter_config.json" not in pushed
    # Anyone can download it from the Hub and load it as a plain Voxtral model.
    folder = snapshot_download("alice/tess-merged", endpoint=hub_server.endpoint, cache_dir=tmp_path / "hf")
    model = VoxtralForConditionalGeneration.from_pretrained(folder)
    assert model.config.model_type == "voxtral"


def test_push_dataset_and_export_commands(runs_home, hub_server, tmp_path):  # noqa: F811
    assert cli("dataset", "consent", "pub-voice", "--speaker", "Tess").returncode == 0
    done = cli("push-dataset", "pub-voice", "--repo", "team/voices", "--licence", "cc0-1.0",
               endpoint=hub_server.endpoint)
    assert done.returncode == 0, done.stderr
    assert "team/voices (private" in done.stdout
    assert hub_server.repo("team/voices", "dataset").private
    done = cli("export", "--run", "pub-full", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "model.safetensors" in done.stdout and "README.md" in done.stdout
    assert (tmp_path / "out" / "model.safetensors").exists()


def test_cli_errors_are_clear_and_change_nothing(runs_home, hub_server):  # noqa: F811
    lic = ("--licence", "apache-2.0")
    no_token = cli("publish", "--run", "pub-lora", "--repo", "x", *lic, token=None, endpoint=hub_server.endpoint)
    assert no_token.returncode == 1 and "Set HF_TOKEN" in no_token.stderr
    bad = cli("publish", "--run", "pub-lora", "--repo", "x", *lic, token="hf_wrong000000000000000000",
              endpoint=hub_server.endpoint)
    assert bad.returncode == 1 and "token was refused" in bad.stderr and "hf_wrong" not in bad.stderr
    read_only = cli("publish", "--run", "pub-lora", "--repo", "x", *lic, token=HubServer.READ_TOKEN,
                    endpoint=hub_server.endpoint)
    assert read_only.returncode == 1 and "can only read" in read_only.stderr
    missing = cli("publish", "--run", "nope", "--repo", "x", *lic, endpoint=hub_server.endpoint)
    assert missing.returncode == 1 and "No run named 'nope'" in missing.stderr
    assert "Traceback" not in no_token.stderr + bad.stderr + read_only.stderr + missing.stderr
    assert not hub_server.repos  # nothing was created on the Hub
    flag = cli("publish", "--run", "pub-lora", "--repo", "x", "--token", "abc", endpoint=hub_server.endpoint)
    assert flag.returncode == 2  # there is no token flag
