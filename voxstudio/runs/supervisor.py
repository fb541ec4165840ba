"""The training queue's supervisor (stdlib only): launches queued runs one at a time, oldest first.

Why a separate process: the next queued run must start when the previous one ends even if no browser is
open and the studio was restarted. ``queue.start`` launches ``python -m voxstudio.runs.supervisor`` in its own
session; it holds ``$VOXSTUDIO_HOME/runs/.supervisor.lock`` of the box's root home (so at most one exists per
box), starts each trainer detached in its own session with stdout+stderr appended to ``train.log``, waits for it,
and exits when the queue is empty. One FIFO queue spans the root and every person's home (``users/<id>/``, a
hosted box): the oldest queued run of anyone goes next, one at a time (one GPU), and its trainer gets
``VOXSTUDIO_HOME`` = its owner's home. Secrets never go on argv: a Hub token reaches a trainer only through the
environment, and on a hosted box only the operator's read token (``hosting.trainer_env``), never a visitor's.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from voxstudio import hosting, workspace
from voxstudio.runs import processes, runfolder
from voxstudio.runs import status as runstatus

TRAINER_CMD_ENV = "VOXSTUDIO_TRAINER_CMD"  # test hook: a stand-in trainer command (run dir is appended)
LOCK = ".supervisor.lock"
INFO = ".supervisor.json"
LOG = ".supervisor.log"
REAP_WAIT_S = 10.0


def child_env(home: Path | None = None) -> dict:
    """Environment for a trainer of a run in ``home`` (default: the current home), or for the supervisor
    (``home`` = the root): inherited as ``hosting.trainer_env`` allows (locally all of it, HF_TOKEN included;
    hosted, no Hub token but the operator's read token) plus absolute paths."""
    home = Path(home) if home is not None else workspace.home()
    env = hosting.trainer_env(os.environ)
    with workspace.use_home(home):
        env["VOXSTUDIO_HOME"] = str(workspace.home())
        env["TRACKIO_DIR"] = str(workspace.trackio_dir())
    env["PYTHONUNBUFFERED"] = "1"
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def trainer_argv(folder: Path, resume: bool = False) -> list[str]:
    """The trainer command for a run folder (never carries a secret)."""
    override = os.environ.get(TRAINER_CMD_ENV)
    base = shlex.split(override) if override else [sys.executable, "-m", "voxstudio.training.train"]
    return base + [str(folder)] + (["--resume"] if resume else [])


def launch(run: str, home: Path | None = None) -> runstatus.RunStatus:
    """Start the trainer of a queued run (of ``home``, default the current one) now, detached in its own
    session; record pid + start time."""
    with workspace.use_home(Path(home) if home is not None else workspace.home()) as owner:
        return _launch(run, owner)


def _launch(run: str, home: Path) -> runstatus.RunStatus:
    folder = runstatus.run_folder(run)
    resume = bool(runfolder.read_status(folder).get("resume"))
    launch_id = uuid.uuid4().hex
    argv = trainer_argv(folder, resume)
    runfolder.write_status(folder, state="running", phase="starting", launch_id=launch_id,
                           started_at=time.time(), message="Starting the trainer…")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(folder / runfolder.LOG, "ab") as log:
        log.write(f"=== voxstudio: {'resuming' if resume else 'starting'} run {run} at {stamp} ===\n".encode())
    try:
        proc = processes.spawn(argv, folder / runfolder.LOG, child_env(home))
    except OSError as exc:
        runfolder.write_status(folder, state="failed", phase="failed", message=f"Could not start the trainer: {exc}")
        return runstatus.status(run)
    runfolder.write_json_atomic(folder / runfolder.JOB, {
        "launch_id": launch_id, "pid": proc.pid, "proc_start": processes.start_time(proc.pid),
        "started_at": time.time(), "argv": argv, "resume": resume,
    })
    return runstatus.status(run)


def _box_dir() -> Path:
    """The root home's runs/ folder: the one supervisor's lock, pid file and log (one per box)."""
    path = workspace.root() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock_path() -> Path:
    return _box_dir() / LOCK


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def is_running() -> bool:
    """Whether a supervisor holds this box's lock."""
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if _try_lock(fd):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def ensure() -> int | None:
    """Launch the supervisor unless one is already running; returns the new supervisor's pid."""
    if is_running():
        return None  # it re-checks the queue before exiting, so it picks up what was just queued
    proc = processes.spawn([sys.executable, "-m", "voxstudio.runs.supervisor"], _box_dir() / LOG,
                           child_env(workspace.root()))
    return proc.pid


def _next_queued() -> tuple[Path, runstatus.RunStatus] | None:
    """The oldest queued run of anyone on the box (FIFO across every home), with its home."""
    queued = runstatus.box_queue()
    return (queued[0].home, queued[0].status) if queued else None


def _wait_while_running(run: str, home: Path | None = None) -> None:
    """Wait for the run to end; if it crashed, add the exit code that only its parent can know."""
    with workspace.use_home(Path(home) if home is not None else workspace.home()):
        _wait(run)


def _wait(run: str) -> None:
    while runstatus.status(run).state == "running":
        time.sleep(runstatus.POLL_S)
    folder = runstatus.run_folder(run)
    proc = processes.child_of(runfolder.read_json(folder / runfolder.JOB, {}) or {})
    if proc is None:
        return
    try:
        rc = proc.wait(timeout=REAP_WAIT_S)
    except subprocess.TimeoutExpired:
        return
    st = runfolder.read_status(folder)
    if st.get("state") == "crashed" and st.get("exit_code") is None:
        runfolder.write_status(folder, exit_code=rc, message=runstatus.crash_message(rc))


def supervise() -> int:
    """Run queued runs one at a time, oldest first, until the queue is empty (one supervisor per box)."""
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o644)
    if not _try_lock(fd):
        return 0
    runfolder.write_json_atomic(_box_dir() / INFO,
                                {"pid": os.getpid(), "proc_start": processes.start_time(os.getpid())})
    while True:
        running = runstatus.box_running()
        if running:  # e.g. launched by a previous supervisor that was killed: wait for it
            _wait_while_running(running[0].status.run, running[0].home)
            continue
        nxt = _next_queued()
        if nxt is None:
            # Release, then look once more: a run queued while we held the lock is not lost.
            fcntl.flock(fd, fcntl.LOCK_UN)
            if _next_queued() is None or not _try_lock(fd):
                os.close(fd)
                return 0
            continue
        home, nxt = nxt
        print(f"supervisor: launching {nxt.run} of {home}", flush=True)
        launch(nxt.run, home)
        _wait_while_running(nxt.run, home)
        with workspace.use_home(home):
            print(f"supervisor: {nxt.run} ended as {runstatus.status(nxt.run).state}", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(supervise())
