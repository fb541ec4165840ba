"""The demo Space: what render_space writes, and what deploy_demo sends to a Hub (the local test server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from voxstudio.publish import space

ROOT = space.PACKAGE_DIR.parent


def front_matter(readme: bytes) -> dict:
    text = readme.decode("utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_render_space_files_front_matter_and_requirements():
    files = space.render_space(
        "me/my-voice", "mistralai/Voxtral-Mini-3B-2507", title='Ana\'s "voice": FR',
        card_summary="Fine-tuned on 12 minutes of one speaker.", languages=["fr"], hardware="zero-a10g",
    )
    assert sorted(files) == sorted(space.SPACE_FILES)
    # the Space runs the studio's own inference code, byte for byte, and the template app unchanged
    assert files["inference.py"] == (ROOT / "voxstudio" / "inference.py").read_bytes()
    assert files["app.py"] == (ROOT / "demo_template" / "app.py").read_bytes()

    meta = front_matter(files["README.md"])
    assert meta["title"] == 'Ana\'s "voice": FR'
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == space.gradio_version()
    import gradio

    assert meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py"
    assert meta["suggested_hardware"] == "zero-a10g"
    assert meta["models"] == ["me/my-voice", "mistralai/Voxtral-Mini-3B-2507"]
    assert len(meta["short_description"]) <= 60
    from huggingface_hub import SpaceCard

    assert SpaceCard(files["README.md"].decode()).data.sdk == "gradio"
    assert "Fine-tuned on 12 minutes of one speaker." in files["README.md"].decode()

    reqs = files["requirements.txt"].decode().splitlines()
    names = {line.split("==")[0].split("[")[0] for line in reqs if line and not line.startswith("#")}
    # everything inference.py imports, plus the LoRA and tokenizer libraries it loads through
    assert {"torch", "transformers", "peft", "soundfile", "numpy", "mistral-common"} <= names
    assert not any("+" in line for line in reqs), "local version labels (e.g. +cpu) do not exist on PyPI"
    assert not any(line.startswith("gradio") for line in reqs), "the Space SDK provides gradio"

    demo = json.loads(files["demo.json"])
    assert demo["languages"] == ["fr"] and demo["base_model"] == "mistralai/Voxtral-Mini-3B-2507"


def test_render_merged_model_has_no_base_and_offers_all_languages(tmp_path):
    written = space.write_space(tmp_path / "space", "me/merged")
    assert sorted(p.name for p in written) == sorted(space.SPACE_FILES)
    meta = front_matter((tmp_path / "space" / "README.md").read_bytes())
    assert meta["models"] == ["me/merged"]
    assert meta["suggested_hardware"] == "cpu-basic"
    demo = json.loads((tmp_path / "space" / "demo.json").read_text())
    assert demo["base_model"] is None and "en" in demo["languages"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model_repo": "me/bad name"}, "not valid"),
        ({"model_repo": "a/b/c"}, "not valid"),
        ({"model_repo": "me/ok", "hardware": "quantum-1"}, "Unknown Space hardware"),
    ],
)
def test_render_refuses_bad_input_with_a_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        space.render_space(**kwargs)


def test_summarize_card_takes_the_first_section_and_languages():
    card = "---\nlanguage:\n- fr\n- en\nlicense: apache-2.0\n---\n# my-voice\n\nA LoRA adapter.\n\n## Training\nlots\n"
    summary, languages = space.summarize_card(card)
    assert languages == ["fr", "en"]
    assert "A LoRA adapter." in summary and "lots" not in summary


def test_space_module_is_ui_safe():
    code = (
        "import sys; import voxstudio.publish.space, voxstudio.studio.tryout;"
        "bad=[m for m in ('torch','transformers','peft','huggingface_hub','gradio') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------ deploy_demo (real HfApi over HTTP)

from hubserver import HubServer  # noqa: E402


@pytest.fixture
def hub():
    """A running local Hub server for one test."""
    with HubServer() as server:
        yield server

CARD = "---\nlanguage:\n- fr\nlicense: apache-2.0\n---\n# voice\n\nA LoRA adapter trained on 3 minutes of Ana.\n"


def spaces_of(hub) -> list[str]:
    return [repo_id for (kind, repo_id) in hub.repos if kind == "space"]


def test_deploy_public_adapter_creates_space_in_one_commit_with_variables(hub):
    hub.add_repo("alice/voice", "alice", private=False, files={"README.md": CARD.encode()})
    url = space.deploy_demo("alice/voice", "voice-demo", HubServer.WRITE_TOKEN, hardware="t4-small",
                            base_model="mistralai/Voxtral-Mini-3B-2507", endpoint=hub.endpoint)
    assert url == f"{hub.endpoint}/spaces/alice/voice-demo"
    repo = hub.repo("alice/voice-demo", "space")
    assert repo.sdk == "gradio" and repo.hardware == "t4-small" and repo.private  # private by default
    assert len(repo.commits) == 2  # the empty initial commit + ONE commit with the whole template
    files = hub.files("alice/voice-demo", "space")
    assert sorted(files) == sorted(space.SPACE_FILES)
    expected = space.render_space(
        "alice/voice", "mistralai/Voxtral-Mini-3B-2507", card_summary="A LoRA adapter trained on 3 minutes of Ana.",
        languages=["fr"], hardware="t4-small",
    )
    assert files == expected  # byte-exact, inference.py included; the card's summary and languages travelled
    assert {k: v["value"] for k, v in repo.variables.items()} == {
        "HF_MODEL_ID": "alice/voice", "BASE_MODEL_ID": "mistralai/Voxtral-Mini-3B-2507",
        "DEFAULT_LANGUAGE": "fr"}  # the card's one trained language: the demo prompts lang:fr by default
    assert repo.secrets == {}, "a public model needs no token in the Space"
    assert HubServer.WRITE_TOKEN.encode() not in hub.sent_bytes()


def test_redeploy_updates_files_and_hardware(hub):
    hub.add_repo("alice/merged", "alice", private=False, files={"README.md": CARD.encode()})
    space.deploy_demo("alice/merged", "alice/demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    assert hub.repo("alice/demo", "space").hardware == "cpu-basic"
    space.deploy_demo("alice/merged", "alice/demo", HubServer.WRITE_TOKEN, hardware="l4x1", endpoint=hub.endpoint)
    repo = hub.repo("alice/demo", "space")
    assert repo.hardware == "l4x1"
    assert "BASE_MODEL_ID" not in repo.variables  # a merged model loads on its own
    assert json.loads(hub.files("alice/demo", "space")["demo.json"])["base_model"] is None


def test_private_model_without_read_token_is_refused_before_anything_is_created(hub):
    hub.add_repo("alice/secret-voice", "alice", private=True, files={"README.md": CARD.encode()})
    with pytest.raises(ValueError, match="read token"):
        space.deploy_demo("alice/secret-voice", "demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    with pytest.raises(ValueError, match="write token"):
        space.deploy_demo("alice/secret-voice", "demo", HubServer.WRITE_TOKEN,
                          read_token=HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    with pytest.raises(ValueError, match="write access"):  # someone's write token passed as "read" token
        space.deploy_demo("alice/secret-voice", "demo", HubServer.WRITE_TOKEN,
                          read_token=HubServer.BOB_TOKEN, endpoint=hub.endpoint)
    assert spaces_of(hub) == []


def test_private_model_with_read_token_stores_only_that_token(hub):
    hub.add_repo("alice/secret-voice", "alice", private=True, files={"README.md": CARD.encode()})
    space.deploy_demo("alice/secret-voice", "demo", HubServer.WRITE_TOKEN, read_token=HubServer.READ_TOKEN,
                      endpoint=hub.endpoint)
    repo = hub.repo("alice/demo", "space")
    assert {k: v["value"] for k, v in repo.secrets.items()} == {"HF_TOKEN": HubServer.READ_TOKEN}
    assert HubServer.WRITE_TOKEN.encode() not in hub.sent_bytes()
    assert not any(HubServer.READ_TOKEN.encode() in data for data in hub.files("alice/demo", "space").values())


def test_deploy_errors_are_one_sentence(hub):
    from voxstudio.publish.hub import HubError

    hub.add_repo("alice/voice", "alice", private=False, files={"README.md": CARD.encode()})
    with pytest.raises(HubError, match="token"):
        space.deploy_demo("alice/voice", "demo", "hf_not_a_real_token_000000000000", endpoint=hub.endpoint)
    with pytest.raises(HubError, match="[Nn]ot found"):
        space.deploy_demo("alice/nope", "demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    with pytest.raises(HubError, match="not your account"):  # bob's namespace is not alice's
        space.deploy_demo("alice/voice", "bob/demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    with pytest.raises(ValueError, match="hardware"):
        space.deploy_demo("alice/voice", "demo", HubServer.WRITE_TOKEN, hardware="quantum", endpoint=hub.endpoint)
    assert spaces_of(hub) == []


def test_deploy_survives_transient_hub_failures(hub, monkeypatch):
    monkeypatch.setenv("VOXSTUDIO_HUB_BACKOFF_S", "0.01")
    hub.add_repo("alice/voice", "alice", private=False, files={"README.md": CARD.encode()})
    hub.fail_next("commit", 2, status=503)
    hub.fail_next("variables", 1, status=502)
    steps = []
    space.deploy_demo("alice/voice", "demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint,
                      progress=lambda fraction, text: steps.append(fraction))
    repo = hub.repo("alice/demo", "space")
    assert len(repo.commits) == 2 and sorted(hub.files("alice/demo", "space")) == sorted(space.SPACE_FILES)
    assert repo.variables["HF_MODEL_ID"]["value"] == "alice/voice"
    assert steps == sorted(steps) and steps[-1] == 1.0
