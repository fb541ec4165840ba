"""Shared fixtures. Every test gets its own empty VOXSTUDIO_HOME; nothing touches ./workspace."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEECH = FIXTURES / "speech"

# No test may reach the network for models or data; the local Hub test server sets HF_ENDPOINT itself.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Hugging Face caches (datasets locks, hub downloads) go to a throwaway folder, never ~/.cache.
_HF_HOME = tempfile.mkdtemp(prefix="voxstudio-hf-home-")
os.environ["HF_HOME"] = _HF_HOME
os.environ.pop("HF_TOKEN", None)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty data home for this test (sets VOXSTUDIO_HOME)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("VOXSTUDIO_HOME", str(path))
    return path


def speech_manifest(sub: str = "clips") -> list[dict]:
    """Rows of tests/fixtures/speech/<sub>/manifest.jsonl with absolute `path` added."""
    folder = SPEECH / sub
    rows = []
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row["path"] = folder / row["audio_path"]
        rows.append(row)
    return rows


@pytest.fixture
def clips() -> list[dict]:
    return speech_manifest("clips")


@pytest.fixture
def difficult_clips() -> list[dict]:
    return speech_manifest("difficult")


# Fixtures that run the real trainer (a subprocess training the tiny model). A test using one must be marked
# ``slow`` so that ``make test-fast`` stays a loop of seconds; collection fails loudly when the mark is missing.
TRAINER_FIXTURES = {"finished_runs", "runs_home", "trained", "auto_run"}


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items if TRAINER_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("tests that run the real trainer must be marked slow: " + ", ".join(unmarked))
