"""What the Home page says about training (no Streamlit): this person's running and queued runs, the last
finished run's result, and the next step once runs are taken into account (else ``wizard.next_step``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from voxstudio.runs import runfolder
from voxstudio.runs import status as runstatus
from voxstudio.studio import formatting, wizard
from voxstudio.training import scoring

REFRESH_S = 3.0  # how often the Training section refreshes itself while a run is queued or running
JUST_FINISHED_S = 24 * 3600  # a run that succeeded within a day is "just finished": the next step is to evaluate it


@dataclass(frozen=True)
class Finished:
    """The newest finished run and what it may claim (``scoring.outcome``)."""

    run: str
    outcome: scoring.Outcome
    finished_at: float | None

    def sentence(self) -> str:
        """"`run`: WER 40.0% → 12.5% on 6 held-out clips", with the worse-than-base warning when so."""
        o = self.outcome
        line = (f"`{self.run}`: WER {scoring.percent(o.baseline)} (base) → {scoring.percent(o.finetuned)} "
                f"(fine-tuned) on {o.rests_on}")
        if o.worse_than_base:
            return line + f", worse than the base ({scoring.delta(o.baseline, o.finetuned)})."
        return line + "."


def active_runs() -> list[runstatus.RunStatus]:
    """This person's runs that are running or queued (running first, then oldest queued first)."""
    active = [s for s in runstatus.list_runs() if s.active]
    return sorted(active, key=lambda s: (s.state != "running", s.queued_at or s.created_at, s.run))


def progress(s: runstatus.RunStatus) -> tuple[float, str]:
    """(fraction, "step 12 / 200 · ETA 1 min 05 s · loss 0.412") of a running run."""
    fraction = min(max(s.step / s.total_steps, 0.0), 1.0) if s.total_steps else 0.0
    parts = [f"step {s.step} / {s.total_steps}" if s.total_steps else (s.phase or "starting")]
    if s.eta_s is not None:
        parts.append(f"ETA {formatting.fmt_duration(s.eta_s)}")
    if s.loss is not None:
        parts.append(f"loss {s.loss:.3f}")
    return fraction, " · ".join(parts)


def queue_line(s: runstatus.RunStatus) -> str:
    """"queued: place 2 in this studio's queue, 1 training now" (runs.status.queue_position)."""
    place = runstatus.queue_position(s.run)
    if place is None:
        return "queued: waiting to start"
    n, training = place
    return f"queued: place {n} in this studio's queue, {training} training now"


def last_finished() -> Finished | None:
    """The newest run that finished (``runfolder.finished``) with its outcome."""
    for s in runstatus.list_runs():
        if runfolder.finished(s.folder):
            doc = runstatus.results(s.run).get("eval")
            return Finished(s.run, scoring.outcome(doc), s.updated_at)
    return None


def next_step(summaries: list[dict], active: list[runstatus.RunStatus], finished: Finished | None,
              now: float | None = None) -> tuple[int, str]:
    """The next step with runs taken into account; without an active or just-finished run, the dataset-based
    advice of ``wizard.next_step``."""
    running = [s for s in active if s.state == "running"]
    if running:
        return 4, f"`{running[0].run}` is training: watch it on Train."
    if active:
        return 4, f"`{active[0].run}` waits in the queue: watch it start on Train."
    now = time.time() if now is None else now
    if finished and finished.finished_at and now - finished.finished_at < JUST_FINISHED_S:
        return 5, (f"`{finished.run}` has finished: compare its transcripts with the base model's on Evaluate, "
                   "then try it on your own voice (7 · Try) or publish it (6 · Publish).")
    return wizard.next_step(summaries)
