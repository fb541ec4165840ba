"""The demo Space's app, run as the Space runs it (a fresh interpreter, HF_ENDPOINT at import) against models
pushed to the local Hub server: it answers with exactly the pushed model, or shows an error -- never another."""

from __future__ import annotations

from pathlib import Path

import pytest
import support_runs
from hubserver import HubServer
from space_models import build_adapter, push_folder, run_space_app

from voxstudio.publish import space

pytestmark = pytest.mark.slow

finished_runs = support_runs.finished_runs  # fixtures: trained tiny runs (session) and a private copy
runs_home = support_runs.runs_home

CLIP = Path(__file__).parent / "fixtures" / "speech" / "clips" / "en" / "stp_nevermind.wav"


@pytest.fixture
def hub():
    """A running local Hub server for one test."""
    with HubServer() as server:
        yield server


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny full model and a LoRA adapter on it, on disk, plus their transcripts of CLIP (references)."""
    from voxstudio import inference
    from voxstudio.training import tiny

    root = tmp_path_factory.mktemp("models")
    base = tiny.build_tiny(root / "tiny")
    adapter = build_adapter(base, root / "lora")
    base_text = inference.load_transcriber(str(base)).transcribe(str(CLIP), language="en").text
    base_auto = inference.load_transcriber(str(base)).transcribe(str(CLIP), language=None).text
    adapter_auto = inference.load_transcriber(str(adapter), base_model=str(base)).transcribe(
        str(CLIP), language=None).text
    assert base_auto != adapter_auto, "the test adapter must change the answer, or the test proves nothing"
    return {"base": base, "adapter": adapter, "base_text": base_text, "base_auto_text": base_auto,
            "adapter_auto_text": adapter_auto}


def space_dir(tmp_path: Path, model_repo: str, base_model: str | None = None) -> Path:
    folder = tmp_path / "space"
    space.write_space(folder, model_repo, base_model)
    return folder


def test_demo_transcribes_with_the_pushed_merged_model(tmp_path, hub, tiny_models):
    push_folder(hub, tiny_models["base"], "alice/tiny-merged", private=True)
    seen = run_space_app(space_dir(tmp_path, "alice/tiny-merged"), hub, CLIP, model_id="alice/tiny-merged")
    assert seen["load_error"] is None and seen["raised"] is None
    assert seen["text"] == tiny_models["base_text"]
    assert "of audio transcribed" in seen["details"]
    assert not any("Error" in (m or "") for m in seen["markdown"])
    assert seen["button_interactive"] == [True]


def test_demo_transcribes_with_the_pushed_adapter_on_its_base(tmp_path, hub, tiny_models):
    push_folder(hub, tiny_models["base"], "alice/tiny-base", private=True)
    push_folder(hub, tiny_models["adapter"], "alice/tiny-lora", private=True)
    folder = space_dir(tmp_path, "alice/tiny-lora", "alice/tiny-base")
    seen = run_space_app(folder, hub, CLIP, model_id="alice/tiny-lora", base_model="alice/tiny-base",
                         language="auto")
    assert seen["load_error"] is None and seen["raised"] is None
    # "auto" in the dropdown means no language hint: the same answer as the adapter given language=None
    assert seen["text"] == tiny_models["adapter_auto_text"]
    assert seen["text"] != tiny_models["base_auto_text"]

def test_broken_adapter_shows_an_error_instead_of_answering(tmp_path, hub, tiny_models):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in tiny_models["adapter"].iterdir():
        data = path.read_bytes()
        (broken / path.name).write_bytes(data[: len(data) // 3] if path.suffix == ".safetensors" else data)
    push_folder(hub, tiny_models["base"], "alice/tiny-base", private=True)
    push_folder(hub, broken, "alice/tiny-broken", private=True)
    seen = run_space_app(space_dir(tmp_path, "alice/tiny-broken", "alice/tiny-base"), hub, CLIP,
                         model_id="alice/tiny-broken", base_model="alice/tiny-base")
    assert seen["text"] is None, "a demo whose fine-tuned weights did not load must not answer"
    assert "Could not load the fine-tuned model alice/tiny-broken" in seen["load_error"]
    assert "does not fall back to the base model" in seen["load_error"]
    assert seen["raised"].startswith("gradio.exceptions.Error")
    assert any((m or "").startswith("**Error:** Could not load") for m in seen["markdown"])
    assert seen["button_interactive"] == [False]


def test_private_model_without_a_token_is_an_error_not_a_fallback(tmp_path, hub, tiny_models):
    push_folder(hub, tiny_models["base"], "alice/tiny-merged", private=True)
    seen = run_space_app(space_dir(tmp_path, "alice/tiny-merged"), hub, CLIP, model_id="alice/tiny-merged",
                         token=None)
    assert seen["text"] is None
    assert "Could not load the fine-tuned model alice/tiny-merged" in seen["load_error"]



def test_demo_runs_a_merged_export_of_a_trained_lora_run(tmp_path, hub, runs_home):
    from voxstudio import inference
    from voxstudio.publish import export

    merged = export.export_run(runs_home.lora.name, tmp_path / "merged", merge=True, repo_id="alice/voice-merged")
    assert not (merged / "adapter_config.json").exists()
    push_folder(hub, merged, "alice/voice-merged", private=True)
    expected = inference.load_transcriber(str(merged)).transcribe(str(CLIP), language="en").text
    seen = run_space_app(space_dir(tmp_path, "alice/voice-merged"), hub, CLIP, model_id="alice/voice-merged")
    assert seen["load_error"] is None and seen["text"] == expected
