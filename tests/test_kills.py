"""Runs survive a SIGKILL at any point of a save: resume starts from the newest complete checkpoint, and a model
folder being replaced is always either the old or the new one.

The kills are real (the process SIGKILLs itself at a chosen point: tests/killing_trainer.py for the trainer, a
small script for the folder swap); nothing is simulated by writing files by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT
from train_helpers import english_rows, make_dataset, make_run, run_trainer, trainer_env

from voxstudio.runs import runfolder
from voxstudio.training import checkpoints

KILLER = ROOT / "tests" / "killing_trainer.py"


# ----- the folder swap (output/, the best checkpoint) -----
SWAP_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from voxstudio.training import checkpoints

    folder, die_at = Path(sys.argv[1]), int(sys.argv[2])
    calls = []
    real_replace = checkpoints.os.replace

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    checkpoints.os.replace = replace
    new = checkpoints.staging(folder)
    new.mkdir()
    (new / "model.safetensors").write_bytes(b"NEW" * 1000)
    if die_at == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # killed while the new folder is still being written
    checkpoints.swap_in(new, folder)
""")


@pytest.mark.parametrize("die_at", [0, 1, 2, 99])
def test_a_kill_during_the_output_swap_leaves_the_old_or_the_new_model(tmp_path, die_at):
    folder = tmp_path / "output"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"OLD" * 1000)
    proc = subprocess.run([sys.executable, "-c", SWAP_SCRIPT, str(folder), str(die_at)], cwd=ROOT,
                          env=trainer_env(), capture_output=True, timeout=60)
    assert proc.returncode == (0 if die_at == 99 else -9), proc.stderr.decode()[-2000:]
    checkpoints.recover(folder, log=lambda line: None)  # what the next trainer start does
    content = (folder / "model.safetensors").read_bytes()
    # killed before the new folder was in place -> the old model; after -> the new one; never none or a mix
    assert content == (b"OLD" * 1000 if die_at in (0, 1, 2) else b"NEW" * 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output"]  # no .tmp / .old leftovers


def test_resume_picks_the_newest_complete_checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoints"
    for step in (2, 4, 6):
        (ckpt / f"checkpoint-{step}").mkdir(parents=True)
        (ckpt / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    checkpoints.mark_complete(ckpt / "checkpoint-2")
    checkpoints.mark_complete(ckpt / "checkpoint-4")
    assert checkpoints.latest_complete(ckpt) == ckpt / "checkpoint-4"  # 6 was never marked complete
    assert checkpoints.remove_incomplete(ckpt, log=lambda line: None) == ["checkpoint-6"]
    assert [p.name for p in checkpoints.checkpoints(ckpt)] == ["checkpoint-2", "checkpoint-4"]


def test_runs_from_before_markers_still_resume_from_their_last_trainer_state(tmp_path):
    ckpt = tmp_path / "checkpoints"
    for step, state in ((3, True), (6, False)):  # checkpoint-6 was cut off before its trainer state
        (ckpt / f"checkpoint-{step}").mkdir(parents=True)
        if state:
            (ckpt / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert checkpoints.latest_complete(ckpt) == ckpt / "checkpoint-3"


# ----- the real trainer, killed while it writes a checkpoint -----
@pytest.mark.slow
@pytest.mark.parametrize("point", ["model", "optimizer", "marker"])
def test_sigkill_while_a_checkpoint_is_written_then_resume_succeeds(home, point):
    make_dataset("kills", english_rows(3))
    run = make_run(f"kill-{point}", "kills", eval_fraction=0.0, max_steps=6, eval_every=2, max_new_tokens=3,
                   max_eval_utterances=1)
    with open(run / runfolder.LOG, "ab") as log:
        killed = subprocess.run([sys.executable, str(KILLER), point, "4", str(run)], stdout=log,
                                stderr=subprocess.STDOUT, env=trainer_env(), timeout=600, cwd=ROOT)
    assert killed.returncode == -9, (run / runfolder.LOG).read_text()[-3000:]
    half = run / runfolder.CHECKPOINTS / "checkpoint-4"
    assert half.is_dir() and not (half / checkpoints.COMPLETE).exists()  # what the kill left behind
    assert checkpoints.latest_complete(run / runfolder.CHECKPOINTS).name == "checkpoint-2"

    resumed = run_trainer(run, resume=True)
    log = (run / runfolder.LOG).read_text()
    assert resumed.returncode == 0, log[-3000:]
    assert "removed incomplete checkpoint(s) left by a kill: checkpoint-4" in log
    assert f"resuming from {run / runfolder.CHECKPOINTS / 'checkpoint-2'}" in log
    assert "restored" in log and "missing keys" not in log  # the full model's weights really came back
    status = runfolder.read_status(run)
    assert status["state"] == "succeeded" and status["step"] == 6
    assert json.loads((run / runfolder.TRAIN_RESULTS).read_text())["global_step"] == 6
    assert runfolder.finished(run)
