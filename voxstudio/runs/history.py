"""What a run did, for tables: one summary row per run, its recent steps, and its log made readable.

Stdlib only (the Train page imports it). Reads the run folder (runs.status), eval_results.json (the trainer's
claims, training.scoring.outcome) and Trackio's SQLite (runs.tracking); never writes.
"""

from __future__ import annotations

import ast
import re
import time

from voxstudio.runs import runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.training import scoring

STEP_KEYS = ("train/loss", "train/learning_rate", "train/grad_norm", "train/epoch")
# The settings "use these settings" carries from a past run's config.json into a new one (not its name,
# dataset or anything derived from the data).
REUSABLE = ("base_model", "method", "max_steps", "learning_rate", "batch_size", "grad_accum", "eval_every", "seed",
            "lora_r", "lora_alpha", "freeze_audio_tower", "precision", "languages")
# Trainer log dicts ("{'loss': '0.41', 'grad_norm': '1.3', 'learning_rate': '2e-4', 'epoch': '1.5'}"): the
# names a person reads, in the order they read them.
PROGRESS_BAR = re.compile(r"\d+%\|")  # a tqdm bar ("Loading weights: 100%|███| 45/45"): noise here
LOG_NAMES = {"loss": "loss", "eval_wer": "eval WER", "eval_cer": "eval CER", "grad_norm": "grad-norm",
             "learning_rate": "lr", "epoch": "epoch"}


def duration_s(s: runstatus.RunStatus, now: float | None = None) -> float | None:
    """Seconds from start to the end (or to now while running); None before it started."""
    if not s.started_at:
        return None
    end = (now or time.time()) if s.active else (s.updated_at or s.started_at)
    return max(0.0, float(end) - float(s.started_at))


def summary(s: runstatus.RunStatus) -> dict:
    """One history row: None where nothing is known yet (tables show it as blank, never "None")."""
    ev = runstatus.results(s.run)["eval"] or {}
    claims = scoring.outcome(ev) if ev.get("baseline") or ev.get("finetuned") else None
    loss = s.loss
    if loss is None:
        loss = tracking.latest(s.config.get("dataset", ""), s.run).get("train/loss")
    return {
        "run": s.run, "state": s.state, "dataset": s.config.get("dataset"), "model": s.config.get("base_model"),
        "method": s.config.get("method"), "steps": f"{s.step}/{s.total_steps or '?'}",
        "duration_s": duration_s(s), "final loss": loss,
        "baseline WER": claims.baseline if claims else s.baseline_wer,
        "fine-tuned WER": claims.finetuned if claims else s.finetuned_wer,
        "WER clips": (claims.wer_clips if claims else s.eval_clips) or None,
        "worse than base": bool(claims.worse_than_base) if claims else s.worse_than_base,
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created_at)) if s.created_at else None,
    }


def recent_steps(s: runstatus.RunStatus, last: int = 8) -> list[dict]:
    """The last ``last`` logged optimizer steps (step, loss, lr, grad-norm, epoch), newest first, from Trackio."""
    curves = tracking.series(s.config.get("dataset", ""), s.run, keys=STEP_KEYS)
    by_step: dict[int, dict] = {}
    for key, points in curves.items():
        for step, value in points:
            if step > 0:
                by_step.setdefault(step, {"step": step})[key.split("/", 1)[1]] = value
    rows = [by_step[k] for k in sorted(by_step)[-last:]][::-1]
    return [{"step": r["step"], "loss": r.get("loss"), "learning rate": r.get("learning_rate"),
             "grad-norm": r.get("grad_norm"), "epoch": r.get("epoch")} for r in rows]


def _trainer_dict(line: str) -> dict | None:
    text = line.strip()
    if not (text.startswith("{'") and text.endswith("}")) or len(text) > 2000:
        return None
    try:
        value = ast.literal_eval(text)  # literals only: never code
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, dict) else None


def readable_lines(lines: list[str]) -> list[str]:
    """train.log for a person: terminal codes and progress-bar redraws gone (runfolder.readable_log), and each
    Trainer log dict as one line of named values ("loss 0.412 · grad-norm 1.3 · lr 0.0002 · epoch 1.5"); blank
    lines and progress bars left out."""
    out = []
    for line in runfolder.readable_log(lines).split("\n"):
        if not line.strip() or PROGRESS_BAR.search(line):
            continue  # the raw log keeps them
        values = _trainer_dict(line)
        if values is None:
            out.append(line)
            continue
        parts = [f"{LOG_NAMES[k]} {values[k]}" for k in LOG_NAMES if k in values]
        parts += [f"{k} {v}" for k, v in values.items() if k not in LOG_NAMES]
        out.append("Trainer: " + " · ".join(parts))
    return out


def reusable_settings(config: dict) -> dict:
    """The settings of a past run's frozen config.json a new run can start from."""
    return {k: config[k] for k in REUSABLE if config.get(k) is not None}
