"""Training runs as background jobs (stdlib only): run folders, a FIFO queue, status derived from disk.

``create_run`` freezes the config and queues the run; ``start`` makes sure the queue supervisor
(``voxstudio.runs.supervisor``, a detached process) is running, which launches queued runs one at a time even
with no browser open. Each trainer runs in its own session (stop = signal its process group).

Why status comes from disk: the UI can reload at any time. ``status.json`` is written by the trainer
(running → succeeded | failed | stopped); a run whose status says running but whose process is gone is
``crashed``. The process is identified by pid AND its start time from ``/proc/<pid>/stat``, so a reused
pid is never mistaken for the trainer nor signalled. Secrets never go on argv: HF_TOKEN reaches the
trainer only through the inherited environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import processes, runfolder

ACTIVE_STATES = ("queued", "running")
RESUMABLE_STATES = ("stopped", "crashed", "failed")
DEFAULT_GRACE_S = 30.0
LAUNCH_TIMEOUT_S = 60.0  # a "starting" run with no job.json after this long: the launcher died
POLL_S = 0.25
MIN_CLIPS = 2  # the trainer needs something to train on and something to measure
TOKEN_RE = re.compile(r"\bhf_[A-Za-z0-9]{16,}\b")


class DuplicateRunError(ValueError):
    """The same settings are already queued or running (two Start clicks make one run)."""

    def __init__(self, existing: str):
        self.existing = existing
        super().__init__(
            f"The same settings are already queued or running as run '{existing}'. "
            "Watch that run, or change a setting to start another one."
        )


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
    best_wer: float | None = None
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


# ----- reading -----
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
        runfolder.write_status(
            folder, state="stopped", phase="stopped", exit_code=rc,
            message="Stopped by force after the grace period; resume continues from the last checkpoint.",
        )
        return "stopped"
    runfolder.write_status(
        folder, state="crashed", phase="crashed", exit_code=rc,
        message=crash_message(rc),
    )
    return "crashed"


def crash_message(rc: int | None) -> str:
    return f"The run crashed: {processes.describe_exit(rc)}. The log is kept; resume continues from the last checkpoint."


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
    """WAV bytes of an evaluated clip (from the run's dataset), or None when the clip is gone."""
    from voxstudio.data import dataset as dataset_mod

    config = runfolder.read_json(run_folder(run) / runfolder.CONFIG, {}) or {}
    try:
        ds = dataset_mod.Dataset.open(config.get("dataset", ""))
        path = ds.audio_path(clip_id)
    except (FileNotFoundError, ValueError, KeyError):
        return None
    return path.read_bytes() if path.is_file() else None


# ----- creating and queueing -----
def preflight(cfg) -> list[str]:
    """Problems that would make the run fail at once, as sentences (empty when it can start).

    Checked before anything is written, so bad input leaves nothing behind. The dataset module is
    imported lazily (it pulls in audio libraries the queue itself does not need).
    """
    from voxstudio.data import dataset as dataset_mod

    problems = []
    if cfg.dataset not in dataset_mod.list_datasets():
        problems.append(f"There is no dataset named '{cfg.dataset}' (see `voxstudio dataset list`).")
    else:
        clips = [c for c in dataset_mod.Dataset.open(cfg.dataset).clips()
                 if not cfg.languages or c.language in cfg.languages]
        if len(clips) < MIN_CLIPS:
            problems.append(f"Dataset '{cfg.dataset}' has {len(clips)} clip(s); record at least {MIN_CLIPS} "
                            "(a few dozen for a useful model) before training.")
    model = cfg.base_model
    looks_local = model.startswith(("/", ".", "~")) or model.count("/") > 1  # a Hub id is "org/name"
    if model != "tiny" and looks_local and not Path(model).expanduser().exists():
        problems.append(f"There is no model folder at '{model}'. Give a Hub id such as "
                        "mistralai/Voxtral-Mini-3B-2507, an existing folder, or 'tiny'.")
    return problems


def _refuse_secrets(data: dict) -> None:
    text = repr(data)
    token = (os.environ.get("HF_TOKEN") or "").strip()
    if TOKEN_RE.search(text) or (len(token) >= 8 and token in text):
        raise ValueError("These run settings contain what looks like a Hub token; tokens never go into a run.")


def _settings(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "run_name"}


def create_run(cfg) -> Path:
    """Freeze ``cfg`` (a ``RunConfig``) into a new run folder, queued. Refuses an existing run name and
    identical settings that are already queued or running (two Start clicks make one run)."""
    cfg.validate()
    data = cfg.to_dict()
    _refuse_secrets(data)
    folder = runfolder.run_dir(cfg.run_name)
    taken = ValueError(f"A run named '{cfg.run_name}' already exists. Choose another run name "
                       "(or resume that run if it was stopped).")
    if folder.exists():
        raise taken
    for other in list_runs():
        if other.active and _settings(other.config) == _settings(data):
            raise DuplicateRunError(other.run)
    try:
        folder.mkdir(parents=False)
    except FileExistsError:  # another Start click won the race
        raise taken from None
    try:
        now = time.time()
        runfolder.write_status(folder, state="queued", phase="queued", step=0, total_steps=0,
                               created_at=now, queued_at=now, message="Waiting for its turn in the queue.")
        cfg.save(folder / runfolder.CONFIG)  # written last: a folder without config.json is not a run
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def start(run: str) -> RunStatus:
    """Make sure the queued run will be launched (by the supervisor). Starting twice does nothing new."""
    st = status(run)
    if st.state == "succeeded":
        raise ValueError(f"Run '{run}' has already finished; start a new run to train again.")
    if st.state in RESUMABLE_STATES:
        raise ValueError(f"Run '{run}' is {st.state}; use resume to continue it.")
    _ensure_supervisor()
    return status(run)


def submit(cfg) -> RunStatus:
    """create_run + start: what the Start button and `voxstudio train` do."""
    folder = create_run(cfg)
    return start(folder.name)


def resume(run: str) -> RunStatus:
    """Queue a stopped, crashed or failed run again; the trainer continues from its last checkpoint."""
    st = status(run)
    if st.active:
        return st
    if st.state == "succeeded":
        raise ValueError(f"Run '{run}' already succeeded; there is nothing to resume.")
    runfolder.write_status(st.folder, state="queued", phase="queued", resume=True, queued_at=time.time(),
                           exit_code=None, message="Waiting to resume from the last checkpoint.")
    _ensure_supervisor()
    return status(run)


# ----- stopping -----
def stop(run: str, grace_s: float = DEFAULT_GRACE_S, wait: bool = True) -> RunStatus:
    """Cancel a queued run, or SIGTERM a running one (it checkpoints and exits) and SIGKILL it after
    ``grace_s``. With ``wait=False`` it returns at once; the deadline is then enforced by whoever next
    reads the status (the supervisor does every fraction of a second)."""
    st = status(run)
    folder = st.folder
    if st.state == "queued":
        runfolder.write_status(folder, state="stopped", phase="cancelled",
                               message="Cancelled before it started.")
        return status(run)
    if st.state != "running":
        return st
    job_path = folder / runfolder.JOB
    deadline = time.time() + LAUNCH_TIMEOUT_S
    while True:  # a run being launched has no job.json for a moment
        job = runfolder.read_json(job_path, {}) or {}
        if job.get("launch_id") == runfolder.read_status(folder).get("launch_id") or time.time() > deadline:
            break
        time.sleep(POLL_S)
    now = time.time()
    job.update(stop_requested_at=now, stop_deadline=now + grace_s)
    runfolder.write_json_atomic(job_path, job)
    processes.signal_group(job, signal.SIGTERM)
    if not wait:
        return status(run)
    while time.time() < now + grace_s:
        st = status(run)
        if st.state != "running":
            return st
        time.sleep(POLL_S)
    processes.signal_group(job, signal.SIGKILL)
    for _ in range(int(10 / POLL_S)):
        st = status(run)
        if st.state != "running":
            break
        time.sleep(POLL_S)
    return st


def resume_queue() -> bool:
    """After a reboot or a killed supervisor, queued runs wait: relaunch the supervisor if any do.

    Cheap (one lock probe), so the Train page calls it on every render. Returns True if runs are queued.
    """
    if not any(s.state == "queued" for s in list_runs()):
        return False
    _ensure_supervisor()
    return True


def _ensure_supervisor() -> None:
    from voxstudio.runs import supervisor  # imported here: it builds on this module

    supervisor.ensure()


def main(argv: list[str] | None = None) -> int:
    """``python -m voxstudio.runs.jobs --supervise``: run the queue in the foreground (same as the supervisor)."""
    from voxstudio.runs import supervisor

    if "--supervise" in (sys.argv[1:] if argv is None else argv):
        return supervisor.supervise()
    print("usage: python -m voxstudio.runs.jobs --supervise", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
