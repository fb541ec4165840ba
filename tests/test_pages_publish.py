"""Pages 6 (Publish) and 7 (Try) through Streamlit's AppTest: empty workspace, finished runs, a real push and
Space deploy against the local Hub server, and a real clip transcribed by the base and fine-tuned models."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import support_runs
from apptest_support import button, open_app, open_page, rerun, texts
from hubserver import HubServer

from voxstudio.publish import hub as hubmod
from voxstudio.publish import space

finished_runs = support_runs.finished_runs  # fixtures: trained tiny runs (session) and a private copy
runs_home = support_runs.runs_home

TIMEOUT = 180


@pytest.fixture
def hub(monkeypatch):
    """A running local Hub server that the studio talks to (HF_ENDPOINT), with no ambient token."""
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("VOXSTUDIO_HUB_BACKOFF_S", "0.01")
        yield server


def page(name: str):
    """``pages/<name>`` opened on its own, with the timeout a push and a transcription need."""
    return open_page(f"pages/{name}", timeout=TIMEOUT)


# ------------------------------------------------------------------------------------------------ Publish


def test_publish_without_token_asks_for_one(home, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    at = page("6_Publish.py")
    shown = texts(at)
    assert "Pushing needs a token with **write** access" in shown
    assert "kept only for this browser tab's session" in shown and "never written to disk" in shown
    assert at.text_input(key="pub_token").proto.type == at.text_input(key="pub_token").proto.PASSWORD
    assert "No finished training run yet" in shown


def test_a_typed_token_survives_reruns_and_leaving_the_page(home, hub):
    at = open_app("pages/6_Publish.py", timeout=TIMEOUT)
    at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
    rerun(at)
    assert "Signed in as **alice**" in texts(at)
    at.switch_page("pages/7_Try.py").run()  # the token widget is not on this page: Streamlit drops its value
    at.switch_page("pages/6_Publish.py").run()
    assert at.text_input(key="pub_token").value == HubServer.WRITE_TOKEN
    assert "Signed in as **alice**" in texts(at)


def test_token_check_against_a_hub_that_does_not_answer_says_so_within_its_cap(home, monkeypatch):
    silent = socket.socket()  # listens but never accepts: the connection is made, the request never answered
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hubmod, "WHOAMI_BUDGET_S", 0.5)
    try:
        at = page("6_Publish.py")
        at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
        rerun(at)
        assert [e.value for e in at.error] == [
            f"The Hugging Face Hub at http://127.0.0.1:{port} did not answer within 0.5 s while checking your "
            "token: check your internet connection and try again (nothing was changed)."]
        assert not [w for w in at.selectbox if w.key == "pub_run"]
    finally:
        silent.close()  # the hung attempt ends with a reset


@pytest.mark.slow
def test_publish_without_token_shows_what_would_be_published(runs_home, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    at = page("6_Publish.py")
    at.selectbox(key="pub_run").select("pub-full")
    rerun(at)
    shown = texts(at)
    assert "Pushing needs a token with **write** access" in shown
    assert "WER before" in shown and "WER after" in shown and "WER measured on" in shown
    at.text_input(key="pub_repo_full").input("my-voice")
    at.selectbox(key="pub_licence").select("apache-2.0")
    rerun(at)
    button(at, "pub_prepare").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert set(table["repo"]) == {"your-name/my-voice"}
    assert {"README.md", "config.json", "model.safetensors"} <= set(table["file"])
    shown = texts(at)
    assert "placeholder namespace `your-name`" in shown
    assert "Pushing needs a write token: paste one above" in shown
    assert [e.label for e in at.expander] == ["The model card, as it will arrive on `your-name/my-voice` (README.md)"]
    assert button(at, "pub_push").disabled
    assert "apache-2.0" in next(t.value for t in at.text_area if t.key == "pub_card_model")


def test_publish_with_a_token_on_an_empty_workspace(home, hub):
    at = page("6_Publish.py")
    at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
    rerun(at)
    shown = texts(at)
    assert "Signed in as **alice**" in shown
    assert "No finished training run yet" in shown


def test_publish_with_a_bad_token_says_so_and_stops(home, hub):
    at = page("6_Publish.py")
    at.text_input(key="pub_token").input("hf_wrong_token_0000000000000000")
    rerun(at)
    assert any("token was refused" in e.value for e in at.error)
    assert not [w for w in at.selectbox if w.key == "pub_run"]


@pytest.mark.slow
def test_publish_lists_files_pushes_and_deploys(runs_home, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", HubServer.WRITE_TOKEN)  # the token comes from the environment here
    at = page("6_Publish.py")
    assert "from HF_TOKEN" in texts(at)
    at.selectbox(key="pub_run").select("pub-full")
    rerun(at)
    assert [o for o in at.radio(key="pub_artifact").options] == ["Full fine-tuned model"]
    at.text_input(key="pub_repo_full").input("my-voice")
    at.selectbox(key="pub_licence").select("apache-2.0")
    rerun(at)
    button(at, "pub_prepare").click()
    rerun(at)
    table = at.dataframe[0].value
    files = dict(zip(table["file"], table["size"]))
    assert set(table["repo"]) == {"alice/my-voice"}
    assert {"README.md", "config.json", "model.safetensors"} <= set(files)
    assert not any("optimizer" in f or "checkpoint" in f for f in files)
    assert "will be uploaded to `alice/my-voice` (private)" in texts(at)

    button(at, "pub_push").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    assert "Published: [alice/my-voice]" in texts(at)
    staged = runs_home.home / "cache" / "exports" / "pub-full-full"
    pushed = hub.files("alice/my-voice")
    assert sorted(pushed) == sorted(files)
    for name, data in pushed.items():
        assert data == (staged / name).read_bytes(), f"{name} did not arrive byte-exact"
    assert hub.repo("alice/my-voice").private

    at.selectbox(key="pub_hardware").select("cpu-upgrade")
    # the model is private: the Space needs a read token, asked before the button (never the write token)
    assert button(at, "pub_deploy").disabled
    assert not [k for k in hub.repos if k[0] == "space"]
    at.text_input(key="pub_read_token").input(HubServer.READ_TOKEN)
    rerun(at)
    button(at, "pub_deploy").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    assert f"{hub.endpoint}/spaces/alice/my-voice-demo" in texts(at)
    repo = hub.repo("alice/my-voice-demo", "space")
    assert repo.sdk == "gradio" and repo.hardware == "cpu-upgrade"
    assert sorted(hub.files("alice/my-voice-demo", "space")) == sorted(space.SPACE_FILES)
    assert repo.variables["HF_MODEL_ID"]["value"] == "alice/my-voice"
    assert {k: v["value"] for k, v in repo.secrets.items()} == {"HF_TOKEN": HubServer.READ_TOKEN}
    assert HubServer.WRITE_TOKEN.encode() not in hub.sent_bytes()
    for path in runs_home.home.rglob("*"):  # staged exports, cards, run folders: no token anywhere on disk
        if path.is_file():
            data = path.read_bytes()
            assert HubServer.WRITE_TOKEN.encode() not in data and HubServer.READ_TOKEN.encode() not in data, path


@pytest.mark.slow
def test_publish_private_model_demo_needs_a_read_token_and_dataset_push(runs_home, hub):
    at = page("6_Publish.py")
    at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
    rerun(at)
    at.selectbox(key="pub_run").select("pub-lora")
    rerun(at)
    at.radio(key="pub_artifact").set_value("adapter")
    at.toggle(key="pub_with_dataset").set_value(True)
    at.selectbox(key="pub_licence").select("apache-2.0")
    rerun(at)
    at.selectbox(key="pub_data_licence").select("cc-by-4.0")
    next(c for c in at.checkbox if c.key.startswith("pub_consent_")).check()
    rerun(at)
    button(at, "pub_prepare").click()
    rerun(at)
    button(at, "pub_push").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    assert "adapter_config.json" in hub.files("alice/pub-lora")
    assert any(p.endswith(".parquet") for p in hub.files("alice/pub-lora-data", "dataset"))
    card = hub.files("alice/pub-lora")["README.md"].decode()
    assert "alice/pub-lora-data" in card  # the card names the dataset that was pushed with it
    # an adapter on the built-in tiny base cannot run in a Space: the page says to publish the merged model
    assert any("merged model" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "pub_deploy"]
    assert not [k for k in hub.repos if k[0] == "space"]


# ------------------------------------------------------------------------------------------------ Try


def test_try_on_an_empty_workspace_points_to_training(home):
    at = page("7_Try.py")
    assert "No finished training run yet" in texts(at)


@pytest.mark.slow
def test_try_transcribes_an_uploaded_clip_with_both_models(runs_home):
    text, wav = next(iter(sorted(runs_home.train_texts.items())))
    at = page("7_Try.py")
    at.selectbox(key="try_run").select("pub-full")
    at.selectbox(key="try_language").select("en")
    rerun(at)
    at.file_uploader(key="try_upload").upload(Path(wav).name, Path(wav).read_bytes(), "audio/wav")
    rerun(at)
    button(at, "try_go").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.subheader] == ["Base model", "Fine-tuned model"]
    answers = [m.value for m in at.markdown if m.value.startswith("> ")]
    assert len(answers) == 2
    assert answers[1] == f"> {text}", "the memorising tiny run must say its training clip exactly"
    assert answers[0] != answers[1]
    assert sum(1 for c in at.caption if c.value.endswith(" s") or " s · " in c.value) >= 2  # timings


@pytest.mark.slow
def test_try_transcribes_a_recording(runs_home):
    text, wav = sorted(runs_home.train_texts.items())[-1]
    at = page("7_Try.py")
    at.selectbox(key="try_run").select("pub-full")
    at.selectbox(key="try_language").select("en")
    at.audio_input(key="try_record").upload("recording.wav", Path(wav).read_bytes())
    rerun(at)
    button(at, "try_go").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    answers = [m.value for m in at.markdown if m.value.startswith("> ")]
    assert answers[1] == f"> {text}"
