"""RunConfig: validation messages per field, frozen JSON round trip, presets, the one peft/transformers mapping."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from voxstudio.training.config import (
    DEFAULT_BASE_MODEL,
    RunConfig,
    cli_command,
    lora_target_regex,
    new_config,
    preset,
    to_lora_config,
    to_training_arguments,
)


def test_defaults_are_valid_and_lora_on_voxtral_mini():
    cfg = RunConfig(dataset="my-voice").validate()
    assert cfg.base_model == DEFAULT_BASE_MODEL and cfg.method == "lora" and cfg.scheduler == "cosine"
    assert cfg.lora_targets == ["q_proj", "k_proj", "v_proj", "o_proj"] and cfg.freeze_audio_tower


def test_every_invalid_field_is_named_with_a_readable_reason():
    cfg = RunConfig(run_name="Bad Name", dataset="", method="qlora", learning_rate=0, batch_size=0,
                    lora_targets=["fc1"], eval_fraction=0.9, precision="fp8", max_steps=0, languages=["english"])
    with pytest.raises(ValueError) as err:
        cfg.validate()
    text = str(err.value)
    for name in ("run_name", "dataset", "method", "learning_rate", "batch_size", "lora_targets", "eval_fraction",
                 "precision", "max_steps", "languages"):
        assert f"- {name}:" in text, name
    assert "lora, full" in text and "at most 0.5" in text


def test_save_load_round_trip_is_frozen_json_without_secrets(tmp_path):
    cfg = new_config(run_name="r1", dataset="my-voice", languages=["en", "fr"], lora_r=8)
    path = cfg.save(tmp_path / "config.json")
    data = json.loads(path.read_text())
    assert data["lora_r"] == 8 and data["languages"] == ["en", "fr"]
    assert not any(k in data for k in ("token", "hf_token", "api_key"))
    assert RunConfig.load(path) == cfg
    (tmp_path / "typo.json").write_text(json.dumps({**data, "learnin_rate": 1}))
    with pytest.raises(ValueError, match="unknown run setting.*learnin_rate"):
        RunConfig.load(tmp_path / "typo.json")
    with pytest.raises(FileNotFoundError):
        RunConfig.load(tmp_path / "missing.json")


def test_tiny_defaults_apply_only_to_tiny_and_explicit_fields_win():
    tiny = new_config(dataset="d", base_model="tiny", max_steps=50)
    assert tiny.method == "full" and tiny.learning_rate == 3e-3 and tiny.max_steps == 50
    big = new_config(dataset="d")
    assert big.method == "lora" and big.learning_rate == 1e-4


def test_presets_grow_with_minutes_of_audio_and_stay_bounded():
    small, large = preset("balanced", 2, 40), preset("balanced", 30, 600)
    assert small["max_steps"] < large["max_steps"] <= 1000
    assert preset("quick", 0.5, 10)["max_steps"] == 30  # minimum
    assert preset("thorough", 5, 100)["max_steps"] > preset("quick", 5, 100)["max_steps"]
    RunConfig(dataset="d", **large).validate()
    with pytest.raises(ValueError, match="unknown preset"):
        preset("turbo", 1, 1)


def test_lora_targets_the_text_model_only():
    pattern = re.compile(lora_target_regex(RunConfig(dataset="d")))
    assert pattern.fullmatch("model.language_model.layers.0.self_attn.q_proj")
    assert pattern.fullmatch("model.language_model.layers.11.self_attn.o_proj")
    assert not pattern.fullmatch("model.audio_tower.layers.0.self_attn.q_proj")
    assert not pattern.fullmatch("model.language_model.layers.0.mlp.gate_proj")
    assert not pattern.fullmatch("model.multi_modal_projector.linear_1")
    wide = re.compile(lora_target_regex(RunConfig(dataset="d", lora_targets=["q_proj", "gate_proj", "down_proj"],
                                                  lora_projector=True)))
    assert wide.fullmatch("model.language_model.layers.0.mlp.gate_proj")
    assert wide.fullmatch("model.multi_modal_projector.linear_2")
    assert not wide.fullmatch("model.audio_tower.layers.0.fc1")
    lora = to_lora_config(RunConfig(dataset="d", lora_r=8, lora_alpha=16, lora_dropout=0.1))
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (8, 16, 0.1)


def test_training_arguments_mapping(tmp_path):
    cfg = RunConfig(run_name="r1", dataset="my-voice", learning_rate=2e-4, batch_size=2, grad_accum=4,
                    warmup_steps=7, max_steps=123, seed=5, gradient_checkpointing=True)
    cpu = to_training_arguments(cfg, tmp_path, report_to="none", cuda=False, bf16_ok=False)
    assert (cpu.learning_rate, cpu.per_device_train_batch_size, cpu.gradient_accumulation_steps) == (2e-4, 2, 4)
    assert (cpu.max_steps, cpu.warmup_steps, cpu.seed) == (123, 7, 5)
    assert str(cpu.lr_scheduler_type.value) == "cosine" and not cpu.bf16 and str(cpu.optim.value) == "adamw_torch"
    assert cpu.project == "my-voice" and cpu.run_name == "r1" and cpu.trackio_space_id is None
    assert cpu.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert cpu.train_sampling_strategy == "group_by_length"


def test_precision_auto_picks_bf16_on_capable_gpu_and_fused_adamw():
    from voxstudio.training.config import resolve_precision

    cfg = RunConfig(dataset="d")
    assert resolve_precision(cfg, cuda=True, bf16_ok=True) == "bf16"
    assert resolve_precision(cfg, cuda=True, bf16_ok=False) == "fp16"
    assert resolve_precision(cfg, cuda=False, bf16_ok=False) == "fp32"
    assert resolve_precision(RunConfig(dataset="d", precision="bf16"), cuda=False, bf16_ok=False) == "fp32"


def test_cli_command_is_the_equivalent_train_command():
    cmd = cli_command(RunConfig(run_name="r1", dataset="my voice".replace(" ", "-"), max_steps=200, lora_r=8))
    parts = shlex.split(cmd)
    assert parts[:2] == ["voxstudio", "train"]
    opts = dict(zip(parts[2::2], parts[3::2]))
    assert opts["--dataset"] == "my-voice" and opts["--model"] == DEFAULT_BASE_MODEL and opts["--method"] == "lora"
    assert opts["--run"] == "r1" and opts["--max-steps"] == "200" and opts["--lora-r"] == "8"
    assert "--epochs" in shlex.split(cli_command(RunConfig(run_name="r2", dataset="d")))


def test_config_module_imports_without_torch():
    code = ("import sys, voxstudio.training.config as c, voxstudio.training.estimate as e; "
            "e.memory(c.RunConfig(dataset='d'), e.spec_for(c.DEFAULT_BASE_MODEL)); "
            "c.cli_command(c.RunConfig(dataset='d')); "
            "bad = [m for m in ('torch', 'transformers', 'peft', 'trackio') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
