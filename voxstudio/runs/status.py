"""The read side of training runs (stdlib only): what state a run is in, its log, its results.

Why status comes from disk: the UI can reload at any time. ``status.json`` is written by the trainer
(running → succeeded | failed | stopped); a run whose status says running but whose process is gone is
``crashed``. The process is identified by pid AND its start time from ``/proc/<pid>/stat``, so a reused
pid is never mistaken for the trainer nor signalled. The command side (create, submit, stop, resume,
preflight) is ``voxstudio.runs.queue``; the supervisor builds on this module only.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import processes, runfolder

ACTIVE_STATES = ("queued", "running")
RESUMABLE_STATES = ("stopped", "crashed", "failed")
LAUNCH_TIMEOUT_S = 60.0  # a "starting" run with no job.json after this long: the launcher died
POLL_S = 0.25


@dataclass
class RunStatus:
    """What the UI and CLI show about a run, derived from its folder."""

    run: str
    folder: Path
    state: str
    phase: str = ""
    message: str = ""
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    eta_s: float | None = None
    baseline_wer: float | None = None
    best_wer: float | None = None  # the kept checkpoint's WER; None when none was kept ("best" is never worse)
    last_wer: float | None = None  # the latest evaluation's WER
    finetuned_wer: float | None = None  # the output's WER, once the run finished
    eval_clips: int | None = None  # how many clips those WERs rest on
    selected_by: str = ""  # how the output was chosen (training.scoring.choice), once finished
    worse_than_base: bool = False
    created_at: float = 0.0
    queued_at: float = 0.0
    started_at: float | None = None
    updated_at: float | None = None
    pid: int | None = None
    exit_code: int | None = None
    config: dict = field(default_factory=dict)

    @property
    def progress(self) -> float:
        """Fraction of optimizer steps done (0–1)."""
        if self.state == "succeeded":
            return 1.0
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["folder"] = str(self.folder)
        data["progress"] = self.progress
        return data


def run_folder(run: str) -> Path:
    """The folder of an existing run (clear FileNotFoundError otherwise)."""
    folder = runfolder.run_dir(run)
    if not (folder / runfolder.CONFIG).is_file():
        raise FileNotFoundError(f"There is no run named '{run}' (see `voxstudio runs list`).")
    return folder


def status(run: str) -> RunStatus:
    """The run's state from its folder; detects crashes (and enforces a pending stop's deadline)."""
    processes.reap()
    folder = run_folder(run)
    st = runfolder.read_status(folder)
    job = runfolder.read_json(folder / runfolder.JOB, {}) or {}
    state = st.get("state") or "queued"
    if state == "running":
        state = _check_running(folder, st, job)
        st = runfolder.read_status(folder)
    return RunStatus(
        run=run,
        folder=folder,
        state=state,
        phase=st.get("phase") or "",
        message=st.get("message") or "",
        step=int(st.get("step") or 0),
        total_steps=int(st.get("total_steps") or 0),
        loss=st.get("loss"),
        eta_s=st.get("eta_s"),
        baseline_wer=st.get("baseline_wer"),
        best_wer=st.get("best_wer"),
        last_wer=st.get("last_wer"),
        finetuned_wer=st.get("finetuned_wer"),
        eval_clips=st.get("wer_clips", st.get("eval_clips")),
        selected_by=st.get("selected_by") or "",
        worse_than_base=bool(st.get("worse_than_base")),
        created_at=float(st.get("created_at") or 0.0),
        queued_at=float(st.get("queued_at") or 0.0),
        started_at=st.get("started_at"),
        updated_at=st.get("updated_at"),
        pid=job.get("pid") if job.get("launch_id") == st.get("launch_id") else None,
        exit_code=st.get("exit_code"),
        config=runfolder.read_json(folder / runfolder.CONFIG, {}) or {},
    )


def _check_running(folder: Path, st: dict, job: dict) -> str:
    if not job or job.get("launch_id") != st.get("launch_id"):
        if time.time() - float(st.get("started_at") or 0) < LAUNCH_TIMEOUT_S:
            return "running"  # being launched right now
        alive, rc = False, None
    else:
        alive, rc = processes.alive(job)
    if alive:
        deadline = job.get("stop_deadline")
        if deadline and time.time() > deadline:
            processes.signal_group(job, signal.SIGKILL)
        return "running"
    fresh = runfolder.read_status(folder)
    if fresh.get("state") != "running":  # it reported its own end just before exiting
        return fresh.get("state") or "queued"
    if job.get("stop_requested_at"):
        _record(folder, state="stopped", phase="stopped", exit_code=rc,
                message="Stopped by force after the grace period; resume continues from the last checkpoint.")
        return "stopped"
    _record(folder, state="crashed", phase="crashed", exit_code=rc, message=crash_message(rc))
    return "crashed"


def _record(folder: Path, **fields) -> None:
    """Write a state we derived; on a full (or read-only) disk the state is still reported, just not stored."""
    try:
        runfolder.write_status(folder, **fields)
    except OSError:
        pass


def crash_message(rc: int | None) -> str:
    return (f"The run crashed: {processes.describe_exit(rc)}. "
            "The log is kept; resume continues from the last checkpoint.")


def list_runs() -> list[RunStatus]:
    """Every run in the data home, newest first."""
    out = []
    for folder in workspace.runs_dir().iterdir():
        if folder.name.startswith(".") or not (folder / runfolder.CONFIG).is_file():
            continue
        try:
            out.append(status(folder.name))
        except (ValueError, FileNotFoundError):
            continue
    return sorted(out, key=lambda s: (s.created_at, s.run), reverse=True)


@dataclass(frozen=True)
class BoxRun:
    """A run of anyone on the box (the supervisor's view): its owner's home and its status."""

    home: Path
    status: RunStatus


def box_runs(states: tuple[str, ...] = ACTIVE_STATES) -> list[BoxRun]:
    """Runs in ``states`` across every home of the box (the root and each ``users/<id>/``)."""
    out = []
    for home in workspace.all_homes():
        with workspace.use_home(home):
            out += [BoxRun(home, s) for s in list_runs() if s.state in states]
    return out


def box_queue() -> list[BoxRun]:
    """Every queued run on the box, in the one FIFO order the supervisor follows (oldest queued first)."""
    queued = box_runs(("queued",))
    return sorted(queued, key=lambda b: (b.status.queued_at, b.status.created_at, str(b.home), b.status.run))


def box_running() -> list[BoxRun]:
    return box_runs(("running",))


def queue_position(run: str) -> tuple[int, int] | None:
    """(place of the current home's queued ``run`` in the box's queue, 1 = next; runs training now), or None
    when it is not queued. Says how many others are ahead, never whose they are."""
    here = workspace.home().resolve()
    order = box_queue()
    for n, b in enumerate(order, start=1):
        if b.status.run == run and b.home.resolve() == here:
            return n, len(box_running())
    return None


def read_log(run: str, lines: int = 40) -> list[str]:
    """The last ``lines`` lines of the run's train.log."""
    return runfolder.tail_log(run_folder(run), lines)


def follow_log(run: str, poll_s: float = 0.5, start: int = 0) -> Iterator[str]:
    """Yield train.log lines (from byte ``start``) as they are written, until the run has ended."""
    path = run_folder(run) / runfolder.LOG
    pos = start
    pending = b""
    while True:
        ended = not status(run).active
        if path.exists():
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
            pending += data
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode("utf-8", errors="replace")
        if ended:
            if pending:
                yield pending.decode("utf-8", errors="replace")
            return
        time.sleep(poll_s)


def results(run: str) -> dict:
    """A run's final documents for the history and Evaluate pages: ``{"eval": ..., "train": ...}``."""
    folder = run_folder(run)
    return {"eval": runfolder.read_json(folder / runfolder.EVAL_RESULTS),
            "train": runfolder.read_json(folder / runfolder.TRAIN_RESULTS)}


def utterance_audio(run: str, clip_id: str) -> bytes | None:
    """WAV bytes of an evaluated clip: the run's own copy (its frozen clip list), or for a run made before clip
    lists the dataset's; None when the clip is gone."""
    from voxstudio.data import dataset as dataset_mod
    from voxstudio.runs import rundata

    folder = run_folder(run)
    config = runfolder.read_json(folder / runfolder.CONFIG, {}) or {}
    try:
        frozen = rundata.load(folder, config)
    except ValueError:
        return None
    if frozen is not None:
        clip = frozen.get(clip_id)
        path = frozen.path(clip) if clip is not None else None
        return path.read_bytes() if path is not None and path.is_file() else None
    try:
        ds = dataset_mod.Dataset.open(config.get("dataset", ""))
        path = ds.audio_path(clip_id)
    except (FileNotFoundError, ValueError, KeyError):
        return None
    return path.read_bytes() if path.is_file() else None
