"""Trainer faults a user can cause: too little data, a wrong model, offline Hub, Stop at any time, resume.

Every case runs the real ``python -m voxstudio.training.train`` process and checks what the user sees: the exit
code, status.json's state and message, and the run folder.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import numpy as np
import pytest
from train_helpers import english_rows, make_dataset, make_run, run_trainer, trainer_cmd, trainer_env, wait_for_status

from voxstudio.data.dataset import Dataset
from voxstudio.runs import runfolder

pytestmark = pytest.mark.slow




def _start(run_dir, resume=False, **env):
    log = open(run_dir / runfolder.LOG, "ab")
    return subprocess.Popen(trainer_cmd(run_dir, resume), stdout=log, stderr=subprocess.STDOUT,
                            env=trainer_env(**env))


@pytest.mark.parametrize("n_clips", [0, 1])
def test_too_few_clips_fails_with_a_clear_message(home, n_clips):
    if n_clips:
        make_dataset("small", english_rows(1))
    else:
        Dataset.create("small", languages=["en"])
    run = make_run("few", "small")
    assert run_trainer(run).returncode == 1
    status = runfolder.read_status(run)
    assert status["state"] == "failed"
    assert f"has {n_clips} clip(s)" in status["message"] and "record at least 2" in status["message"]
    assert not (run / runfolder.OUTPUT).exists()


def test_missing_model_path_fails_naming_the_path(home):
    make_dataset("two", english_rows(2))
    run = make_run("nopath", "two", base_model="/no/such/voxtral-folder")
    assert run_trainer(run).returncode == 1
    status = runfolder.read_status(run)
    assert status["state"] == "failed"
    assert "/no/such/voxtral-folder does not exist" in status["message"]


def test_unreachable_hub_id_offline_says_how_to_use_a_local_copy(home):
    make_dataset("two", english_rows(2))
    run = make_run("offline", "two", base_model="nobody-here/voxtral-missing", method="lora")
    assert run_trainer(run, HF_HUB_OFFLINE="1").returncode == 1
    message = runfolder.read_status(run)["message"]
    assert "nobody-here/voxtral-missing" in message and "offline" in message and "local folder" in message


def _long_rows(n: int, seconds: float = 120.0) -> list[dict]:
    """``n`` clips of ``seconds`` of real speech (the short English commands back to back, each clip in its own
    order): a generation budget grows with a clip's length (``inference.max_new_tokens_for``: 120 s → 976)."""
    from voxstudio.inference import load_audio_array

    rows = english_rows(8)
    waves = [load_audio_array(r["path"]) for r in rows]
    out = []
    for i in range(n):
        order = [(i + k) % len(rows) for k in range(len(rows))]
        wave = np.concatenate([waves[k] for k in order])
        reps = int(np.ceil(seconds * 16000 / wave.size))
        out.append({"path": np.tile(wave, reps)[: int(seconds * 16000)],
                    "text": " ".join(rows[k]["text"] for k in order), "language": "en"})
    return out


def test_stop_during_baseline_evaluation_ends_stopped_with_exit_0(home):
    make_dataset("proof", _long_rows(4))
    # The random tiny model never says EOS, so long clips (long budgets, no cap) make the baseline take a while.
    run = make_run("stop-baseline", "proof", eval_fraction=0.0, max_new_tokens=0, max_steps=5)
    proc = _start(run)
    wait_for_status(run, lambda s: s.get("phase") == "baseline")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    status = runfolder.read_status(run)
    assert status["state"] == "stopped" and "resume" in status["message"]
    assert "baseline: WER" not in (run / runfolder.LOG).read_text()


def test_stop_during_training_saves_a_checkpoint_and_resume_finishes(home):
    make_dataset("proof", english_rows(4))
    run = make_run("stop-resume", "proof", eval_fraction=0.0, max_steps=60, eval_every=1000, max_new_tokens=4)
    # Status every step, so the test can stop it early however fast this machine trains (~20 steps/s idle).
    proc = _start(run, VOXSTUDIO_STATUS_EVERY_S="0")
    wait_for_status(run, lambda s: (s.get("step") or 0) >= 5 and s.get("phase") == "training")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    status = runfolder.read_status(run)
    assert status["state"] == "stopped"
    checkpoints = sorted((run / runfolder.CHECKPOINTS).glob("checkpoint-*"))
    assert checkpoints, "a stopped run keeps a checkpoint"
    stopped_at = int(checkpoints[-1].name.split("-")[1])
    assert 5 <= stopped_at < 60

    assert run_trainer(run, resume=True).returncode == 0
    log = (run / runfolder.LOG).read_text()
    assert f"resuming from {checkpoints[-1]}" in log
    assert log.count("baseline: WER") == 1  # the baseline is measured once, reused on resume
    status = runfolder.read_status(run)
    assert status["state"] == "succeeded" and status["step"] == 60
    results = json.loads((run / runfolder.TRAIN_RESULTS).read_text())
    assert results["global_step"] == 60
    assert (run / runfolder.OUTPUT / "model.safetensors").exists()


def test_out_of_memory_message_names_the_settings_to_lower():
    import torch

    from voxstudio.training.config import RunConfig
    from voxstudio.training.train import failure_message

    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    message = failure_message(oom, RunConfig(dataset="d", batch_size=8))
    assert message.startswith("out of memory") and "batch size (now 8)" in message
    assert "gradient checkpointing" in message and "LoRA" in message
    assert failure_message(RuntimeError("boom\ndetails"), RunConfig(dataset="d")) == "RuntimeError: boom"
