"""The trainer process: ``python -m voxstudio.training.train RUN_DIR [--resume]``.

Runs detached from the UI (the queue supervisor starts it); everything it tells the world goes through the run
folder (status.json, eval_results.json, output/ …) and stdout (train.log). Steps, like transformers'
speech-recognition example: 1 config, 2 data, 3 model, 4 baseline WER, 5 train (WER every N steps, best
checkpoint, early stopping, SIGTERM → checkpoint + ``stopped``), 6 final WER and outputs.

``cfg.auto_language_fraction`` of the training clips are encoded without the language hint (auto mode). The
baseline and the WER every N steps (which picks the best checkpoint) are measured with each clip's hint; at the
end the base model and the output are also measured without it, both loaded through ``inference`` as a user
loads them (eval_results.json ``"auto"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import runfolder
from voxstudio.runs.rundata import select_clips
from voxstudio.training import checkpoints, scoring
from voxstudio.training.config import RunConfig, load_dtype, to_lora_config, to_training_arguments
from voxstudio.training.evaluate import Interrupted, eval_results, summarize, transcribe_clips

# How often status.json and the progress line are written (seconds; 0 = every step, e.g. for debugging).
STATUS_EVERY_S = float(os.environ.get("VOXSTUDIO_STATUS_EVERY_S", "2.0"))
BEST_DIR = "best"
OOM_HINT = ("out of memory: lower batch size (now {bs}), raise grad accumulation instead, turn on gradient "
            "checkpointing, use LoRA instead of full fine-tuning, or lower max eval utterances / max new tokens")


class Stop:
    """SIGTERM flag: the handler only sets it; the training loop and the evaluator check it."""

    requested = False

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(cls, "requested", True))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def status(run_dir: Path, **fields) -> None:
    if is_main():
        runfolder.write_status(run_dir, **fields)


# ----- 1. config and launch -----
def relaunch_distributed(cfg: RunConfig, run_dir: Path, resume: bool) -> int:
    """Re-run this module under torchrun with ``cfg.gpus`` processes (gloo on CPU); returns its exit code."""
    import torch

    n = cfg.gpus if not torch.cuda.is_available() else min(cfg.gpus, torch.cuda.device_count())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           "-m", "voxstudio.training.train", str(run_dir)] + (["--resume"] if resume else [])
    log(f"launching {n} processes: {' '.join(cmd[1:])}")
    env = dict(os.environ)
    if not torch.cuda.is_available():  # share the cores between the CPU ranks instead of oversubscribing
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    proc = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    return proc.wait()


# ----- 3. model -----
def load_model_and_processor(cfg: RunConfig, cuda: bool, bf16: bool):
    """Base model (hub id, local folder or tiny) + processor, with a clear error when unavailable."""
    import torch
    from transformers import AutoProcessor, VoxtralForConditionalGeneration

    from voxstudio.models import looks_like_path
    from voxstudio.training.tiny import resolve_model

    source = resolve_model(cfg.base_model)
    if looks_like_path(source) and not Path(source).expanduser().exists():
        raise ValueError(f"base model folder {source} does not exist: check the path or choose a Hub model id")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[load_dtype(cfg, cuda, bf16)]
    try:
        processor = AutoProcessor.from_pretrained(source)
        model = VoxtralForConditionalGeneration.from_pretrained(source, dtype=dtype)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ValueError(
            f"could not load base model '{cfg.base_model}'"
            + (" (offline: HF_HUB_OFFLINE=1)" if offline else "")
            + ". Download it once while online (`hf download " + cfg.base_model + "`) or set the base "
            "model to a local folder that holds config.json, the weights and the tokenizer. Detail: "
            + str(exc).splitlines()[0]
        ) from None
    return model, processor, source


def prepare_model(model, cfg: RunConfig):
    """Freeze the audio tower (always for LoRA, by default for full); wrap LoRA around text layers only."""
    model.config.use_cache = False
    # the language model reads its own flag: without it a layer re-run by FSDP's activation checkpointing would
    # append to the training forward's KV cache a second time
    model.config.text_config.use_cache = False
    if cfg.method == "lora":
        from peft import get_peft_model

        for p in model.parameters():
            p.requires_grad_(False)
        model = get_peft_model(model, to_lora_config(cfg))
        # no enable_input_require_grads(): checkpointing is non-reentrant, and that hook would also make the
        # frozen audio tower's first convolution require grad (backprop through 0.64 B frozen parameters)
    elif cfg.freeze_audio_tower:
        for p in model.model.audio_tower.parameters():
            p.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log(f"model: {cfg.method}, {trainable:,} trainable of {total:,} parameters")
    return model


def save_output(model, processor, folder: Path, cfg: RunConfig, base_source: str, meta: dict | None = None,
                state_dict: dict | None = None) -> None:
    """Adapter (LoRA) or full model + processor files, written aside and swapped in (a kill keeps old or new).

    ``meta`` (e.g. the best checkpoint's step and WER) is saved inside the folder, so it always describes the
    weights next to it; ``state_dict``: the gathered full weights of a sharded (FSDP) model."""
    tmp = checkpoints.staging(folder)
    model.save_pretrained(tmp, state_dict=state_dict)
    processor.save_pretrained(tmp)
    if cfg.method == "lora":
        path = tmp / "adapter_config.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["base_model_name_or_path"] = base_source
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    if meta is not None:
        runfolder.write_json_atomic(tmp / checkpoints.META, meta)
    checkpoints.swap_in(tmp, folder)


def release_training_memory(trainer) -> None:
    """Drop the trained model, optimizer and scheduler (the output is on disk) before models are loaded again for
    the auto-mode evaluation, so the copies never share the GPU."""
    from voxstudio.training.evaluate import free_memory

    try:
        trainer.accelerator.free_memory()
    except Exception:  # noqa: BLE001 - best effort; the references below go anyway
        pass
    trainer.model = trainer.model_wrapped = trainer.optimizer = trainer.lr_scheduler = None
    free_memory()


def auto_mode_rows(run_dir: Path, cfg: RunConfig, base_source: str, eval_refs, device, dtype, final_rows):
    """(base, output) rows without the language hint (``evaluate.hintless_rows``, one model at a time); (None,
    None) without eval clips or hinted final rows; what a stop request cuts short stays None (the output stays)."""
    from voxstudio.training.evaluate import hintless_rows

    rows: dict[str, list[dict]] = {}
    output = (str(run_dir / runfolder.OUTPUT), base_source if cfg.method == "lora" else None)
    for name, (model, base) in ({"base": (base_source, None), "output": output} if eval_refs and final_rows
                                else {}).items():
        status(run_dir, phase="evaluating", message=f"measuring the {name} model's WER without the language hint")
        try:
            rows[name] = hintless_rows(model, base, eval_refs, cfg.max_new_tokens, device=device, dtype=dtype,
                                       should_stop=lambda: Stop.requested)
        except Interrupted:
            log(f"{name} without the language hint (auto): not measured, stop requested")
            break
        s = summarize(rows[name])
        log(f"{name} without the language hint (auto): WER {s['wer']:.3f} CER {s['cer']:.3f} on {s['n']} clips")
    return rows.get("base"), rows.get("output")


# ----- main -----
def train(run_dir: Path, resume: bool) -> int:
    import torch

    Stop.install()
    cfg = RunConfig.load(run_dir / runfolder.CONFIG)
    if cfg.gpus > 1 and "WORLD_SIZE" not in os.environ:
        status(run_dir, state="running", phase="launching", message=f"starting {cfg.gpus} processes")
        code = relaunch_distributed(cfg, run_dir, resume)
        final = runfolder.read_status(run_dir).get("state")
        if code != 0 and final not in runfolder.FINAL_STATES:
            status(run_dir, state="failed", message=f"distributed launch exited with code {code}")
        return 0 if final == "stopped" else code
    os.environ["TRACKIO_DIR"] = str(workspace.trackio_dir())  # before trackio is imported (by the Trainer)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    status(run_dir, state="running", phase="loading", step=0, message="loading data and model",
           pid=os.getpid())
    log(f"run {cfg.run_name}: {cfg.method} on {cfg.base_model}, dataset {cfg.dataset}, "
        f"{'cuda' if cuda else 'cpu'}, world size {os.environ.get('WORLD_SIZE', '1')}")

    # 2. data
    train_refs, eval_refs, note = select_clips(cfg, run_dir)  # the run's frozen clips
    log(f"data: {len(train_refs)} training clips, {len(eval_refs)} evaluation clips" + (f" ({note})" if note else ""))
    model, processor, base_source = load_model_and_processor(cfg, cuda, bf16)
    from voxstudio.training.collator import VoxtralCollator
    from voxstudio.training.features import AutoLanguageEpochs, build_features

    train_set = build_features(processor, train_refs, log=log, auto_fraction=cfg.auto_language_fraction,
                               seed=cfg.seed)

    # 3. model (the frozen encoder part runs without autograd, each chunk once: training/encoder.py)
    torch.manual_seed(cfg.seed)
    model = prepare_model(model, cfg)
    from voxstudio.training import encoder

    encoder_cache = encoder.install(model, workspace.cache_dir() / encoder.CACHE_SUBDIR, base_source)
    if encoder_cache is not None:
        log(f"encoder: frozen {encoder_cache.stage} outputs cached per 30 s chunk in {encoder_cache.folder}")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    sharded = cfg.sharding == "fsdp" and world > 1  # the Trainer (accelerate) shards the model over the ranks
    if cuda and world > 1:
        torch.cuda.set_device(device)  # NCCL's object collectives use the current device

    # 4. baseline (before the first step; reused on resume; with FSDP measured by the callback, in lockstep)
    def record_baseline(rows: list[dict]) -> None:
        b = summarize(rows)
        log(f"baseline: WER {b['wer']:.3f} CER {b['cer']:.3f} on {b['n']} clips")
        doc = eval_results(rows, None, note)
        runfolder.write_json_atomic(run_dir / runfolder.EVAL_RESULTS,
                                    {**doc, "baseline_rows": rows, "clip_ids": [r.clip_id for r in eval_refs]})
        status(run_dir, baseline_wer=b["wer"], eval_clips=b["n"])

    saved = runfolder.read_json(run_dir / runfolder.EVAL_RESULTS, {}) or {}
    baseline_rows = saved.get("baseline_rows") if saved.get("clip_ids") == [r.clip_id for r in eval_refs] else None
    if is_main() and baseline_rows is None and not sharded:
        status(run_dir, phase="baseline", message=f"measuring baseline WER on {len(eval_refs)} clips")
        from voxstudio.inference import Transcriber

        model.to(device)
        with torch.no_grad():
            baseline_rows = transcribe_clips(Transcriber(model, processor, device, "base"), eval_refs,
                                             cfg.max_new_tokens, should_stop=lambda: Stop.requested)
        model.train()
        record_baseline(baseline_rows)
    if Stop.requested:
        raise Interrupted()

    # 5. train
    from transformers import Trainer

    ckpt_dir = run_dir / runfolder.CHECKPOINTS
    if is_main():  # leftovers of a kill: half-done folder swaps, half-written checkpoints
        checkpoints.recover(run_dir / runfolder.OUTPUT, log)
        checkpoints.recover(ckpt_dir / BEST_DIR, log)
        checkpoints.remove_incomplete(ckpt_dir, log)
    args = to_training_arguments(cfg, ckpt_dir, report_to="trackio", cuda=cuda, bf16_ok=bf16)
    from voxstudio.training.callback import RunCallback

    def save_model(m, folder, meta=None):  # FSDP: called on every rank, which all join the gather of the shards
        state = trainer.accelerator.get_state_dict(m) if sharded else None
        if is_main():
            save_output(m, processor, folder, cfg, base_source, meta, state_dict=state)

    callback = RunCallback(run_dir, cfg, processor, eval_refs, baseline_rows or [], save_model=save_model,
                           best_dir=ckpt_dir / BEST_DIR, should_stop=lambda: Stop.requested, log=log,
                           rank=rank(), world_size=world, status_every_s=STATUS_EVERY_S, sharded=sharded,
                           record_baseline=record_baseline)
    trainer = checkpoints.resuming_trainer(Trainer, cfg.method, log)(model=model, args=args, train_dataset=train_set,
                                             data_collator=VoxtralCollator(
                                                 pad_token_id=processor.tokenizer.pad_token_id),
                                             callbacks=[callback, AutoLanguageEpochs(train_set)])
    callback.trainer = trainer
    if sharded and not trainer.is_fsdp_enabled:
        log("fsdp: accelerate shards only on GPUs; these CPU processes train data parallel, whole model each")
    if is_main():
        runfolder.write_json_atomic(run_dir / runfolder.TRAINING_CONFIG, {
            "training_arguments": json.loads(args.to_json_string()),
            "lora": to_lora_config(cfg).to_dict() if cfg.method == "lora" else None,
            "base_model_source": base_source, "train_clips": len(train_refs), "eval_clips": len(eval_refs),
            "auto_language_clips": len(train_set.auto),  # clips served without the hint per epoch (redrawn each)
        })
    latest = checkpoints.latest_complete(ckpt_dir) if resume else None
    last = str(latest) if latest else None
    if resume:
        log(f"resuming from {last}" if last else "no checkpoint to resume from: starting from step 0")
    result = trainer.train(resume_from_checkpoint=last)
    if callback.stopped or Stop.requested:
        raise Interrupted()

    # 6. final outputs (rank 0): the kept checkpoint, else the final weights (training.scoring's rule)
    baseline_rows = callback.baseline_rows  # with FSDP measured by the callback
    full_state = trainer.accelerator.get_state_dict(trainer.model) if sharded else None  # every rank gathers
    if is_main():
        final_rows = callback.best_rows
        best_dir = ckpt_dir / BEST_DIR
        kept = final_rows is not None and best_dir.exists()
        if kept:
            staged = checkpoints.staging(run_dir / runfolder.OUTPUT)
            shutil.copytree(best_dir, staged)
            checkpoints.swap_in(staged, run_dir / runfolder.OUTPUT)
            log(f"output: best checkpoint (step {callback.best_step}, WER {callback.best:.3f})")
        else:  # too few eval clips to choose, or no evaluation matched the base: the final weights, said so
            save_output(trainer.model, processor, run_dir / runfolder.OUTPUT, cfg, base_source, state_dict=full_state)
            final_rows = callback.last_rows
        dtype = next(trainer.model.parameters()).dtype  # the hinted rows were measured in it: auto rows too
        model = full_state = None  # noqa: F841 - the trainer's copies go before the output is loaded again
        release_training_memory(trainer)
        base_auto, final_auto = auto_mode_rows(run_dir, cfg, base_source, eval_refs, device, dtype, final_rows)
        doc = eval_results(baseline_rows or [], final_rows, note, baseline_auto=base_auto, finetuned_auto=final_auto)
        before, after = (doc["baseline"] or {}).get("wer"), (doc["finetuned"] or {}).get("wer")
        chosen = scoring.choice(len(eval_refs), kept, before, after, held_out=not note, best_step=callback.best_step)
        log(f"output: {chosen['selected_by']}; its WER rests on {len(eval_refs)} clip(s)"
            + (": WORSE than the base model" if chosen["worse_than_base"] else ""))
        runfolder.write_json_atomic(run_dir / runfolder.EVAL_RESULTS,
                                    {**doc, **chosen, "baseline_rows": baseline_rows,
                                     "clip_ids": [r.clip_id for r in eval_refs]})
        metrics = dict(result.metrics)
        # best_wer: only a kept checkpoint is "best" (never worse than the base); finetuned_wer: the output's WER
        metrics.update({"finetuned_wer": after, "best_wer": after if kept else None, "baseline_wer": before,
                        "finetuned_auto_wer": (doc["auto"]["finetuned"] or {}).get("wer"),
                        "baseline_auto_wer": (doc["auto"]["baseline"] or {}).get("wer"),
                        "global_step": result.global_step, **chosen})
        runfolder.write_json_atomic(run_dir / runfolder.TRAIN_RESULTS, metrics)
        status(run_dir, state="succeeded", phase="done", step=result.global_step, eta_s=0,
               best_wer=metrics["best_wer"], finetuned_wer=after, **chosen, message="finished")
        log(f"done: {result.global_step} steps, loss {result.training_loss:.4f}; output in {run_dir / 'output'}")
    return 0


def failure_message(exc: BaseException, cfg: RunConfig) -> str:
    """One readable line for status.json; out-of-memory names the settings to lower."""
    text = str(exc)
    if "out of memory" in text.lower() or type(exc).__name__ == "OutOfMemoryError":
        return OOM_HINT.format(bs=cfg.batch_size)
    if workspace.is_disk_full(exc):
        return str(workspace.disk_full(workspace.home()))
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxstudio.training.train", description="Train one voxstudio run.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if not (run_dir / runfolder.CONFIG).exists():
        print(f"error: no {runfolder.CONFIG} in {run_dir}", file=sys.stderr)
        return 2
    try:
        return train(run_dir, args.resume)
    except Interrupted:
        status(run_dir, state="stopped", phase="stopped", message="stopped by request; resume to continue")
        log("stopped")
        return 0
    except (ValueError, FileNotFoundError) as exc:
        status(run_dir, state="failed", phase="failed", message=str(exc))
        log(f"error: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach status.json with a readable message
        message = failure_message(exc, RunConfig.load(run_dir / runfolder.CONFIG))
        if workspace.is_disk_full(exc):
            runfolder.release_space(run_dir)  # room to write the failure itself
        status(run_dir, state="failed", phase="failed", message=message)
        traceback.print_exc()
        log(f"failed: {message}")
        return 1
    finally:
        close_process_group()


def close_process_group() -> None:
    """This rank's process group shut down before exit: a gloo rank that exits with it open (its peers still
    saving or evaluating) can abort in C++ ("terminate called…"), and torchrun then SIGTERMs the others."""
    dist = getattr(sys.modules.get("torch"), "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def exit_rank(code: int) -> None:
    """End with ``code``. Ranks other than 0 skip interpreter finalization (their work is on disk or with rank 0):
    tearing down gloo's threads at shutdown can abort ("terminate called…", seen once in a 2-process resume) and
    torchrun then SIGTERMs rank 0 mid-evaluation. Rank 0 exits normally (Trackio and the final files are its)."""
    if is_main():
        sys.exit(code)
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_rank(main())
