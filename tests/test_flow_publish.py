"""The whole publishing flow with the tiny model: a real training run (memorising its clips) -> export ->
push to the (local) Hub -> deploy the demo Space -> the Space, rebuilt from what the Hub holds and started as
the Space runtime starts it, transcribes a training clip exactly."""

from __future__ import annotations

import pytest
import support_runs
from hubserver import HubServer
from space_models import launch_space_app, space_env

from voxstudio.publish import export, hub, space

pytestmark = pytest.mark.slow

finished_runs = support_runs.finished_runs  # fixtures: trained tiny runs (session) and a private copy
runs_home = support_runs.runs_home


@pytest.fixture
def server(monkeypatch):
    with HubServer() as hub_server:
        monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield hub_server


def test_train_export_publish_deploy_and_the_demo_transcribes_a_training_clip(runs_home, server, tmp_path):
    # export: exactly the folder that is pushed
    folder = export.export_run(runs_home.full.name, tmp_path / "export")
    names = {p.name for p in folder.iterdir()}
    assert {"README.md", "config.json", "model.safetensors"} <= names

    # publish (private by default) and deploy with a read token for the Space
    pushed = hub.push_folder(folder, "my-voice", HubServer.WRITE_TOKEN)
    assert pushed.repo_id == "alice/my-voice" and pushed.private
    url = space.deploy_demo("my-voice", "my-voice-demo", HubServer.WRITE_TOKEN, read_token=HubServer.READ_TOKEN)
    assert url == f"{server.endpoint}/spaces/alice/my-voice-demo"

    # the Space as the Hub holds it: its files, its variables and secrets
    space_dir = tmp_path / "space"
    space_dir.mkdir()
    for name, data in server.files("alice/my-voice-demo", "space").items():
        (space_dir / name).write_bytes(data)
    repo = server.repo("alice/my-voice-demo", "space")
    env = space_env(server, space_dir, {k: v["value"] for k, v in repo.variables.items()},
                    {k: v["value"] for k, v in repo.secrets.items()})
    assert env["HF_TOKEN"] == HubServer.READ_TOKEN

    text, wav = sorted(runs_home.train_texts.items())[0]
    proc, app_url = launch_space_app(space_dir, env)
    try:
        from gradio_client import Client, handle_file

        client = Client(app_url, verbose=False)
        transcript, details = client.predict(handle_file(wav), "en", api_name="/transcribe")
        auto, _ = client.predict(handle_file(wav), "auto", api_name="/transcribe")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert transcript == text, f"the demo said {transcript!r} for a training clip of {text!r}"
    assert "of audio transcribed" in details
    # auto mode: the model writes its own `lang:xx[TRANSCRIBE]`; the Space shows only the text after it
    assert auto and "lang:" not in auto and "[TRANSCRIBE]" not in auto
