"""The trainer's Trainer callback: status.json, WER every N steps, best checkpoint, early stopping, graceful stop.

Everything it depends on comes through the constructor (run folder, settings, processor, eval clips, baseline,
how to save a model, the stop flag, the log, rank and world size), so it can be built and driven without the
trainer process. Only rank 0 writes status.json, best.json and the best checkpoint; with several ranks every
rank transcribes its share of the eval clips and all take the same stop decision (``training.distributed``:
collectives on the backend's device). With a sharded model (FSDP) the evaluations, the baseline included, run
in lockstep and every rank joins the gather of the weights that rank 0 saves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import TrainerCallback

from voxstudio.inference import Transcriber
from voxstudio.runs import runfolder
from voxstudio.training import checkpoints, distributed, scoring
from voxstudio.training.config import RunConfig
from voxstudio.training.evaluate import Interrupted, summarize, transcribe_clips
from voxstudio.training.selection import ClipRef

BEST_JSON = "best.json"


class RunCallback(TrainerCallback):
    """Status, WER every ``cfg.eval_every`` steps, best checkpoint, early stopping and graceful stop.

    ``save_model(model, folder)`` writes a loadable model (adapter or full) into ``folder``; ``best_dir`` is
    where the best checkpoint goes; ``should_stop()`` is the SIGTERM flag; ``log(line)`` writes train.log.
    ``trainer`` is set after the Trainer is built (Trackio gets eval_wer/eval_cer through ``trainer.log``).
    Which evaluation becomes the best checkpoint is ``training.scoring``'s rule (``keeps``: <= the best so far,
    starting at the base model's WER, ties to the later one; none below ``MIN_HELD_OUT`` eval clips).
    """

    def __init__(self, run_dir: Path, cfg: RunConfig, processor, eval_refs: list[ClipRef], baseline_rows: list[dict],
                 *, save_model: Callable, best_dir: Path, should_stop: Callable[[], bool],
                 log: Callable[[str], None], rank: int = 0, world_size: int = 1, status_every_s: float = 2.0,
                 sharded: bool = False, record_baseline: Callable[[list[dict]], None] | None = None):
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.processor = processor
        self.eval_refs = eval_refs
        self.baseline_rows = baseline_rows
        self.save_model = save_model
        self.best_dir = Path(best_dir)
        self.should_stop = should_stop
        self.log = log
        self.rank = rank
        self.world_size = world_size
        self.status_every_s = status_every_s
        # FSDP: save_model is called on every rank (it gathers the shards); the baseline is measured here, in
        # lockstep, when none was saved, and handed to record_baseline on rank 0
        self.sharded = sharded
        self.record_baseline = record_baseline
        self.t0 = None
        self.start_step = 0
        self.t_last = 0.0
        self.eval_s = 0.0
        self.best = (summarize(baseline_rows)["wer"] if baseline_rows else math.inf)  # a checkpoint must match it
        self.chooses = scoring.chooses_checkpoints(len(eval_refs))  # else the final weights are the output
        self.best_step = 0
        self.best_rows = None
        self.last_rows = None
        self.bad_evals = 0
        self.trainer = None
        self.loss = None
        self.stopped = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def status(self, **fields) -> None:
        if self.is_main:
            runfolder.write_status(self.run_dir, **fields)

    def on_train_begin(self, args, state, control, model=None, **kw):
        if self.sharded and self.eval_refs and distributed.agree(not self.baseline_rows)[0]:
            self.measure_baseline(model)
        self.t0, self.start_step = time.time(), state.global_step
        # what the best folder itself says it holds (a kill between its swap and best.json cannot mislead)
        best = runfolder.read_json(self.best_dir / checkpoints.META, None) or runfolder.read_json(
            self.run_dir / BEST_JSON, None) if state.global_step > 0 else None
        if best and best.get("step", 0) <= state.global_step and self.best_dir.exists():
            # resumed: the best checkpoint saved before the stop still counts
            self.best, self.best_step, self.best_rows = best["wer"], best["step"], best["rows"]
        if self.trainer is not None and self.baseline_rows and state.global_step == 0:
            b = summarize(self.baseline_rows)
            self.trainer.log({"eval_wer": b["wer"], "eval_cer": b["cer"]})
        self.status(state="running", phase="training", total_steps=state.max_steps, step=state.global_step,
                    message="training")

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def _eta(self, state) -> float | None:
        """Seconds left, measured: seconds per step since the first status point (the slow first steps — start-up,
        allocation, the encoder cache's first pass — are not counted), plus the WER evaluations still to come at
        their measured cost. None until two points have been timed (the pre-run figure is ``training.estimate``)."""
        done = state.global_step - self.start_step
        if done <= 0:
            return None
        left = state.max_steps - state.global_step
        if left <= 0:
            return 0.0
        trained = time.time() - self.t0 - self.eval_s  # seconds spent in steps, evaluations excluded
        first = getattr(self, "_eta_first", None)  # (steps, seconds) at the first status point of this session
        if first is None or first[0] > done:
            self._eta_first = (done, trained)
            return None
        if done == first[0]:
            return None
        eta = (trained - first[1]) / (done - first[0]) * left
        every = self.cfg.eval_every
        evals = state.global_step // every - self.start_step // every  # evaluations so far in this session
        if self.eval_refs and evals > 0:
            to_come = state.max_steps // every - state.global_step // every + (1 if state.max_steps % every else 0)
            eta += self.eval_s / evals * to_come
        return round(eta, 1)

    def measure_baseline(self, model) -> None:
        """The base model's WER with the sharded model, on every rank (FSDP); a stop raises ``Interrupted``."""
        self.status(phase="baseline", message=f"measuring baseline WER on {len(self.eval_refs)} clips")
        rows, complete = self._transcribe(model, "base")
        if not complete:
            raise Interrupted()
        self.baseline_rows, self.best = rows, summarize(rows)["wer"]
        if self.is_main and self.record_baseline is not None:
            self.record_baseline(rows)

    def _transcribe(self, model, source: str) -> tuple[list[dict], bool]:
        """Every eval clip transcribed (each rank its share, gathered on every rank) and whether all finished."""
        was_training = model.training
        transcriber = Transcriber(model, self.processor, next(model.parameters()).device, source)
        world = self.world_size
        complete = True
        try:
            with torch.no_grad():  # each rank transcribes its share; every rank runs the same collectives
                if self.sharded:
                    rows = distributed.transcribe_in_lockstep(transcriber, self.eval_refs, self.rank, world,
                                                              self.cfg.max_new_tokens, self.should_stop)
                else:
                    rows = transcribe_clips(transcriber, self.eval_refs[self.rank::world], self.cfg.max_new_tokens,
                                            should_stop=self.should_stop)
        except Interrupted:
            rows, complete = [], False
        model.train(was_training)
        if world > 1:
            shares = [None] * world
            torch.distributed.all_gather_object(shares, (complete, rows))
            complete = all(c for c, _ in shares)
            order = {r.clip_id: i for i, r in enumerate(self.eval_refs)}
            rows = sorted((r for _, share in shares for r in share), key=lambda r: order[r["clip_id"]])
        return rows, complete

    def evaluate(self, model, state) -> bool:
        """WER on the eval clips (sharded over ranks); returns False when a stop interrupted it."""
        t = time.time()
        self.status(phase="evaluating", message=f"measuring WER at step {state.global_step}")
        rows, complete = self._transcribe(model, "training")
        self.eval_s += time.time() - t
        if not complete or not self.is_main:
            if complete and self.sharded:
                self._save_best(model, None)  # rank 0 decides; every rank joins the gather
            return complete
        s = summarize(rows)
        self.last_rows = rows
        self.log(f"step {state.global_step}: WER {s['wer']:.3f} CER {s['cer']:.3f} on {s['n']} clips")
        if self.trainer is not None:
            self.trainer.log({"eval_wer": s["wer"], "eval_cer": s["cer"]})
        improved = s["wer"] < self.best  # early stopping counts strict improvements only
        best = None
        if self.chooses and scoring.keeps(s["wer"], self.best):  # <= the best so far: ties go to the later one
            self.best, self.best_step, self.best_rows = s["wer"], state.global_step, rows
            best = {"step": state.global_step, **s, "rows": rows}
        elif improved:  # too few clips to choose a checkpoint: the best WER only paces early stopping
            self.best = s["wer"]
        self._save_best(model, best)  # the record travels inside the folder it describes
        if best is not None:
            runfolder.write_json_atomic(self.run_dir / BEST_JSON, best)
        self.bad_evals = 0 if improved else self.bad_evals + 1
        # "best" only for a kept checkpoint, which by the rule is never worse than the base model
        self.status(phase="training", best_wer=self.best if self.best_rows is not None else None,
                    last_wer=s["wer"], eval_clips=s["n"], message="training")
        return True

    def _save_best(self, model, best: dict | None) -> None:
        """Save the best checkpoint when rank 0 chose one (``best``: its record); with FSDP on every rank."""
        if self.sharded:
            (best_now,) = distributed.agree(best is not None)
            if best_now:
                self.save_model(model, self.best_dir, best)
        elif best is not None:
            self.save_model(model, self.best_dir, best)

    def on_save(self, args, state, control, **kw):
        """The Trainer has written every file of ``checkpoint-N``: only now may a resume start from it."""
        if self.is_main:
            folder = Path(args.output_dir) / f"{checkpoints.PREFIX}{state.global_step}"
            if folder.is_dir():
                checkpoints.mark_complete(folder)
        return control

    def on_step_end(self, args, state, control, model=None, **kw):
        cfg = self.cfg
        step = state.global_step
        stop, early = self.should_stop(), False
        due = bool(self.eval_refs) and (step % cfg.eval_every == 0 or step == state.max_steps)
        if due and self.world_size > 1:  # all ranks evaluate or none (SIGTERM may reach one between their checks)
            (stop,) = distributed.agree(stop)
        if not stop and due:
            keep = control.should_log  # Trainer.log() clears it: every rank must still gather the loss
            stop = not self.evaluate(model, state)
            control.should_log = keep
            early = bool(cfg.early_stopping_patience) and self.bad_evals >= cfg.early_stopping_patience
        if self.world_size > 1:  # every rank takes the same decision (NCCL: the flags live on this rank's GPU)
            stop, early = distributed.agree(stop or self.should_stop(), early)
        if stop:
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
            self.log(f"stop requested: saving a checkpoint at step {step}")
            return control
        if early:
            self.log(f"early stopping: no WER improvement in {cfg.early_stopping_patience} evaluations")
            control.should_training_stop = True
        now = time.time()
        if self.is_main and (now - self.t_last >= self.status_every_s or step == state.max_steps):
            self.t_last = now
            eta = self._eta(state)
            self.status(step=step, total_steps=state.max_steps, loss=self.loss, eta_s=eta)
            loss = f"{self.loss:.4f}" if self.loss is not None else "…"
            self.log(f"step {step}/{state.max_steps} loss {loss} eta {eta or 0:.0f}s")
        return control
