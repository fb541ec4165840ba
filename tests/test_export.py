"""Export of finished tiny runs: exactly the folder that would be pushed, loadable, with its card."""

from __future__ import annotations

import json

import pytest
from support_runs import finished_runs, runs_home  # noqa: F401 - fixtures

from voxstudio.publish import card, export
from voxstudio.runs import runfolder

TRAINING_STATE = ("optimizer", "scheduler", "rng_state", "trainer_state", "training_args", "checkpoint")

pytestmark = pytest.mark.slow  # trains tiny runs (once per session) and runs subprocesses


def assert_no_training_state(folder):
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*")]
    assert not [n for n in names if any(bad in n for bad in TRAINING_STATE)], names
    assert all("/" not in n for n in names)  # no sub-folders (no intermediate checkpoints)


def test_adapter_export_is_the_adapter_processor_and_card(runs_home, tmp_path):  # noqa: F811
    # Training state really exists in the run (so its absence below means something).
    assert any("optimizer" in p.name for p in (runs_home.lora / "checkpoints").rglob("*"))
    out = export.export_run("pub-lora", tmp_path / "adapter")
    names = {name for name, _ in export.list_upload(out)}
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors", "processor_config.json",
            "tekken.json"} <= names
    assert "model.safetensors" not in names
    assert_no_training_state(out)
    trained = runs_home.lora / "output" / "adapter_model.safetensors"
    assert (out / "adapter_model.safetensors").read_bytes() == trained.read_bytes()
    meta = card.parse_front_matter((out / "README.md").read_text())
    assert meta["library_name"] == "peft" and meta["language"] == ["en"]
    assert "base_model" not in meta  # the tiny base is not a Hub model: no false claim
    text = (out / "README.md").read_text()
    assert "PeftModel.from_pretrained" in text and "Tess gave consent" in text
    assert "5 clips" in text  # what the trainer actually trained on
    sizes = dict(export.list_upload(out))
    assert sizes["adapter_model.safetensors"] == trained.stat().st_size


def test_merged_export_loads_as_a_plain_voxtral_equal_to_base_plus_adapter(runs_home, tmp_path):  # noqa: F811
    import torch
    from peft import PeftModel
    from transformers import VoxtralForConditionalGeneration

    from voxstudio.training.tiny import tiny_path

    out = export.export_run("pub-lora", tmp_path / "merged", merge=True, max_shard_size="200KB")
    names = {name for name, _ in export.list_upload(out)}
    shards = sorted(n for n in names if n.endswith(".safetensors"))
    assert len(shards) > 1 and "model.safetensors.index.json" in names  # sharded safetensors
    assert "adapter_config.json" not in names and "adapter_model.safetensors" not in names
    assert_no_training_state(out)
    merged = VoxtralForConditionalGeneration.from_pretrained(out)
    base = VoxtralForConditionalGeneration.from_pretrained(tiny_path())
    assert merged.dtype == base.dtype  # saved in the base dtype
    reference = PeftModel.from_pretrained(base, str(runs_home.lora / "output")).merge_and_unload()
    ref_state = reference.state_dict()
    for key, value in merged.state_dict().items():
        assert torch.allclose(value, ref_state[key], atol=1e-6), key
    meta = card.parse_front_matter((out / "README.md").read_text())
    assert meta["library_name"] == "transformers" and "merged" in meta["tags"]
    # The processor files are the trained ones, byte for byte (a re-saved Mistral tokenizer would lose
    # tekken.json), and the merged folder transcribes exactly like base + adapter.
    assert "tokenizer.json" not in names
    assert (out / "tekken.json").read_bytes() == (runs_home.lora / "output" / "tekken.json").read_bytes()
    from voxstudio.inference import load_transcriber

    wav = sorted(runs_home.train_texts.values())[0]
    merged_text = load_transcriber(str(out), device="cpu").transcribe(wav, max_new_tokens=16).text
    adapter_text = load_transcriber(str(runs_home.lora / "output"), base_model=str(tiny_path()),
                                    device="cpu").transcribe(wav, max_new_tokens=16).text
    assert merged_text == adapter_text


def test_full_export_copies_the_trained_model(runs_home, tmp_path):  # noqa: F811
    out = export.export_run(runs_home.full, tmp_path / "full")
    assert (out / "model.safetensors").read_bytes() == (runs_home.full / "output" / "model.safetensors").read_bytes()
    assert_no_training_state(out)
    text = (out / "README.md").read_text()
    assert "VoxtralForConditionalGeneration.from_pretrained(model_id" in text and "PeftModel" not in text


def test_bad_requests_change_nothing(runs_home, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="no adapter to merge"):
        export.export_run("pub-full", tmp_path / "x", merge=True)
    with pytest.raises(FileNotFoundError, match="No run named"):
        export.export_run("nope", tmp_path / "x")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="not empty"):
        export.export_run("pub-lora", taken)
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    runfolder.write_status(runs_home.lora, state="running")
    with pytest.raises(ValueError, match="state: running"):
        export.export_run("pub-lora", tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-built export left


def test_adapter_config_names_no_local_path_for_hub_bases(runs_home, tmp_path):  # noqa: F811
    cfg = runfolder.read_json(runs_home.lora / runfolder.CONFIG)
    cfg["base_model"] = "mistralai/Voxtral-Mini-3B-2507"  # as a real run would say
    runfolder.write_json_atomic(runs_home.lora / runfolder.CONFIG, cfg)
    out = export.export_run("pub-lora", tmp_path / "adapter")
    data = json.loads((out / "adapter_config.json").read_text())
    assert data["base_model_name_or_path"] == "mistralai/Voxtral-Mini-3B-2507"
    assert card.parse_front_matter((out / "README.md").read_text())["base_model"] == data["base_model_name_or_path"]
