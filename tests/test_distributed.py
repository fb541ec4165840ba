"""Several trainer processes (``--gpus N``): collectives on the backend's device, Stop on a 2-process run, FSDP.

The fast tests pin the settings (``sharding`` validated, its one mapping to TrainingArguments, the CLI flag) and
the device rule of the collectives (NCCL: this rank's GPU; gloo: the CPU). The slow ones run the real trainer
as 2 CPU processes over gloo: Stop through the process group as the queue sends it, then resume; and FSDP2 —
accelerate shards only on GPUs, so the FSDP runs put ``tests/fsdp_on_cpu`` (a test-only ``sitecustomize``
that lets accelerate accept the FSDP plugin in CPU processes) first on the trainers' PYTHONPATH.
"""

from __future__ import annotations

import json
import re
import signal
import time

import pytest
import torch
from conftest import ROOT
from safetensors.torch import load_file
from train_helpers import english_rows, make_dataset, make_run, run_trainer, trainer_cmd, trainer_env

from voxstudio.cli import build_parser
from voxstudio.cli.training import build_config
from voxstudio.runs import processes, runfolder
from voxstudio.training import distributed
from voxstudio.training.config import RunConfig, cli_command, to_training_arguments

FSDP_ON_CPU = ROOT / "tests" / "fsdp_on_cpu"


# ----- fast: settings, mapping, device rule -----
def test_sharding_is_validated_and_fsdp_needs_several_gpus():
    assert RunConfig(dataset="d").sharding == "none"
    assert "sharding" in RunConfig(dataset="d", sharding="zero3", gpus=2).errors()
    assert "2 or more gpus" in RunConfig(dataset="d", sharding="fsdp", gpus=1).errors()["sharding"]
    assert RunConfig(dataset="d", sharding="fsdp", gpus=2).errors() == {}


def test_fsdp_maps_to_fsdp2_full_state_dict_and_one_activation_checkpointing(tmp_path):
    plain = to_training_arguments(RunConfig(dataset="d", gpus=2), tmp_path, report_to="none", cuda=False,
                                  bf16_ok=False)
    assert not plain.fsdp and plain.fsdp_plugin_args is None and plain.activation_checkpointing

    full = RunConfig(dataset="d", gpus=2, sharding="fsdp", method="full", gradient_checkpointing=True)
    args = to_training_arguments(full, tmp_path, report_to="none", cuda=False, bf16_ok=False)
    assert args.fsdp is True and args.fsdp_config["version"] == 2
    assert args.fsdp_config["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"  # layers: the model's _no_split_modules
    assert args.fsdp_plugin_args["state_dict_type"] == "FULL_STATE_DICT"  # checkpoints load like any model
    assert args.fsdp_plugin_args["activation_checkpointing"] and not args.activation_checkpointing  # FSDP's, once

    lora = to_training_arguments(full.replace(method="lora"), tmp_path, report_to="none", cuda=False, bf16_ok=False)
    assert lora.fsdp is True and not lora.fsdp_plugin_args["activation_checkpointing"]
    assert lora.activation_checkpointing  # transformers' own: peft saves an empty adapter behind FSDP's wrappers


def test_fsdp_cli_flag_and_equivalent_command():
    args = build_parser().parse_args(["train", "--dataset", "d", "--run", "r", "--gpus", "2", "--fsdp"])
    cfg = build_config(args)
    assert (cfg.sharding, cfg.gpus) == ("fsdp", 2)
    assert "--fsdp" in cli_command(cfg).split()
    plain = build_config(build_parser().parse_args(["train", "--dataset", "d", "--run", "r"]))
    assert plain.sharding == "none" and "--fsdp" not in cli_command(plain)


def test_collectives_use_this_ranks_gpu_under_nccl_and_the_cpu_under_gloo(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a: "nccl")
    assert distributed.collective_device() == torch.device("cuda", 3)
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a: "gloo")
    assert distributed.collective_device() == torch.device("cpu")


def test_agree_ors_each_flag_over_the_ranks_with_one_all_reduce(monkeypatch):
    assert distributed.agree(True, False) == (True, False)  # one process: no collective
    seen = []

    def all_reduce(t, op):
        seen.append(t.device)
        t.copy_(torch.maximum(t, torch.tensor([0, 1], dtype=t.dtype)))  # the other rank says (False, True)

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a: "gloo")
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    assert distributed.agree(True, False) == (True, True)
    assert seen == [torch.device("cpu")]


# ----- slow: the real trainer as 2 CPU processes (gloo) -----
def _wait_for(run_dir, predicate, timeout=180.0):
    end = time.time() + timeout
    while time.time() < end:
        status = runfolder.read_status(run_dir)
        if predicate(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"status never matched; last: {runfolder.read_status(run_dir)}; log: "
                         f"{(run_dir / runfolder.LOG).read_text()[-3000:]}")


def _stop_like_the_queue(run_dir, at_step: int, **env) -> int:
    """Start the trainer detached (own process group, as the supervisor does), SIGTERM the group once it has
    trained ``at_step`` steps (as ``queue.stop`` does), and return its exit code."""
    proc = processes.spawn(trainer_cmd(run_dir), run_dir / runfolder.LOG,
                           trainer_env(VOXSTUDIO_STATUS_EVERY_S="0", **env))
    job = {"pid": proc.pid, "proc_start": processes.start_time(proc.pid)}
    _wait_for(run_dir, lambda s: (s.get("step") or 0) >= at_step and s.get("phase") == "training")
    assert processes.signal_group(job, signal.SIGTERM)
    return proc.wait(timeout=120)


def _stopped_checkpoint(run_dir, max_steps: int) -> int:
    status = runfolder.read_status(run_dir)
    assert status["state"] == "stopped", status
    saved = sorted((run_dir / runfolder.CHECKPOINTS).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert saved, "a stopped run keeps a checkpoint"
    step = int(saved[-1].name.split("-")[1])
    assert 3 <= step < max_steps
    return step


@pytest.mark.slow
def test_stop_on_a_two_process_run_stops_both_ranks_checkpoints_and_resumes(home):
    make_dataset("proof", english_rows(4))
    run = make_run("ddp-stop", "proof", method="full", eval_fraction=0.0, max_steps=60, eval_every=1000,
                   batch_size=2, gpus=2, max_new_tokens=4)
    assert _stop_like_the_queue(run, at_step=3) == 0
    log = (run / runfolder.LOG).read_text()
    assert log.count("world size 2") == 2
    assert log.count("stop requested: saving a checkpoint at step") == 2, log[-3000:]  # both ranks, same decision
    step = _stopped_checkpoint(run, 60)
    assert f"stop requested: saving a checkpoint at step {step}" in log

    assert run_trainer(run, resume=True).returncode == 0
    log = (run / runfolder.LOG).read_text()
    assert log.count(f"resuming from {run / runfolder.CHECKPOINTS / f'checkpoint-{step}'}") == 2
    assert log.count("baseline: WER") == 1  # measured once, reused on resume
    status = runfolder.read_status(run)
    assert status["state"] == "succeeded" and status["step"] == 60
    assert json.loads((run / runfolder.TRAIN_RESULTS).read_text())["global_step"] == 60
    assert (run / runfolder.OUTPUT / "model.safetensors").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_fsdp_two_process_run_shards_evaluates_in_lockstep_stops_and_resumes(home, method):
    from voxstudio.inference import load_transcriber

    # 6 clips: enough to choose a best checkpoint, which every rank then gathers for rank 0 to save
    make_dataset("proof", english_rows(6))
    extra = {"learning_rate": 3e-3, "lora_r": 4, "lora_alpha": 8} if method == "lora" else {}
    run = make_run(f"fsdp-{method}", "proof", method=method, eval_fraction=0.0, max_steps=40, eval_every=10,
                   batch_size=2, gpus=2, sharding="fsdp", gradient_checkpointing=True, max_new_tokens=4, **extra)
    path = f"{FSDP_ON_CPU}:{ROOT}"
    assert _stop_like_the_queue(run, at_step=4, PYTHONPATH=path) == 0
    step = _stopped_checkpoint(run, 40)
    checkpoint = run / runfolder.CHECKPOINTS / f"checkpoint-{step}"
    assert (checkpoint / "pytorch_model_fsdp.bin").exists() and (checkpoint / "optimizer.bin").exists()  # sharded

    assert run_trainer(run, resume=True, PYTHONPATH=path).returncode == 0
    log = (run / runfolder.LOG).read_text()
    assert "train data parallel" not in log and log.count("baseline: WER") == 1
    assert f"resuming from {checkpoint}" in log
    if method == "full":  # the resumed run starts from step N's weights, not the base's (whose loss is ~5.9)
        before, after = log.split(f"resuming from {checkpoint}", 1)
        losses = [float(x) for x in re.findall(r"\{'loss': '([0-9.]+)'", before)]
        resumed = float(re.search(r"\{'loss': '([0-9.]+)'", after).group(1))
        assert resumed < losses[0] - 0.1, (losses, resumed)
    status = runfolder.read_status(run)
    assert status["state"] == "succeeded" and status["step"] == 40, status
    assert (run / runfolder.CHECKPOINTS / "best" / "voxstudio-best.json").exists()
    output = run / runfolder.OUTPUT
    weights = load_file(str(output / ("adapter_model.safetensors" if method == "lora" else "model.safetensors")))
    assert weights and all(isinstance(v, torch.Tensor) and v.numel() for v in weights.values())
    if method == "lora":
        assert {k for k in weights if "lora_A" in k}  # not the empty adapter peft writes behind FSDP's wrappers
    out = load_transcriber(str(output), device="cpu").transcribe(english_rows(1)[0]["path"], language="en",
                                                                  max_new_tokens=4)
    assert out.n_tokens >= 1


@pytest.mark.slow
def test_fsdp_on_cpu_without_the_test_shim_trains_data_parallel_and_says_so(home):
    make_dataset("proof", english_rows(4))
    run = make_run("fsdp-cpu", "proof", method="full", eval_fraction=0.0, max_steps=2, eval_every=1000,
                   batch_size=2, gpus=2, sharding="fsdp", max_new_tokens=2)
    assert run_trainer(run).returncode == 0, (run / runfolder.LOG).read_text()[-3000:]
    assert "accelerate shards only on GPUs" in (run / runfolder.LOG).read_text()
    assert runfolder.read_status(run)["state"] == "succeeded"
