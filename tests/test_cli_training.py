"""`voxstudio train | runs | evaluate | transcribe` as a user types them (real subprocesses).

One real end to end: the tiny model is trained by the real ``python -m voxstudio.training.train`` through the queue,
in the foreground, and its loss is read back from Trackio's SQLite. The queue/stop/resume commands use the
stand-in trainer (tests/jobs_standin_trainer.py) to stay fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import speech_manifest
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_for, wait_raw

from voxstudio import workspace
from voxstudio.runs import runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.training import scoring

TINY_STEPS = 20


def cli(*args, env=None, timeout=300, check=False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "voxstudio", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or dict(os.environ))
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A data home with a dataset and one real tiny run trained in the foreground by `voxstudio train`."""
    home = tmp_path_factory.mktemp("trained") / "home"
    home.mkdir()
    old = os.environ.get("VOXSTUDIO_HOME")
    os.environ["VOXSTUDIO_HOME"] = str(home)
    try:
        make_dataset("voice", 6)
        proc = cli("train", "--dataset", "voice", "--model", "tiny", "--run", "tiny-cli",
                   "--max-steps", str(TINY_STEPS), "--eval-every", "10", timeout=600)
        yield home, proc
        cleanup_home()
    finally:
        if old is None:
            os.environ.pop("VOXSTUDIO_HOME", None)
        else:
            os.environ["VOXSTUDIO_HOME"] = old


@pytest.fixture
def standin(home, monkeypatch):
    use_standin_trainer(monkeypatch, step_s=0.05)
    make_dataset("voice", 3)
    yield home
    cleanup_home()


@pytest.mark.slow
def test_train_tiny_in_the_foreground_end_to_end(trained):
    home, proc = trained
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert f"step {TINY_STEPS}/{TINY_STEPS}" in proc.stdout  # the log streamed to the terminal
    assert "run tiny-cli: succeeded" in proc.stderr
    folder = home / "runs" / "tiny-cli"
    assert json.loads((folder / "config.json").read_text())["base_model"] == "tiny"
    for name in ("eval_results.json", "train_results.json", "output"):
        assert (folder / name).exists(), name
    loss = tracking.series("voice", "tiny-cli", keys=("train/loss",), trackio_dir=home / "trackio")["train/loss"]
    assert len(loss) >= TINY_STEPS // 2 and loss[-1][0] >= TINY_STEPS - 2
    assert loss[-1][1] < loss[0][1]  # it learns something


@pytest.mark.slow
def test_runs_list_status_and_logs(trained):
    home, _ = trained
    env = dict(os.environ, VOXSTUDIO_HOME=str(home))
    listed = json.loads(cli("runs", "list", "--json", env=env, check=True).stdout)
    assert [(r["run"], r["state"]) for r in listed] == [("tiny-cli", "succeeded")]
    assert "tiny-cli" in cli("runs", "list", env=env, check=True).stdout
    status = json.loads(cli("runs", "status", "tiny-cli", "--json", env=env, check=True).stdout)
    assert status["state"] == "succeeded" and status["step"] == TINY_STEPS and status["progress"] == 1.0
    assert status["baseline_wer"] is not None
    logs = cli("runs", "logs", "tiny-cli", "--lines", "5", env=env, check=True).stdout.splitlines()
    assert len(logs) == 5 and "done:" in "\n".join(logs)
    missing = cli("runs", "status", "nope", env=env)
    assert missing.returncode == 1 and "no run named 'nope'" in missing.stderr


@pytest.mark.slow
def test_evaluate_and_transcribe_with_the_trained_run(trained, monkeypatch, capsys):
    """In-process (`voxstudio.cli.main`), so the model libraries load once for both commands."""
    from voxstudio.cli import main

    home, _ = trained
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    clips = [str(r["path"]) for r in speech_manifest("clips")[:2]]
    capsys.readouterr()
    assert main(["transcribe", "--run", "tiny-cli", "/no/such.wav"]) == 1
    assert "/no/such.wav" in capsys.readouterr().err
    assert main(["transcribe", "--model", "/no/such/model", clips[0]]) == 1
    assert "/no/such/model" in capsys.readouterr().err

    assert main(["evaluate", "--run", "tiny-cli", "--split", "train", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "train" and result["n"] == len(result["utterances"]) >= 1
    # the reported WER is the corpus WER of exactly the utterances listed (what the user reads per clip)
    rows = result["utterances"]
    assert result["wer"] == pytest.approx(scoring.corpus_scores([r["reference"] for r in rows],
                                                                [r["hypothesis"] for r in rows],
                                                                [r["language"] for r in rows])["wer"])
    assert all(r["wer"] == pytest.approx(scoring.wer(r["reference"], r["hypothesis"], r["language"])) for r in rows)

    assert main(["transcribe", "--run", "tiny-cli", *clips, "--language", "auto", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["audio"] for r in out] == clips and all(isinstance(r["text"], str) for r in out)
    assert main(["transcribe", "--model", str(home / "runs" / "tiny-cli" / "output"), clips[0],
                 "--language", "en"]) == 0
    assert capsys.readouterr().out.startswith(clips[0] + "\t")


def test_bad_train_input_is_refused_and_changes_nothing(standin):
    cases = [
        (["--dataset", "nothing", "--model", "tiny", "--run", "r1"], "no dataset named 'nothing'"),
        (["--dataset", "voice", "--model", "tiny", "--run", "Bad Name"], "run name"),
        (["--dataset", "voice", "--model", "/no/such/folder", "--run", "r2"], "no model folder"),
        (["--dataset", "voice", "--model", "tiny", "--run", "r3", "--lr", "-1"], "learning rate"),
    ]
    for args, message in cases:
        proc = cli("train", *args)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
    from voxstudio.data.dataset import Dataset

    Dataset.create("lonely", languages=["en"])
    proc = cli("train", "--dataset", "lonely", "--model", "tiny", "--run", "r4")
    assert proc.returncode == 1 and "at least 2" in proc.stderr
    assert list(workspace.runs_dir().iterdir()) == []


def test_detached_runs_queue_and_finish_after_the_cli_exits(standin):
    for run, steps in (("d1", 6), ("d2", 7)):
        proc = cli("train", "--dataset", "voice", "--model", "tiny", "--run", run, "--max-steps", str(steps),
                   "--detach", check=True)
        assert "Queued run" in proc.stderr
    taken = cli("train", "--dataset", "voice", "--model", "tiny", "--run", "d1", "--detach")
    assert taken.returncode == 1 and "already exists" in taken.stderr
    wait_raw("d1", "succeeded")
    wait_raw("d2", "succeeded")
    assert (standin / "order.txt").read_text().split() == ["start", "d1", "end", "d1", "start", "d2", "end", "d2"]


def test_stop_and_resume_from_the_cli(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    cli("train", "--dataset", "voice", "--model", "tiny", "--run", "s1", "--max-steps", "200", "--detach",
        check=True)
    wait_for("s1", "running", step_at_least=2)
    stopped = cli("runs", "stop", "s1", "--grace", "20", check=True)
    assert "s1: stopped" in stopped.stdout
    monkeypatch.setenv("STANDIN_STEP_S", "0.005")
    resumed = cli("runs", "resume", "s1")
    assert resumed.returncode == 0 and "resumed from step" in resumed.stdout
    assert runstatus.status("s1").state == "succeeded"


def test_ctrl_c_in_the_foreground_stops_the_run(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    proc = subprocess.Popen([sys.executable, "-m", "voxstudio", "train", "--dataset", "voice", "--model", "tiny",
                             "--run", "fg", "--max-steps", "300"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,  # Ctrl-C as in a terminal, even when this test
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # runs with it ignored
    try:
        wait_for("fg", "running", step_at_least=2)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    assert "Stopping run fg" in err and "step 2/300" in out
    assert runfolder.read_status(runfolder.run_dir("fg"))["state"] == "stopped"
