"""The trainer process: ``python -m voxstudio.training.train RUN_DIR [--resume]``.

Runs detached from the UI (voxstudio.runs.jobs starts it); everything it tells the world goes through the run
folder (status.json, eval_results.json, output/ …) and stdout (train.log). Steps, like transformers'
speech-recognition example: 1 config, 2 data, 3 model, 4 baseline WER, 5 train (WER every N steps, best
checkpoint, early stopping, SIGTERM → checkpoint + ``stopped``), 6 final WER and outputs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import runfolder
from voxstudio.training.config import RunConfig, to_lora_config, to_training_arguments
from voxstudio.training.evaluate import Interrupted, eval_results, select_clips, summarize, transcribe_clips

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

    from voxstudio.inference import looks_like_path
    from voxstudio.training.tiny import resolve_model

    source = resolve_model(cfg.base_model)
    if looks_like_path(source) and not Path(source).expanduser().exists():
        raise ValueError(f"base model folder {source} does not exist: check the path or choose a Hub model id")
    dtype = torch.bfloat16 if (cuda and bf16 and cfg.method == "lora") else torch.float32
    try:
        processor = AutoProcessor.from_pretrained(source)
        model = VoxtralForConditionalGeneration.from_pretrained(source, dtype=dtype)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ValueError(
            f"could not load base model '{cfg.base_model}'"
            + (" (offline: HF_HUB_OFFLINE=1)" if offline else "")
            + ". Download it once while online (huggingface-cli download " + cfg.base_model + ") or set the base "
            "model to a local folder that holds config.json, the weights and the tokenizer. Detail: "
            + str(exc).splitlines()[0]
        ) from None
    return model, processor, source


def prepare_model(model, cfg: RunConfig):
    """Freeze the audio tower (always for LoRA, by default for full); wrap LoRA around text layers only."""
    model.config.use_cache = False
    if cfg.method == "lora":
        from peft import get_peft_model

        for p in model.parameters():
            p.requires_grad_(False)
        model = get_peft_model(model, to_lora_config(cfg))
        if cfg.gradient_checkpointing:
            model.enable_input_require_grads()
    elif cfg.freeze_audio_tower:
        for p in model.model.audio_tower.parameters():
            p.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log(f"model: {cfg.method}, {trainable:,} trainable of {total:,} parameters")
    return model


def save_output(model, processor, folder: Path, cfg: RunConfig, base_source: str) -> None:
    """Adapter (LoRA) or full model + processor files, written aside and renamed into place."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    if cfg.method == "lora":
        path = tmp / "adapter_config.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["base_model_name_or_path"] = base_source
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


# ----- 5. training callback -----
def make_callback(run_dir: Path, cfg: RunConfig, processor, eval_refs, baseline_rows, note, base_source):
    import torch
    from transformers import TrainerCallback

    from voxstudio.inference import Transcriber

    class RunCallback(TrainerCallback):
        """Status, WER every N steps, best checkpoint, early stopping and graceful stop."""

        def __init__(self):
            self.t0 = None
            self.t_last = 0.0
            self.eval_s = 0.0
            self.best = (summarize(baseline_rows)["wer"] if baseline_rows else math.inf)
            self.best_step = 0
            self.best_rows = None
            self.last_rows = None
            self.bad_evals = 0
            self.trainer = None
            self.loss = None
            self.stopped = False

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.start_step = time.time(), state.global_step
            best = runfolder.read_json(run_dir / "best.json", None) if state.global_step > 0 else None
            if best and best.get("step", 0) <= state.global_step and (run_dir / runfolder.CHECKPOINTS / BEST_DIR).exists():
                # resumed: the best checkpoint saved before the stop still counts
                self.best, self.best_step, self.best_rows = best["wer"], best["step"], best["rows"]
            if self.trainer is not None and baseline_rows and state.global_step == 0:
                b = summarize(baseline_rows)
                self.trainer.log({"eval_wer": b["wer"], "eval_cer": b["cer"]})
            status(run_dir, state="running", phase="training", total_steps=state.max_steps, step=state.global_step,
                   message="training")

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.loss = float(logs["loss"])

        def _eta(self, state) -> float | None:
            done = state.global_step - self.start_step
            if done <= 0:
                return None
            per = (time.time() - self.t0 - self.eval_s) / done
            return round(per * (state.max_steps - state.global_step), 1)

        def evaluate(self, model, state) -> bool:
            """WER on the eval clips (sharded over ranks); returns False when a stop interrupted it."""
            t = time.time()
            status(run_dir, phase="evaluating", message=f"measuring WER at step {state.global_step}")
            was_training = model.training
            transcriber = Transcriber(model, processor, next(model.parameters()).device, "training")
            world = int(os.environ.get("WORLD_SIZE", "1"))
            complete = True
            try:
                with torch.no_grad():  # each rank transcribes its share; every rank runs the same collectives
                    rows = transcribe_clips(transcriber, eval_refs[rank()::world], cfg.max_new_tokens,
                                            should_stop=lambda: Stop.requested)
            except Interrupted:
                rows, complete = [], False
            model.train(was_training)
            if world > 1:
                shares = [None] * world
                torch.distributed.all_gather_object(shares, (complete, rows))
                complete = all(c for c, _ in shares)
                order = {r.clip_id: i for i, r in enumerate(eval_refs)}
                rows = sorted((r for _, share in shares for r in share), key=lambda r: order[r["clip_id"]])
            self.eval_s += time.time() - t
            if not complete or not is_main():
                return complete
            s = summarize(rows)
            self.last_rows = rows
            log(f"step {state.global_step}: WER {s['wer']:.3f} CER {s['cer']:.3f} on {s['n']} clips")
            if self.trainer is not None:
                self.trainer.log({"eval_wer": s["wer"], "eval_cer": s["cer"]})
            if s["wer"] < self.best or self.best_rows is None and s["wer"] <= self.best:
                self.best, self.best_step, self.best_rows, self.bad_evals = s["wer"], state.global_step, rows, 0
                save_output(model, processor, run_dir / runfolder.CHECKPOINTS / BEST_DIR, cfg, base_source)
                runfolder.write_json_atomic(run_dir / "best.json", {"step": state.global_step, **s, "rows": rows})
            else:
                self.bad_evals += 1
            status(run_dir, phase="training", best_wer=self.best if self.best < math.inf else None,
                   last_wer=s["wer"], message="training")
            return True

        def on_step_end(self, args, state, control, model=None, **kw):
            step = state.global_step
            stop, early = Stop.requested, False
            if not stop and eval_refs and (step % cfg.eval_every == 0 or step == state.max_steps):
                keep = control.should_log  # Trainer.log() clears it: every rank must still gather the loss
                stop = not self.evaluate(model, state)
                control.should_log = keep
                early = bool(cfg.early_stopping_patience) and self.bad_evals >= cfg.early_stopping_patience
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every rank takes the same decision
                flags = torch.tensor([int(stop or Stop.requested), int(early)])
                torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                stop, early = bool(flags[0]), bool(flags[1])
            if stop:
                self.stopped = True
                control.should_save = True
                control.should_training_stop = True
                log(f"stop requested: saving a checkpoint at step {step}")
                return control
            if early:
                log(f"early stopping: no WER improvement in {cfg.early_stopping_patience} evaluations")
                control.should_training_stop = True
            now = time.time()
            if is_main() and (now - self.t_last >= STATUS_EVERY_S or step == state.max_steps):
                self.t_last = now
                eta = self._eta(state)
                status(run_dir, step=step, total_steps=state.max_steps, loss=self.loss, eta_s=eta)
                loss = f"{self.loss:.4f}" if self.loss is not None else "…"
                log(f"step {step}/{state.max_steps} loss {loss} eta {eta or 0:.0f}s")
            return control

    return RunCallback()


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
    train_refs, eval_refs, note = select_clips(cfg)
    log(f"data: {len(train_refs)} training clips, {len(eval_refs)} evaluation clips" + (f" ({note})" if note else ""))
    model, processor, base_source = load_model_and_processor(cfg, cuda, bf16)
    from voxstudio.training.collator import VoxtralCollator
    from voxstudio.training.features import build_features

    train_set = build_features(processor, train_refs, log=log)

    # 3. model
    torch.manual_seed(cfg.seed)
    model = prepare_model(model, cfg)
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")

    # 4. baseline (before the first step; reused on resume)
    saved = runfolder.read_json(run_dir / runfolder.EVAL_RESULTS, {}) or {}
    baseline_rows = saved.get("baseline_rows") if saved.get("clip_ids") == [r.clip_id for r in eval_refs] else None
    if is_main() and baseline_rows is None:
        status(run_dir, phase="baseline", message=f"measuring baseline WER on {len(eval_refs)} clips")
        from voxstudio.inference import Transcriber

        model.to(device)
        with torch.no_grad():
            baseline_rows = transcribe_clips(Transcriber(model, processor, device, "base"), eval_refs,
                                             cfg.max_new_tokens, should_stop=lambda: Stop.requested)
        model.train()
        b = summarize(baseline_rows)
        log(f"baseline: WER {b['wer']:.3f} CER {b['cer']:.3f} on {b['n']} clips")
        doc = eval_results(baseline_rows, None, note)
        runfolder.write_json_atomic(run_dir / runfolder.EVAL_RESULTS,
                                    {**doc, "baseline_rows": baseline_rows,
                                     "clip_ids": [r.clip_id for r in eval_refs]})
        status(run_dir, baseline_wer=b["wer"])
    if Stop.requested:
        raise Interrupted()

    # 5. train
    from transformers import Trainer
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = run_dir / runfolder.CHECKPOINTS
    args = to_training_arguments(cfg, ckpt_dir, report_to="trackio", cuda=cuda, bf16_ok=bf16)
    callback = make_callback(run_dir, cfg, processor, eval_refs, baseline_rows or [], note, base_source)
    trainer = Trainer(model=model, args=args, train_dataset=train_set,
                      data_collator=VoxtralCollator(pad_token_id=processor.tokenizer.pad_token_id),
                      callbacks=[callback])
    callback.trainer = trainer
    if is_main():
        runfolder.write_json_atomic(run_dir / runfolder.TRAINING_CONFIG, {
            "training_arguments": json.loads(args.to_json_string()),
            "lora": to_lora_config(cfg).to_dict() if cfg.method == "lora" else None,
            "base_model_source": base_source, "train_clips": len(train_refs), "eval_clips": len(eval_refs),
        })
    last = get_last_checkpoint(str(ckpt_dir)) if resume and ckpt_dir.exists() else None
    if resume:
        log(f"resuming from {last}" if last else "no checkpoint to resume from: starting from step 0")
    result = trainer.train(resume_from_checkpoint=last)
    if callback.stopped or Stop.requested:
        raise Interrupted()

    # 6. final outputs (rank 0)
    if is_main():
        final_rows = callback.best_rows
        best_dir = ckpt_dir / BEST_DIR
        if final_rows is not None and best_dir.exists():
            shutil.rmtree(run_dir / runfolder.OUTPUT, ignore_errors=True)
            shutil.copytree(best_dir, run_dir / runfolder.OUTPUT)
            log(f"output: best checkpoint (step {callback.best_step}, WER {callback.best:.3f})")
        else:  # no evaluation beat the baseline: keep the final weights, report them honestly
            save_output(trainer.model, processor, run_dir / runfolder.OUTPUT, cfg, base_source)
            final_rows = callback.last_rows
        doc = eval_results(baseline_rows or [], final_rows, note)
        runfolder.write_json_atomic(run_dir / runfolder.EVAL_RESULTS,
                                    {**doc, "baseline_rows": baseline_rows,
                                     "clip_ids": [r.clip_id for r in eval_refs]})
        metrics = dict(result.metrics)
        metrics.update({"best_wer": doc["finetuned"]["wer"] if doc["finetuned"] else None,
                        "baseline_wer": doc["baseline"]["wer"] if doc["baseline"] else None,
                        "best_step": callback.best_step, "global_step": result.global_step})
        runfolder.write_json_atomic(run_dir / runfolder.TRAIN_RESULTS, metrics)
        status(run_dir, state="succeeded", phase="done", step=result.global_step, eta_s=0,
               best_wer=metrics["best_wer"], message="finished")
        log(f"done: {result.global_step} steps, loss {result.training_loss:.4f}; output in {run_dir / 'output'}")
    return 0


def failure_message(exc: BaseException, cfg: RunConfig) -> str:
    """One readable line for status.json; out-of-memory names the settings to lower."""
    text = str(exc)
    if "out of memory" in text.lower() or type(exc).__name__ == "OutOfMemoryError":
        return OOM_HINT.format(bs=cfg.batch_size)
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
        status(run_dir, state="failed", phase="failed", message=message)
        import traceback

        traceback.print_exc()
        log(f"failed: {message}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
