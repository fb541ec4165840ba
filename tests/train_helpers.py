"""Helpers for the training tests: a real dataset from fixture clips, a run folder, the real trainer process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, speech_manifest

from voxstudio.data.dataset import Dataset
from voxstudio.runs import runfolder
from voxstudio.training.config import new_config

# The 8 short English voice-assistant commands used by the learning proof.
PROOF_CLIPS = 8


def english_rows(n: int = PROOF_CLIPS) -> list[dict]:
    rows = [r for r in speech_manifest("clips") if r["language"] == "en" and r["audio_path"].startswith("en/stp_")]
    return rows[:n]


def make_dataset(name: str, rows: list[dict]) -> Dataset:
    ds = Dataset.create(name, languages=sorted({r["language"] for r in rows}), speaker="tester")
    for r in rows:
        ds.add_clip(r["path"], r["text"], language=r["language"], source="import")
    return ds


def make_run(run: str, dataset: str, **fields) -> Path:
    cfg = new_config(run_name=run, dataset=dataset, base_model=fields.pop("base_model", "tiny"), **fields)
    folder = runfolder.run_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save(folder / runfolder.CONFIG)
    return folder


def trainer_cmd(run_dir: Path, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "voxstudio.training.train", str(run_dir)] + (["--resume"] if resume else [])


def trainer_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra)
    return env


def run_trainer(run_dir: Path, resume: bool = False, timeout: float = 600, **env) -> subprocess.CompletedProcess:
    """Run the real trainer; its stdout/stderr go to train.log like a job's."""
    with open(run_dir / runfolder.LOG, "ab") as log:
        return subprocess.run(trainer_cmd(run_dir, resume), stdout=log, stderr=subprocess.STDOUT,
                              env=trainer_env(**env), timeout=timeout, cwd=ROOT)


def wait_for_status(run_dir: Path, predicate, timeout: float = 180.0) -> dict:
    """Poll status.json until ``predicate(status)`` holds; fail with the last status and the log's tail."""
    import time

    end = time.time() + timeout
    while time.time() < end:
        status = runfolder.read_status(run_dir)
        if predicate(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"status never matched; last: {runfolder.read_status(run_dir)}; log: "
                         f"{(run_dir / runfolder.LOG).read_text()[-3000:]}")
