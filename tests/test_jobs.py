"""Background jobs with real subprocesses: the state machine, the queue, stop, crash detection, secrets.

The state-machine tests use a stand-in trainer (tests/jobs_standin_trainer.py, a real process speaking the
run-folder protocol) through VOXSTUDIO_TRAINER_CMD; the real trainer end to end is in test_cli_training.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from jobs_helpers import cleanup_home, make_dataset, pid_alive, raw_state, use_standin_trainer, wait_for, wait_raw

from voxstudio import workspace
from voxstudio.runs import processes, queue, runfolder, supervisor
from voxstudio.runs import status as runstatus
from voxstudio.training.config import new_config

TOKEN = "hf_" + "Zq7" * 12


@pytest.fixture
def standin(home, monkeypatch):
    use_standin_trainer(monkeypatch, step_s=0.02)
    make_dataset("my-voice", 2)  # a run's clips are frozen when it is created: its dataset must have some
    yield home
    cleanup_home()


def cfg(run="run-a", steps=5, **kw):
    kw.setdefault("base_model", "tiny")
    return new_config(run_name=run, dataset="my-voice", max_steps=steps, **kw)


def job(run) -> dict:
    return runfolder.read_json(runfolder.run_dir(run) / runfolder.JOB, {})


def test_run_goes_queued_running_succeeded(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    folder = queue.create_run(cfg(steps=8))
    assert runstatus.status("run-a").state == "queued"
    assert json.loads((folder / "config.json").read_text())["max_steps"] == 8  # frozen config
    queue.start("run-a")
    running = wait_for("run-a", "running", step_at_least=1)
    assert 0 < running.progress < 1 and running.pid == job("run-a")["pid"]
    assert job("run-a")["proc_start"] == processes.start_time(running.pid)
    done = wait_for("run-a", "succeeded")
    assert done.step == 8 and done.progress == 1.0
    assert "step 8/8 loss 0.1250" in runstatus.read_log("run-a", 5)
    assert [s.run for s in runstatus.list_runs()] == ["run-a"]


def test_list_runs_newest_first_and_missing_run_is_clear(standin):
    queue.create_run(cfg("first"))
    time.sleep(0.01)
    queue.create_run(cfg("second", steps=6))
    assert [s.run for s in runstatus.list_runs()] == ["second", "first"]
    with pytest.raises(FileNotFoundError, match="no run named 'nope'"):
        runstatus.status("nope")


def test_two_starts_make_one_run(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    queue.submit(cfg(steps=10))
    with pytest.raises(ValueError, match="already exists"):
        queue.create_run(cfg(steps=10))
    with pytest.raises(queue.DuplicateRunError, match="run-a"):
        queue.create_run(cfg("run-b", steps=10))  # same settings under another name while run-a is active
    assert not (runfolder.run_dir("run-b")).exists()
    queue.start("run-a")
    wait_for("run-a", "running", step_at_least=1)
    queue.start("run-a")
    wait_for("run-a", "succeeded")
    log = "\n".join(runstatus.read_log("run-a", 100))
    assert log.count("=== voxstudio: starting run run-a") == 1
    assert log.count("standin: argv") == 1
    # once it has finished, the same settings may run again under a new name
    queue.create_run(cfg("run-b", steps=10))


def test_fifo_queue_runs_one_at_a_time_without_anyone_watching(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.05")
    for steps, name in enumerate(("q1", "q2", "q3"), start=4):
        queue.submit(cfg(name, steps=steps))  # distinct settings
        time.sleep(0.01)
    # only raw files are read from here on: nothing in this process drives the queue
    for name in ("q1", "q2", "q3"):
        wait_raw(name, "succeeded")
    order = (standin / "order.txt").read_text().split("\n")
    assert order[:6] == ["start q1", "end q1", "start q2", "end q2", "start q3", "end q3"]


def test_queue_survives_a_killed_supervisor(standin, monkeypatch):
    """A studio restart (or a killed supervisor) neither stops the running trainer nor loses the queue."""
    monkeypatch.setenv("STANDIN_STEP_S", "0.05")
    queue.submit(cfg("first", steps=30))
    wait_for("first", "running", step_at_least=2)
    info = runfolder.read_json(workspace.runs_dir() / supervisor.INFO)
    os.kill(info["pid"], signal.SIGKILL)  # the supervisor this test started
    deadline = time.time() + 10
    while supervisor.is_running():
        assert time.time() < deadline
        time.sleep(0.05)
    queue.create_run(cfg("second", steps=3))  # queued while no supervisor runs
    assert runstatus.status("first").state == "running"  # the trainer lives on in its own session
    assert queue.resume_queue() is True  # what the Train page does on every render
    wait_raw("second", "succeeded")
    assert raw_state("first") == "succeeded"
    order = (standin / "order.txt").read_text().split("\n")
    assert order[:4] == ["start first", "end first", "start second", "end second"]


def test_killed_trainer_is_crashed_keeps_log_and_resumes(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    queue.submit(cfg(steps=30))
    st = wait_for("run-a", "running", step_at_least=3)
    os.kill(st.pid, signal.SIGKILL)
    wait_for("run-a", "crashed", timeout=10)
    deadline = time.time() + 10  # the supervisor, the trainer's parent, adds how it ended
    while runstatus.status("run-a").exit_code is None and time.time() < deadline:
        time.sleep(0.05)
    crashed = runstatus.status("run-a")
    assert crashed.exit_code == -9 and "SIGKILL" in crashed.message and "resume" in crashed.message
    assert raw_state("run-a") == "crashed"  # persisted, not only derived
    assert "step 3/30" in "\n".join(runstatus.read_log("run-a", 100))
    monkeypatch.setenv("STANDIN_STEP_S", "0.01")
    queue.resume("run-a")
    done = wait_for("run-a", "succeeded")
    assert done.step == 30
    log = "\n".join(runstatus.read_log("run-a", 200))
    assert "step 3/30" in log and "standin: resumed from step" in log and "resuming run run-a" in log
    with pytest.raises(ValueError, match="already succeeded"):
        queue.resume("run-a")


def test_stop_sends_sigterm_and_the_trainer_checkpoints(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    queue.submit(cfg(steps=200))
    pid = wait_for("run-a", "running", step_at_least=2).pid
    st = queue.stop("run-a", grace_s=20)
    assert st.state == "stopped" and st.step < 200
    assert "SIGTERM received" in "\n".join(runstatus.read_log("run-a", 10))
    assert not pid_alive(pid)


def test_stop_kills_after_the_grace_period(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    monkeypatch.setenv("STANDIN_IGNORE_TERM", "1")
    queue.submit(cfg(steps=200))
    pid = wait_for("run-a", "running", step_at_least=1).pid
    t0 = time.monotonic()
    st = queue.stop("run-a", grace_s=1.0)
    assert time.monotonic() - t0 >= 1.0
    assert st.state == "stopped" and "by force" in st.message
    assert not pid_alive(pid)


def test_stop_without_waiting_is_enforced_by_the_supervisor(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    monkeypatch.setenv("STANDIN_IGNORE_TERM", "1")
    queue.submit(cfg(steps=200))
    wait_for("run-a", "running", step_at_least=1)
    assert queue.stop("run-a", grace_s=0.5, wait=False).state == "running"
    assert wait_raw("run-a", "stopped", timeout=15) == "stopped"  # nobody in this process polled status


def test_stop_a_queued_run_cancels_it(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    queue.submit(cfg("busy", steps=20))
    queue.submit(cfg("waiting", steps=21))
    assert queue.stop("waiting").state == "stopped"
    wait_for("busy", "succeeded")
    assert "start waiting" not in (standin / "order.txt").read_text()


def test_pid_reuse_is_not_mistaken_for_the_trainer(standin):
    folder = queue.create_run(cfg())
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        runfolder.write_status(folder, state="running", launch_id="L1", started_at=time.time() - 3600)
        real_start = processes.start_time(stranger.pid)
        runfolder.write_json_atomic(folder / "job.json", {"launch_id": "L1", "pid": stranger.pid,
                                                          "proc_start": real_start})
        assert runstatus.status("run-a").state == "running"  # same pid and start time: that is our process
        runfolder.write_json_atomic(folder / "job.json", {"launch_id": "L1", "pid": stranger.pid,
                                                          "proc_start": real_start - 1})
        st = runstatus.status("run-a")  # same pid, other start time: the pid was reused, the trainer is gone
        assert st.state == "crashed"
        queue.stop("run-a", grace_s=0.1)
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_token_never_reaches_argv_config_or_job(standin, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    queue.submit(cfg(steps=10))
    st = wait_for("run-a", "running", step_at_least=1)
    cmdline = open(f"/proc/{st.pid}/cmdline", "rb").read().decode()
    wait_for("run-a", "succeeded")
    assert TOKEN not in cmdline
    for name in ("config.json", "job.json", "status.json", "train.log"):
        assert TOKEN not in (st.folder / name).read_text(), name
    assert "token in environment: yes" in "\n".join(runstatus.read_log("run-a", 50))  # it still got there
    with pytest.raises(ValueError, match="token"):
        queue.create_run(cfg("leaky", base_model=TOKEN))
    assert not runfolder.run_dir("leaky").exists()


def test_bad_settings_change_nothing(standin):
    with pytest.raises(ValueError, match="max steps"):
        queue.create_run(cfg(steps=0))
    assert runstatus.list_runs() == []
