"""The built-in tiny Voxtral: real layout and tokenizer ids, deterministic, cached once, loads like any folder."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from transformers import AutoProcessor, VoxtralForConditionalGeneration

from voxstudio.inference import load_transcriber
from voxstudio.training.tiny import build_tiny, resolve_model, tiny_path


def test_build_is_deterministic_per_seed(tmp_path):
    a, b, c = build_tiny(tmp_path / "a"), build_tiny(tmp_path / "b"), build_tiny(tmp_path / "c", seed=1)
    wa, wb, wc = (load_file(str(p / "model.safetensors")) for p in (a, b, c))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert sum(v.numel() for v in wa.values()) < 300_000


def test_tokenizer_and_config_have_voxtrals_layout(tmp_path):
    folder = build_tiny(tmp_path / "t")
    tekken = json.loads((folder / "tekken.json").read_text())
    assert tekken["config"]["version"] == "v7" and len(tekken["vocab"]) == 256
    assert tekken["audio"]["frame_rate"] == 12.5 and tekken["audio"]["chunk_length_s"] == 30.0
    ids = {t["token_str"]: t["rank"] for t in tekken["special_tokens"]}
    assert len(ids) == 100
    assert (ids["<s>"], ids["</s>"], ids["[INST]"], ids["[/INST]"], ids["<pad>"]) == (1, 2, 3, 4, 11)
    assert (ids["[AUDIO]"], ids["[BEGIN_AUDIO]"], ids["[TRANSCRIBE]"]) == (24, 25, 34)
    config = json.loads((folder / "config.json").read_text())
    assert config["audio_token_id"] == 24
    audio = config["audio_config"]
    assert audio["intermediate_size"] == 4 * audio["hidden_size"] and audio["max_source_positions"] == 1500
    processor = AutoProcessor.from_pretrained(folder)
    assert type(processor).__name__ == "VoxtralProcessor"
    assert type(processor.tokenizer).__name__ == "MistralCommonBackend"
    assert processor.tokenizer.encode("hi", add_special_tokens=False) == [ord("h") + 100, ord("i") + 100]


def test_tiny_resolves_to_a_cached_folder_built_once(home):
    path = tiny_path()
    assert path == home / "cache" / "tiny-voxtral" and (path / "model.safetensors").exists()
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("tiny") == str(path) and tiny_path() == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    assert resolve_model("mistralai/Voxtral-Mini-3B-2507") == "mistralai/Voxtral-Mini-3B-2507"


def test_tiny_runs_forward_and_generation_on_real_speech(home, clips):
    model = VoxtralForConditionalGeneration.from_pretrained(tiny_path())
    assert model.config.audio_token_id == 24
    transcriber = load_transcriber(str(tiny_path()), device="cpu")
    out = transcriber.transcribe(clips[0]["path"], language="en", max_new_tokens=5)
    assert out.n_tokens <= 5 and out.seconds > 0
