"""The command side of training runs (stdlib only): check, create, queue, start, stop and resume runs.

``create_run`` freezes the config and queues the run; ``start`` makes sure the queue supervisor
(``voxstudio.runs.supervisor``, a detached process) is running, which launches queued runs one at a time even
with no browser open. Each trainer runs in its own session (stop = signal its process group). Secrets never
go on argv: HF_TOKEN reaches the trainer only through the inherited environment (hosted: only the operator's
read token, ``hosting.trainer_env``). On a hosted box each person may have ``hosting.max_queued()`` runs queued
or training at once (:func:`check_quota`); an admin stops anyone's run with :func:`stop_in`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

from voxstudio import hosting, models, workspace
from voxstudio.runs import processes, rundata, runfolder, supervisor
from voxstudio.runs.status import (
    LAUNCH_TIMEOUT_S,
    POLL_S,
    RESUMABLE_STATES,
    RunStatus,
    box_queue,
    list_runs,
    status,
)

DEFAULT_GRACE_S = 30.0
TOKEN_RE = re.compile(r"\bhf_[A-Za-z0-9]{16,}\b")


class DuplicateRunError(ValueError):
    """The same settings are already queued or running (two Start clicks make one run)."""

    def __init__(self, existing: str):
        self.existing = existing
        super().__init__(
            f"The same settings are already queued or running as run '{existing}'. "
            "Watch that run, or change a setting to start another one."
        )


class QuotaError(ValueError):
    """A person of a hosted studio already has as many runs queued or training as they may."""


def check_quota() -> None:
    """Hosted: refuse one more run when this home already has ``hosting.max_queued()`` queued or running."""
    if not hosting.is_hosted():
        return
    limit = hosting.max_queued()
    mine = sum(1 for s in list_runs() if s.active)
    if mine >= limit:
        raise QuotaError(f"You already have {mine} run{'s' if mine != 1 else ''} queued or training; this studio "
                         f"allows {limit} per person at once. Wait for one to finish, or stop one.")


def free_run_name(wanted: str) -> str:
    """``wanted`` if no run has that name yet, else the first free ``wanted-2``, ``wanted-3`` … (a name is never
    reused: a new run with an old run's name would mix their folders)."""
    taken = {p.name for p in workspace.runs_dir().iterdir()} if workspace.runs_dir().is_dir() else set()
    if wanted not in taken:
        return wanted
    stem = re.sub(r"-\d+$", "", wanted) or wanted
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def _refuse_secrets(data: dict) -> None:
    text = repr(data)
    token = (os.environ.get("HF_TOKEN") or "").strip()
    if TOKEN_RE.search(text) or (len(token) >= 8 and token in text):
        raise ValueError("These run settings contain what looks like a Hub token; tokens never go into a run.")


def _settings(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "run_name"}


def create_run(cfg) -> Path:
    """Freeze ``cfg`` (a ``RunConfig``) into a new run folder, queued. Refuses an existing run name and
    identical settings that are already queued or running (two Start clicks make one run).

    The run's data is frozen here too (``rundata.freeze``: the clips it uses, their WAVs linked into the run
    folder), before config.json: clips recorded, edited or deleted afterwards do not change the run."""
    cfg = cfg.replace(clip_list=rundata.CLIP_LIST)
    cfg.validate()
    data = cfg.to_dict()
    _refuse_secrets(data)
    if models.looks_like_path(cfg.base_model) and not hosting.server_paths_allowed():
        raise ValueError(f"'{cfg.base_model}' is a folder on the server; a hosted studio trains from a Hub id "
                         "or 'tiny' only.")
    folder = runfolder.run_dir(cfg.run_name)
    taken = ValueError(f"A run named '{cfg.run_name}' already exists. Choose another run name "
                       "(or resume that run if it was stopped).")
    if folder.exists():
        raise taken
    check_quota()
    for other in list_runs():
        if other.active and _settings(other.config) == _settings(data):
            raise DuplicateRunError(other.run)
    try:
        folder.mkdir(parents=False)
    except FileExistsError:  # another Start click won the race
        raise taken from None
    try:
        rundata.freeze(folder, cfg)  # ValueError: no such dataset, too few usable clips
        now = time.time()
        runfolder.write_status(folder, state="queued", phase="queued", step=0, total_steps=0,
                               created_at=now, queued_at=now, message="Waiting for its turn in the queue.")
        runfolder.reserve_space(folder)
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
    check_quota()
    runfolder.write_status(st.folder, state="queued", phase="queued", resume=True, queued_at=time.time(),
                           exit_code=None, message="Waiting to resume from the last checkpoint.")
    _ensure_supervisor()
    return status(run)


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


def stop_in(home: Path, run: str, grace_s: float = DEFAULT_GRACE_S, wait: bool = False) -> RunStatus:
    """Stop ``run`` of the home ``home`` (an admin of a hosted box stopping anyone's run)."""
    with workspace.use_home(home):
        return stop(run, grace_s=grace_s, wait=wait)


def resume_queue() -> bool:
    """After a reboot or a killed supervisor, queued runs wait: relaunch the supervisor if any do.

    Cheap (one lock probe), so the Train page calls it on every render. Returns True if runs are queued.
    """
    if not box_queue():  # anyone's: one supervisor serves the whole box
        return False
    _ensure_supervisor()
    return True


def _ensure_supervisor() -> None:
    supervisor.ensure()
