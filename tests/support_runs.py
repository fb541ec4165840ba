"""Finished tiny training runs for publishing tests (shared with the demo/Space tests).

Training even the tiny in-code Voxtral costs seconds, so each kind of run is trained once per test session
into a private data home, and every test gets its own *copy* of that home (tests may export, edit or
delete freely). Use from a test module::

    from support_runs import finished_runs, runs_home  # noqa: F401 - fixtures

    def test_something(runs_home):
        runs_home.home          # the copied VOXSTUDIO_HOME (already set in the environment)
        runs_home.lora          # Path of a succeeded LoRA run folder (adapter in output/)
        runs_home.full          # Path of a succeeded full fine-tune run folder
        runs_home.dataset       # the dataset name both runs trained on (fixture clips, English)
        runs_home.train_texts   # {clip text: wav path} of the training clips

Runs use the real trainer subprocess (``python -m voxstudio.training.train RUN_DIR``) with ``base_model="tiny"``.
The LoRA run is short (it only has to produce an adapter); the full run trains ``FULL_STEPS`` steps, enough
for the tiny model to transcribe its training clips exactly (the end-to-end demo flow checks that). Both
are trained once per session, whichever tests ask for them. Set ``VOXSTUDIO_RUNS_CACHE=/some/dir`` to keep the
trained home between sessions while iterating locally (``<dir>/runs`` is reused when present).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, speech_manifest

DATASET = "pub-voice"
LORA_RUN, FULL_RUN = "pub-lora", "pub-full"
LORA_STEPS, FULL_STEPS = 20, 300
N_CLIPS = 6


@dataclass(frozen=True)
class Runs:
    home: Path
    lora: Path
    full: Path
    dataset: str
    train_texts: dict


def _rows() -> list[dict]:
    rows = [r for r in speech_manifest("clips") if r["language"] == "en" and r["audio_path"].startswith("en/stp_")]
    return rows[:N_CLIPS]


def _train(home: Path, run: str, **fields) -> Path:
    from voxstudio.runs import runfolder
    from voxstudio.training.config import new_config

    cfg = new_config(run_name=run, dataset=DATASET, base_model="tiny", eval_every=10_000, **fields)
    folder = home / "runs" / run
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save(folder / runfolder.CONFIG)
    env = {**os.environ, "VOXSTUDIO_HOME": str(home), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    env.pop("HF_TOKEN", None)
    with open(folder / runfolder.LOG, "ab") as log:
        subprocess.run([sys.executable, "-m", "voxstudio.training.train", str(folder)], stdout=log,
                       stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=900, check=False)
    state = runfolder.read_status(folder).get("state")
    assert state == "succeeded", f"tiny {run} did not finish ({state}):\n" + "\n".join(runfolder.tail_log(folder))
    return folder


def build_home(home: Path, full_steps: int = FULL_STEPS) -> None:
    """A data home with one consented dataset and a finished LoRA run and full run on it."""
    old = os.environ.get("VOXSTUDIO_HOME")
    os.environ["VOXSTUDIO_HOME"] = str(home)
    try:
        from voxstudio.data.dataset import Dataset

        ds = Dataset.create(DATASET, languages=["en"], speaker="Tess",
                            consent={"given": True, "speaker": "Tess", "statement": "I agree.",
                                     "given_at": "2026-11-20T10:00:00+00:00"})
        for row in _rows():
            ds.add_clip(row["path"], row["text"], language="en", source="import")
    finally:
        if old is None:
            os.environ.pop("VOXSTUDIO_HOME", None)
        else:
            os.environ["VOXSTUDIO_HOME"] = old
    _train(home, LORA_RUN, method="lora", max_steps=LORA_STEPS, learning_rate=1e-2, lora_r=4, lora_alpha=8)
    _train(home, FULL_RUN, method="full", max_steps=full_steps, eval_fraction=0.0)


_BUILT: dict[str, Path] = {}  # one trained home per process, however many modules import the fixture


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory) -> Path:
    """The session's trained home (read-only by convention: tests use ``runs_home``, a private copy).

    A fixture imported into several test modules is a separate fixture in each, so the home is kept in
    a module-level cache and trained only once per test session.
    """
    if "home" in _BUILT:
        return _BUILT["home"]
    cache = os.environ.get("VOXSTUDIO_RUNS_CACHE")
    home = Path(cache) / "runs" if cache else tmp_path_factory.mktemp("runs") / "home"
    if not (home / "runs" / FULL_RUN / "output").is_dir():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        build_home(home)
    _BUILT["home"] = home
    return home


def copy_home(source: Path, tmp_path: Path, monkeypatch) -> Runs:
    """A private copy of a trained home, set as VOXSTUDIO_HOME (via ``monkeypatch``)."""
    home = tmp_path / "home"
    shutil.copytree(source, home, symlinks=True)
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    from voxstudio.data.dataset import Dataset

    ds = Dataset.open(DATASET)
    texts = {c.text: str(ds.audio_path(c)) for c in ds.clips()}
    return Runs(home, home / "runs" / LORA_RUN, home / "runs" / FULL_RUN, DATASET, texts)


@pytest.fixture
def runs_home(finished_runs, tmp_path, monkeypatch) -> Runs:
    """A private copy of the trained home, set as VOXSTUDIO_HOME for this test."""
    return copy_home(finished_runs, tmp_path, monkeypatch)

