"""bench/gpu.py, the prepared GPU check: its pieces (real-vocabulary Voxtral tekken, depth ratio, FLOP formula)
and one end-to-end run on CPU at real widths with 2+2 layers (one step of batch 1, a short generation)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from train_helpers import trainer_env

from voxstudio.training.tiny import AUDIO_TOKEN_ID

SCRIPT = ROOT / "bench" / "gpu.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing it needs no GPU
    return module


def test_the_real_tekken_becomes_a_voxtral_v7_tekken_with_audio(tmp_path):
    import mistral_common

    from voxstudio.inference import build_prompt

    gpu = _bench()
    data = gpu.voxtral_tekken(Path(mistral_common.__file__).parent / "data" / "tekken_240911.json")
    assert data["config"]["version"] == "v7" and data["config"]["default_vocab_size"] == 131072
    specials = {t["rank"]: t["token_str"] for t in data["special_tokens"]}
    assert len(specials) == 1000 and specials[AUDIO_TOKEN_ID] == "[AUDIO]" and specials[34] == "[TRANSCRIBE]"
    assert data["audio"]["sampling_rate"] == 16000 and "image" not in data
    processor = gpu.build_processor(tmp_path)
    assert len(processor.tokenizer) == 131072
    assert len(processor.tokenizer.encode("turn on the kitchen lights", add_special_tokens=False)) < 10  # real BPE
    prompt = build_prompt(processor, gpu.synthetic_audio(3.0, 0), "en")
    assert int((prompt["input_ids"] == AUDIO_TOKEN_ID).sum()) == gpu.AUDIO_TOKENS
    assert tuple(prompt["input_features"].shape) == (1, 128, gpu.FRAMES)


def test_depth_keeps_voxtrals_encoder_decoder_ratio_and_flops_follow_the_formula():
    gpu = _bench()
    assert gpu.depths(None) == (32, 30) and gpu.depths(2) == (2, 2) and gpu.depths(15) == (16, 15)
    sizes = {"conv1": 10, "conv2": 20, "encoder_layers": 100, "projector": 30, "text_layers": 1000, "lm_head": 200,
             "n_enc": 2, "d_enc": 8, "n_dec": 3, "d_attn": 16}
    f_enc = 2 * (10 * 3000 + 120 * 1500) + 4 * 2 * 1500**2 * 8
    f_proj = 2 * 30 * 375
    f_text = 2 * 1200 * 500 + 4 * 3 * 16 * 500**2
    assert gpu.step_flops(sizes, "full", 1, [500]) == f_enc + 3 * (f_proj + f_text)
    assert gpu.step_flops(sizes, "lora", 1, [500], lora_params=7) == f_enc + f_proj + 2 * f_text + 6 * 7 * 500


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_gpu_check_runs_end_to_end_on_cpu_with_two_plus_two_layers(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--layers", "2", "--device", "cpu", "--batch-sizes", "1", "--steps", "1",
         "--utterances", "2", "--new-tokens", "4", "--peak-tflops", "1", "--json", str(out)],
        capture_output=True, text=True, env=trainer_env(), timeout=2300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (tmp_path / "stdout.txt").write_text(proc.stdout)
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("device: CPU"))
    assert "2 encoder + 2 decoder layers" in header and "vocabulary 131072" in header

    def table(first_column: str, columns: list[str]) -> list[dict]:
        start = next(i for i, line in enumerate(lines) if line.strip().startswith(first_column))
        assert re.split(r"\s{2,}", lines[start].strip()) == columns
        rows = []
        for line in lines[start + 1:]:
            if not line.strip():
                break
            cells = re.split(r"\s{2,}", line.strip())
            assert len(cells) == len(columns), line
            rows.append(dict(zip(columns, cells)))
        return rows

    gpu = _bench()
    train = table("method", gpu.TRAIN_COLUMNS)
    assert [(r["method"], r["batch"]) for r in train] == [("lora", "1"), ("full", "1")]
    for r in train:
        assert float(r["step ms"]) > 0 and float(r["tokens/s"]) > 0 and 0 < float(r["TFLOP/s"]) < 1
        assert 0 < float(r["MFU"].rstrip("%")) < 100  # against the 1 TFLOP/s given
        assert 1 < float(r["peak GiB"]) < 20 and float(r["encoder ms"]) > 0
        assert 0 < float(r["encoder share"].rstrip("%")) < 100
    gen = table("generation", gpu.GEN_COLUMNS)
    assert [r["generation"] for r in gen] == ["one at a time", "batched"]
    assert all(r["utterances"] == "2" and r["new tokens"] == "4" and float(r["utt/s"]) > 0 for r in gen)

    data = json.loads(out.read_text())
    assert data["layers"] == {"encoder": 2, "decoder": 2} and data["parameters"]["lm_head"] == 131072 * 3072
    for row in data["train"]:  # the printed TFLOP/s is the formula's FLOPs over the step time
        assert row["step_flops"] / row["step_s"] / 1e12 == pytest.approx(row["tflops"])
        assert row["tokens"] > 375
    lora, full = data["train"]
    assert lora["trainable"] < full["trainable"] / 100  # adapters only vs the whole text side
