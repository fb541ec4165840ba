"""The one memory and time model (training.estimate, training.modelspec): the table adds up to the published
parameter counts, byte counts match a hand computation, the trainer loads the dtype the model counts, runs that
cannot fit are refused by preflight and the Train page with a sentence naming what fits, the ETA is measured."""

from __future__ import annotations

import types

import pytest
from apptest_support import open_app, rerun, texts
from jobs_helpers import make_dataset
from test_pages_data import nvidia_smi_on_path

from voxstudio import models
from voxstudio.runs import hardware, preflight
from voxstudio.training import estimate
from voxstudio.training.config import RunConfig, new_config
from voxstudio.training.modelspec import MODELS, spec_for

MINI, SMALL = MODELS[models.DEFAULT_BASE_MODEL], MODELS[models.VOXTRAL_SMALL]
GB = 1e9
RTX_4090 = "echo 'NVIDIA GeForce RTX 4090, 24564, 300'"  # 24 GiB, as nvidia-smi reports it (MiB)


def cfg(**kw) -> RunConfig:
    return RunConfig(dataset="d", **kw)


@pytest.fixture
def fresh_hardware():
    hardware.detect.cache_clear()
    yield
    hardware.detect.cache_clear()


# ----- the table -----
def test_the_table_adds_up_to_the_published_parameter_counts():
    for spec, published in ((MINI, 4.676e9), (SMALL, 24.262e9)):
        total = spec.text_params + spec.audio_params + spec.projector_params
        print(f"{spec.label}: text {spec.text_params:,} + audio {spec.audio_params:,} + projector "
              f"{spec.projector_params:,} = {total:,}")
        assert total == spec.params
        assert abs(total - published) / published < 0.005
        assert abs(spec.audio_params - 0.637e9) / 0.637e9 < 0.005
    assert (MINI.hidden, MINI.layers, MINI.intermediate, SMALL.hidden, SMALL.layers, SMALL.intermediate) == (
        3072, 30, 8192, 5120, 40, 32768)


def test_the_widths_build_models_with_exactly_these_counts():
    """transformers' own classes on the meta device (no weights, no download) count the same parameters."""
    import torch
    from transformers import LlamaConfig, VoxtralConfig, VoxtralEncoderConfig, VoxtralForConditionalGeneration

    from voxstudio.training.tiny import tiny_config

    def built(spec):
        text = LlamaConfig(hidden_size=spec.hidden, intermediate_size=spec.intermediate,
                           num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                           num_key_value_heads=spec.kv_heads, head_dim=spec.head_dim, vocab_size=spec.vocab,
                           tie_word_embeddings=spec.tied)
        audio = VoxtralEncoderConfig(hidden_size=spec.audio_hidden, intermediate_size=spec.audio_ffn,
                                     num_hidden_layers=spec.audio_layers, num_attention_heads=20)
        return VoxtralConfig(audio_config=audio, text_config=text)

    for spec, config in ((MINI, built(MINI)), (SMALL, built(SMALL)), (MODELS[models.TINY], tiny_config())):
        with torch.device("meta"):
            model = VoxtralForConditionalGeneration(config)
        count = {name: sum(p.numel() for p in module.parameters()) for name, module in
                 (("all", model), ("audio", model.model.audio_tower), ("proj", model.model.multi_modal_projector))}
        assert (count["all"], count["audio"], count["proj"]) == (spec.params, spec.audio_params,
                                                                 spec.projector_params), spec.label


def test_a_local_model_folder_is_read_from_its_config(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"text_config": {"hidden_size": 3072, "num_hidden_layers": 30, "num_attention_heads": 32, '
        '"num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 8192, "vocab_size": 131072}, '
        '"audio_config": {"hidden_size": 1280, "num_hidden_layers": 32, "intermediate_size": 5120}}')
    assert spec_for(str(tmp_path)).params == MINI.params
    assert spec_for(str(tmp_path / "missing")) is None


# ----- bytes -----
def test_mini_lora_bf16_bytes_by_hand():
    m = estimate.memory(cfg(), MINI)  # defaults: r 16 on q/k/v/o, batch 4, gradient checkpointing, 30 s clips
    adapters = 30 * 16 * ((3072 + 4096) + (3072 + 1024) + (3072 + 1024) + (4096 + 3072))
    assert m.dtype == "bf16" and m.trainable == adapters == 10_813_440
    assert m.weights == 4_676_271_104 * 2 + adapters * 4  # frozen base in bf16, adapters fp32
    assert (m.gradients, m.optimizer) == (adapters * 4, adapters * 8)
    tokens = 4 * (375 + 8 + 4 * 30)  # batch × (one window of audio tokens + prompt + 30 s of transcript)
    layer = 4 * 3072 + 3 * 4096 + 3 * 1024 + 4 * 8192 + 3 * (3072 * 3 // 2 + 16) + (4096 * 3 // 2 + 16)
    checkpointed = 30 * tokens * 3072 * 2 + 2 * tokens * layer * 2
    logits = tokens * 131072 * 14
    encoder = 4 * 1500 * (8 * 1280 + 2 * 5120) * 2  # one frozen layer's transient forward
    projector = 4 * 375 * (5120 + 2 * 3072) * 2
    assert m.activations == checkpointed + logits + encoder + projector
    assert 14 * 2**30 < m.total < 16 * 2**30


def test_mini_full_fp32_and_bf16_bytes_by_hand():
    trainable = 4_014_136_320 + 25_165_824  # text model + projector; the audio encoder stays frozen
    fp32 = estimate.memory(cfg(method="full"), MINI)
    assert fp32.dtype == "fp32" and fp32.trainable == trainable
    assert (fp32.weights, fp32.gradients, fp32.optimizer) == (4_676_271_104 * 4, trainable * 4, trainable * 8)
    assert fp32.weights + fp32.gradients + fp32.optimizer == 67_176_710_144  # ~67 GB before activations
    bf16 = estimate.memory(cfg(method="full", precision="bf16"), MINI)
    assert bf16.dtype == "bf16"
    assert (bf16.weights, bf16.gradients, bf16.optimizer) == (4_676_271_104 * 2, trainable * 2, trainable * 4)
    assert fp32.total > 60 * 2**30 > 40 * 2**30 > bf16.total > 30 * 2**30
    cpu = estimate.memory(cfg(method="full"), MINI, cuda=False)
    assert cpu.dtype == "fp32" and cpu.activations > fp32.activations  # fp32 compute: 4 bytes a value


def test_small_lora_bf16_weights_alone_are_48_5_gb():
    m = estimate.memory(cfg(base_model=models.VOXTRAL_SMALL), SMALL)
    adapters = 40 * 16 * ((5120 + 4096) * 2 + (5120 + 1024) * 2)
    assert m.trainable == adapters
    assert m.weights == 24_261_800_960 * 2 + adapters * 4
    assert round(24_261_800_960 * 2 / GB, 1) == 48.5
    assert 48 * 2**30 < m.total < 80 * 2**30  # an 80 GB GPU, not a 48 GB one
    full = estimate.memory(cfg(base_model=models.VOXTRAL_SMALL, method="full"), SMALL)
    assert full.total > 141 * 2**30  # no single GPU
    sharded = estimate.memory(cfg(base_model=models.VOXTRAL_SMALL, method="full", sharding="fsdp", gpus=8), SMALL)
    assert sharded.total < 80 * 2**30


def test_data_parallel_adds_gradient_buckets_and_longer_clips_more_activations():
    one, two = estimate.memory(cfg(method="full"), MINI), estimate.memory(cfg(method="full", gpus=2), MINI)
    assert two.gradients == 2 * one.gradients
    short = estimate.memory(cfg(), MINI, clip_s=5)
    long = estimate.memory(cfg(), MINI, clip_s=45)  # two windows
    off = estimate.memory(cfg(gradient_checkpointing=False), MINI)
    assert short.activations < estimate.memory(cfg(), MINI).activations < long.activations < off.activations


def test_the_dtype_rule():
    rule = estimate.load_dtype
    assert rule(cfg(), cuda=True, bf16_ok=True) == "bf16"
    assert rule(cfg(), cuda=True, bf16_ok=False) == "fp16"
    assert rule(cfg(), cuda=False, bf16_ok=False) == "fp32"
    assert rule(cfg(method="full"), cuda=True, bf16_ok=True) == "fp32"  # mixed precision over fp32 weights
    assert rule(cfg(method="full", precision="bf16"), cuda=True, bf16_ok=True) == "bf16"  # asked for: pure bf16
    assert rule(cfg(method="full", precision="fp16"), cuda=True, bf16_ok=False) == "fp32"  # the scaler needs fp32
    assert rule(cfg(method="full", precision="bf16"), cuda=False, bf16_ok=False) == "fp32"


@pytest.mark.parametrize("method,precision,bf16,expected", [
    ("lora", "auto", True, "bfloat16"), ("lora", "auto", False, "float16"), ("full", "auto", True, "float32"),
    ("full", "bf16", True, "bfloat16")])
def test_the_trainer_loads_the_dtype_the_estimate_counts(home, method, precision, bf16, expected):
    from voxstudio.training.train import load_model_and_processor

    run = new_config(dataset="d", base_model=models.TINY, method=method, precision=precision)
    model, _, _ = load_model_and_processor(run, cuda=True, bf16=bf16)  # cuda only chooses the dtype here
    assert str(next(model.parameters()).dtype) == f"torch.{expected}"
    assert estimate.load_dtype(run, True, bf16) == {"bfloat16": "bf16", "float16": "fp16"}.get(expected, "fp32")


# ----- refusals -----
def test_preflight_refuses_a_full_fine_tune_a_24_gb_gpu_cannot_hold(home, tmp_path, monkeypatch, fresh_hardware):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the model check must not reach the Hub
    nvidia_smi_on_path(tmp_path, monkeypatch, RTX_4090)
    make_dataset("voice", 6)
    problems = preflight.preflight(new_config(run_name="r", dataset="voice", method="full"))
    fit = [p for p in problems if "needs ~" in p]
    assert len(fit) == 1, problems
    assert fit[0].startswith("Full fine-tuning of Voxtral Mini needs ~7")
    assert "this GPU has 24 GiB: use LoRA (~14 GiB), or a GPU with at least 80 GB" in fit[0]
    lora = preflight.preflight(new_config(run_name="r", dataset="voice"))
    assert not [p for p in lora if "needs ~" in p]  # LoRA fits; only the (offline) download is missing
    small = preflight.hardware_fit(new_config(run_name="r", dataset="voice", base_model=models.VOXTRAL_SMALL))
    assert "LoRA fine-tuning of Voxtral Small needs ~5" in small["problem"]
    assert small["problem"].endswith("a GPU with at least 80 GB.")


def test_voxstudio_train_refuses_it_too(home, tmp_path, monkeypatch, fresh_hardware):
    import subprocess
    import sys

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nvidia_smi_on_path(tmp_path, monkeypatch, RTX_4090)
    make_dataset("voice", 6)
    proc = subprocess.run([sys.executable, "-m", "voxstudio", "train", "--dataset", "voice", "--run", "r",
                           "--method", "full", "--precision", "bf16", "--detach"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "Full fine-tuning of Voxtral Mini needs ~3" in proc.stderr  # pure bf16: ~38 GiB, still not 24
    assert "this GPU has 24 GiB: use LoRA (~14 GiB), or a GPU with at least 40 GB" in proc.stderr
    assert not (home / "runs" / "r").exists()


def test_full_small_names_sharding_and_fits_sharded(home):
    make_dataset("voice", 6)
    one = hardware.Hardware(gpus=(hardware.Gpu("NVIDIA H100 80GB HBM3", 81559),))
    full = new_config(run_name="r", dataset="voice", base_model=models.VOXTRAL_SMALL, method="full")
    problem = preflight.hardware_fit(full, one)["problem"]
    assert "use LoRA (~5" in problem and "no single GPU holds it: shard it over 8 GPUs" in problem
    eight = hardware.Hardware(gpus=(hardware.Gpu("NVIDIA H100 80GB HBM3", 81559),) * 8)
    assert preflight.hardware_fit(full.replace(sharding="fsdp", gpus=8), eight)["problem"] is None
    assert "shard it with FSDP over the 8 GPUs" in preflight.hardware_fit(full, eight)["problem"]


def test_a_cpu_run_is_warned_with_its_time_and_refused_beyond_ram(home, tmp_path):
    make_dataset("voice", 6)
    run = new_config(run_name="r", dataset="voice")
    big = preflight.hardware_fit(run, hardware.Hardware(cpu_count=2, ram_total_mib=256_000))
    assert big["problem"] is None and big["device"] == "cpu"
    assert "on the CPU, which takes about" in big["warning"]
    assert "an estimate until the first steps are measured" in big["warning"]
    small = preflight.hardware_fit(run, hardware.Hardware(cpu_count=2, ram_total_mib=8_000))
    assert "needs ~" in small["problem"] and "of RAM" in small["problem"] and "this machine has 8 GiB" in \
        small["problem"]
    tiny = preflight.hardware_fit(new_config(run_name="t", dataset="voice", base_model="tiny"),
                                  hardware.Hardware(cpu_count=2, ram_total_mib=8_000))
    assert tiny["problem"] is None and tiny["warning"] is None
    (tmp_path / "meminfo").write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\nMemAvailable:    8192000 kB\n")
    assert hardware.read_meminfo(str(tmp_path / "meminfo")) == (16000, 8000)
    assert hardware.read_meminfo(str(tmp_path / "none")) == (0, 0)


# ----- time -----
def test_time_scales_with_model_size_and_device():
    clips = [types.SimpleNamespace(clip_id=f"c{i}", text=f"phrase {i}", language="en", phrase_id=f"p{i}",
                                   duration_s=5.0) for i in range(40)]
    h100 = estimate.Device("gpu", 80 * 2**30, tflops=989)
    t4 = estimate.Device("gpu", 15 * 2**30, bf16=False, tflops=65)
    cpu = estimate.Device("cpu", 512 * 2**30, cores=2)
    run = cfg(max_steps=100)
    mini = estimate.plan(run, clips, h100)
    assert mini["measured"] is False and mini["steps"] == 100
    assert estimate.plan(run.replace(base_model=models.VOXTRAL_SMALL), clips, h100)["seconds"] > 3 * mini["seconds"]
    assert estimate.plan(run, clips, t4)["seconds"] > 3 * mini["seconds"]
    assert estimate.plan(run, clips, cpu)["seconds"] > 100 * mini["seconds"]
    busy = estimate.plan(run, clips, estimate.Device("cpu", 512 * 2**30, cores=2, load=4.0))
    assert busy["seconds"] > 2.5 * estimate.plan(run, clips, cpu)["seconds"]
    tiny = estimate.plan(new_config(dataset="d", base_model="tiny"), clips, cpu)  # 300 steps
    assert tiny["seconds"] > 300 * estimate.STEP_OVERHEAD_S["cpu"]


def test_the_eta_is_measured_after_the_first_steps(tmp_path, monkeypatch):
    from voxstudio.training import callback as cb

    clock = {"now": 0.0}
    monkeypatch.setattr(cb.time, "time", lambda: clock["now"])
    run = cfg(eval_every=10)
    callback = cb.RunCallback(tmp_path, run, None, [object()], [], save_model=None, best_dir=tmp_path / "best",
                              should_stop=lambda: False, log=print)
    callback.t0, callback.start_step = 0.0, 0

    def at(step, now, eval_s=0.0):
        clock["now"], callback.eval_s = now, eval_s
        return callback._eta(types.SimpleNamespace(global_step=step, max_steps=100))

    assert at(1, 30.0) is None  # the first step (start-up, allocation) is slow and not a measure
    assert at(5, 34.0) == pytest.approx(95.0)  # 1 s a step since then, 95 steps left
    # one evaluation at step 10 took 6 s: the 9 still to come count at that cost, not in the step time
    assert at(11, 46.0, eval_s=6.0) == pytest.approx(89 * 1.0 + 9 * 6.0)
    assert at(100, 200.0, eval_s=60.0) == 0.0


# ----- the Train page -----
def test_the_train_page_shows_the_estimate_and_the_refusal(home, tmp_path, monkeypatch, fresh_hardware):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nvidia_smi_on_path(tmp_path, monkeypatch, RTX_4090)
    make_dataset("voice", 6)
    at = open_app("pages/4_Train.py", "voice", timeout=120)
    shown = texts(at)
    assert "Estimated time" in shown and "GPU memory needed ~14." in shown  # LoRA on Voxtral Mini fits 24 GiB
    assert not [e for e in at.error if "needs ~" in e.value]
    at.radio(key="train_method").set_value("full")
    rerun(at)
    refusal = [e.value for e in at.error if "needs ~" in e.value]
    assert refusal and refusal[0].startswith("Full fine-tuning of Voxtral Mini needs ~7")
    assert "this GPU has 24 GiB: use LoRA (~14 GiB)" in refusal[0]
    assert "GPU memory needed ~7" in texts(at)
    at.button(key="train_start").click()
    rerun(at)
    assert any(e.value == refusal[0] for e in at.error)  # refused again at Start, by preflight
    assert "queued" not in texts(at)
    assert not list((home / "runs").glob("*/config.json"))
