"""Proof that training learns: the real trainer process on 8 real clips, checked through the shared
inference module. Also: LoRA touches only adapters, the audio encoder never moves, outputs reload to
identical logits (adapter and merged), and a 2-process CPU data-parallel run trains with rank 0 writing.

One trained run per mode is shared by the tests of this module (module-scoped fixtures).
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import speech_manifest
from safetensors.torch import load_file
from train_helpers import english_rows, make_dataset, make_run, run_trainer

from voxstudio.inference import load_transcriber
from voxstudio.runs import runfolder
from voxstudio.training import scoring
from voxstudio.training.tiny import tiny_path

pytestmark = pytest.mark.slow
MAX_NEW_TOKENS = 64


@pytest.fixture(scope="module")
def proof_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("learning") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOXSTUDIO_HOME", str(home))
        make_dataset("proof", english_rows())
        yield home


@pytest.fixture(scope="module")
def full_run(proof_home):
    """Full fine-tuning of the tiny model at a high learning rate, WER measured on the training clips."""
    run = make_run("proof-full", "proof", method="full", eval_fraction=0.0, max_steps=300, eval_every=100,
                   max_new_tokens=MAX_NEW_TOKENS)
    proc = run_trainer(run)
    assert proc.returncode == 0, (run / runfolder.LOG).read_text()[-3000:]
    return run


@pytest.fixture(scope="module")
def lora_run(proof_home):
    run = make_run("proof-lora", "proof", method="lora", eval_fraction=0.0, max_steps=30, eval_every=30,
                   learning_rate=3e-3, lora_r=4, lora_alpha=8, max_new_tokens=8, gradient_checkpointing=True)
    proc = run_trainer(run)
    assert proc.returncode == 0, (run / runfolder.LOG).read_text()[-3000:]
    return run


def _logits(transcriber, path: str) -> torch.Tensor:
    from voxstudio.inference import build_prompt, load_audio_array

    inputs = build_prompt(transcriber.processor, load_audio_array(path), "en")
    with torch.no_grad():
        return transcriber.model(**inputs).logits


def _base_state() -> dict:
    return load_file(str(tiny_path() / "model.safetensors"))


def test_full_finetune_transcribes_its_training_clips_and_stops_by_eos(full_run):
    transcriber = load_transcriber(str(full_run / runfolder.OUTPUT), device="cpu")
    exact, results = 0, []
    for row in english_rows():
        out = transcriber.transcribe(row["path"], language="en", max_new_tokens=MAX_NEW_TOKENS)
        results.append((row["text"], out.text))
        exact += scoring.cer(row["text"], out.text, "en") == 0.0
        assert out.stopped_by_eos, f"no EOS for {row['text']!r}: {out.text!r}"
        assert out.n_tokens < MAX_NEW_TOKENS // 2
    assert exact >= 7, results


def test_full_run_reports_baseline_and_finetuned_wer(full_run):
    status = runfolder.read_status(full_run)
    assert status["state"] == "succeeded" and status["step"] == status["total_steps"] == 300
    results = json.loads((full_run / runfolder.EVAL_RESULTS).read_text())
    assert results["baseline"]["wer"] >= 1.0 and results["finetuned"]["wer"] <= 0.125
    assert len(results["utterances"]) == 8
    assert {"reference", "baseline", "finetuned", "baseline_wer", "finetuned_wer", "audio_path"} <= set(
        results["utterances"][0])
    train_results = json.loads((full_run / runfolder.TRAIN_RESULTS).read_text())
    assert train_results["global_step"] == 300 and train_results["train_loss"] > 0
    assert (full_run / runfolder.TRAINING_CONFIG).exists() and (full_run / runfolder.OUTPUT / "tekken.json").exists()
    assert "baseline: WER" in (full_run / runfolder.LOG).read_text()


def test_full_finetune_leaves_the_audio_encoder_untouched(full_run):
    base, tuned = _base_state(), load_file(str(full_run / runfolder.OUTPUT / "model.safetensors"))
    audio = [k for k in base if "audio_tower" in k]
    text = [k for k in base if "language_model" in k and k.endswith("q_proj.weight")]
    assert audio and text
    assert all(torch.equal(base[k], tuned[k]) for k in audio)
    assert not any(torch.equal(base[k], tuned[k]) for k in text)


def test_lora_trains_adapters_only_text_model_and_base_stays_bit_identical(lora_run):
    adapter = load_file(str(lora_run / runfolder.OUTPUT / "adapter_model.safetensors"))
    assert adapter and all("language_model" in k for k in adapter), sorted(adapter)[:5]
    assert not any("audio_tower" in k for k in adapter)
    text_layers = json.loads((tiny_path() / "config.json").read_text())["text_config"]["num_hidden_layers"]
    layers = {int(k.split("language_model.layers.")[1].split(".")[0]) for k in adapter}
    assert layers == set(range(text_layers))  # every text layer carries adapters
    for layer in layers:
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):  # each default target, A and B
            for ab in ("lora_A", "lora_B"):
                assert any(f"layers.{layer}.self_attn.{proj}.{ab}.weight" in k for k in adapter), (layer, proj, ab)
    assert not any("mlp" in k or "multi_modal_projector" in k for k in adapter)  # not targeted by default
    # lora_B starts at zero: training moved it.
    assert all(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
    transcriber = load_transcriber(str(lora_run / runfolder.OUTPUT), device="cpu")
    base = load_transcriber(str(tiny_path()), device="cpu").model.state_dict()
    live = {k.replace("base_model.model.", "", 1).replace(".base_layer", ""): v
            for k, v in transcriber.model.state_dict().items() if "lora_" not in k}
    assert set(live) == set(base)
    for key, value in base.items():
        assert torch.equal(live[key], value), key  # base weights (audio encoder included) bit-identical


def test_outputs_reload_with_identical_logits_adapter_and_merged(lora_run, full_run, tmp_path):
    clip = str(english_rows()[0]["path"])
    adapter = load_transcriber(str(lora_run / runfolder.OUTPUT), device="cpu")
    again = load_transcriber(str(lora_run / runfolder.OUTPUT), device="cpu")
    base = load_transcriber(str(tiny_path()), device="cpu")
    logits = _logits(adapter, clip)
    assert torch.equal(logits, _logits(again, clip))
    assert not torch.allclose(logits, _logits(base, clip))  # the adapter really is applied
    merged = adapter.model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    adapter.processor.save_pretrained(tmp_path / "merged")
    reloaded = load_transcriber(str(tmp_path / "merged"), device="cpu")
    torch.testing.assert_close(_logits(reloaded, clip), logits, atol=1e-5, rtol=1e-5)

    full = load_transcriber(str(full_run / runfolder.OUTPUT), device="cpu")
    full.model.save_pretrained(tmp_path / "full")
    full.processor.save_pretrained(tmp_path / "full")
    assert torch.equal(_logits(load_transcriber(str(tmp_path / "full"), device="cpu"), clip), _logits(full, clip))


def test_two_process_cpu_data_parallel_run_trains_and_only_rank0_writes(proof_home):
    run = make_run("proof-ddp", "proof", method="full", eval_fraction=0.0, max_steps=6, eval_every=6,
                   batch_size=2, gpus=2, max_new_tokens=4)
    proc = run_trainer(run)
    log = (run / runfolder.LOG).read_text()
    assert proc.returncode == 0, log[-3000:]
    assert log.count("world size 2") == 2  # both ranks ran
    assert log.count("baseline: WER") == 1 and log.count("done: 6 steps") == 1  # only rank 0 evaluates/writes
    status = runfolder.read_status(run)
    assert status["state"] == "succeeded" and status["step"] == 6
    assert json.loads((run / runfolder.TRAIN_RESULTS).read_text())["global_step"] == 6
    assert (run / runfolder.OUTPUT / "model.safetensors").exists()
    kept = {runfolder.STATUS_LOCK, runfolder.RESERVE}  # the status lock and the disk reserve are meant to stay
    leftovers = [p.name for p in run.iterdir()
                 if (p.name.startswith(".") or p.name.endswith(".tmp")) and p.name not in kept]
    assert leftovers == []


def test_evaluate_run_and_its_command_report_the_finetuned_wer(full_run):
    import subprocess
    import sys

    from train_helpers import trainer_env

    from voxstudio.training.evaluate import evaluate_run

    result = evaluate_run(full_run, "eval", device="cpu")
    assert result["n"] == 8 and result["wer"] <= 0.125 and "training clips" in result["note"]
    assert {"reference", "hypothesis", "wer", "cer", "stopped_by_eos"} <= set(result["utterances"][0])
    proc = subprocess.run([sys.executable, "-m", "voxstudio.training.evaluate", "--run", "proof-full",
                           "--split", "train", "--json"],
                          capture_output=True, text=True, env=trainer_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["split"] == "train"
    missing = subprocess.run([sys.executable, "-m", "voxstudio.training.evaluate", "--run", "nope"],
                             capture_output=True, text=True, env=trainer_env(), timeout=300)
    assert missing.returncode == 1 and "error:" in missing.stderr


def test_trackio_holds_loss_and_wer_series_for_the_charts(full_run, proof_home):
    import sqlite3

    db = proof_home / "trackio" / "proof.db"  # project = dataset name, under $VOXSTUDIO_HOME/trackio
    with sqlite3.connect(db) as conn:
        rows = [json.loads(m) for (m,) in conn.execute(
            "SELECT metrics FROM metrics WHERE run_name = ? ORDER BY id", ("proof-full",))]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    wers = [(r["train/global_step"], r["eval/wer"]) for r in rows if "eval/wer" in r]
    assert len(losses) >= 250 and losses[-1] < losses[0] / 10
    assert wers[0][1] >= 1.0  # the baseline (random model) comes first, at step 0
    assert [s for s, _ in wers] == [0, 100, 200, 300] and wers[-1][1] == 0.0


# ----- LoRA learns on a base that already learned something -----
# A random tiny Voxtral cannot be taught by LoRA (its frozen random layers carry nothing to adapt). The base
# here is built the way a real base is: the full fine-tune above (8 English commands). LoRA then trains on 7
# French commands it never heard (new phrases, a new language) with that base frozen, and the shared
# inference module transcribes them before and after.
def french_rows() -> list[dict]:
    return [r for r in speech_manifest("clips") if r["language"] == "fr" and r["audio_path"].startswith("fr/stp_")]


def corpus_cer(transcriber, rows) -> tuple[float, list[tuple[str, str]]]:
    pairs = [(r["text"], transcriber.transcribe(r["path"], language="fr", max_new_tokens=MAX_NEW_TOKENS).text)
             for r in rows]
    return scoring.corpus_scores([p[0] for p in pairs], [p[1] for p in pairs], ["fr"] * len(pairs))["cer"], pairs


def test_lora_on_a_pretrained_tiny_base_lowers_cer_on_new_clips(full_run, proof_home):
    base_dir = full_run / runfolder.OUTPUT
    rows = french_rows()
    make_dataset("new-fr", rows)
    lora = make_run("fr-lora", "new-fr", base_model=str(base_dir), method="lora", eval_fraction=0.0,
                    max_steps=200, eval_every=200, learning_rate=5e-3, lora_r=16, lora_alpha=32, warmup_steps=10,
                    batch_size=4, lora_targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                "down_proj"], max_new_tokens=MAX_NEW_TOKENS,
                    gradient_checkpointing=False)
    assert run_trainer(lora, timeout=1800).returncode == 0, (lora / runfolder.LOG).read_text()[-3000:]
    before, said_before = corpus_cer(load_transcriber(str(base_dir), device="cpu"), rows)
    after, said_after = corpus_cer(load_transcriber(str(lora / runfolder.OUTPUT), base_model=str(base_dir),
                                                    device="cpu"), rows)
    print(f"CER on the new French clips: base {before:.3f} -> LoRA {after:.3f}\n{said_before}\n{said_after}")
    assert before > 0.5  # the English base does not know these phrases
    assert after < before / 2, (before, after, said_after)
