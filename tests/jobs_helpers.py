"""Helpers for the job tests: wait on a run's state from disk, and leave no process behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import processes, queue, runfolder, supervisor
from voxstudio.runs import status as runstatus

STANDIN = Path(__file__).resolve().parent / "jobs_standin_trainer.py"
STANDIN_CMD = f"{sys.executable} {STANDIN}"


def use_standin_trainer(monkeypatch, step_s: float) -> None:
    """Make the supervisor start the stand-in trainer (one fake step every ``step_s`` seconds) instead of
    ``python -m voxstudio.training.train``: real processes, status files and signals, without a model."""
    monkeypatch.setenv(supervisor.TRAINER_CMD_ENV, STANDIN_CMD)
    monkeypatch.setenv("STANDIN_STEP_S", str(step_s))


def wait_for(run: str, states, timeout: float = 60.0, step_at_least: int | None = None) -> runstatus.RunStatus:
    """Poll ``runstatus.status`` until the run is in one of ``states`` (and past ``step_at_least``)."""
    states = (states,) if isinstance(states, str) else tuple(states)
    deadline = time.time() + timeout
    while True:
        try:
            st = runstatus.status(run)
        except FileNotFoundError:  # not created yet (e.g. by a CLI process still starting)
            assert time.time() < deadline, f"run {run} never appeared"
            time.sleep(0.05)
            continue
        if st.state in states and (step_at_least is None or st.step >= step_at_least):
            return st
        if time.time() > deadline:
            log = "\n".join(runstatus.read_log(run, 30))
            raise AssertionError(f"run {run} stayed {st.state} (step {st.step}), wanted {states}\n{log}")
        time.sleep(0.05)


def raw_state(run: str) -> str:
    """status.json as written, without any derivation (what is on disk for a browser-less check)."""
    return runfolder.read_status(runfolder.run_dir(run)).get("state", "")


def wait_raw(run: str, states, timeout: float = 60.0) -> str:
    states = (states,) if isinstance(states, str) else tuple(states)
    deadline = time.time() + timeout
    while (state := raw_state(run)) not in states:
        assert time.time() < deadline, f"run {run} stayed {state}, wanted {states}"
        time.sleep(0.05)
    return state


def pid_alive(pid: int) -> bool:
    stat = processes.proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def cleanup_home() -> None:
    """Stop every active run of the current data home and wait for its supervisor to exit."""
    for st in runstatus.list_runs():
        if st.active:
            queue.stop(st.run, grace_s=2)
    info = runfolder.read_json(workspace.runs_dir() / supervisor.INFO, {}) or {}
    pid = info.get("pid")
    deadline = time.time() + 10
    while pid and pid_alive(pid) and processes.start_time(pid) == info.get("proc_start"):
        processes.reap()
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)  # the supervisor this test started; should not happen
            break
        time.sleep(0.05)
    processes.reap()


def make_dataset(name: str = "voice", n: int = 6):
    """A dataset of ``n`` real short English commands (tests/fixtures/speech), in the current home."""
    from conftest import speech_manifest

    from voxstudio.data.dataset import Dataset

    rows = [r for r in speech_manifest("clips") if r["audio_path"].startswith("en/stp")][:n]
    ds = Dataset.create(name, languages=["en"], speaker="tester")
    for row in rows:
        ds.add_clip(row["path"], row["text"], language="en", source="import")
    return ds
