"""Files of one run folder (``$VOXSTUDIO_HOME/runs/<run>/``), stdlib only.

The UI and the trainer talk only through these files. Writes are atomic (temp file + fsync + rename),
so a reader never sees half a JSON document, even if the writer is killed mid-write.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from voxstudio import workspace
from voxstudio.atomicfile import locked, write_atomic

CONFIG = "config.json"
STATUS = "status.json"
STATUS_LOCK = ".status.lock"
RESERVE = ".reserve"  # disk space set aside so that a run on a full disk can still say so
RESERVE_BYTES = 256 * 1024
JOB = "job.json"
LOG = "train.log"
TRAINING_CONFIG = "training_config.json"
TRAIN_RESULTS = "train_results.json"
EVAL_RESULTS = "eval_results.json"
OUTPUT = "output"
CHECKPOINTS = "checkpoints"

STATES = ("queued", "running", "succeeded", "failed", "stopped", "crashed")
FINAL_STATES = ("succeeded", "failed", "stopped", "crashed")
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def run_dir(run: str) -> Path:
    """Folder of run ``run`` (name checked as a safe slug)."""
    return workspace.runs_dir() / workspace.check_slug(run, "run name")


def write_json_atomic(path: Path, data) -> None:
    """Write JSON so that readers see either the old or the new document, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str).encode("utf-8"))


def read_json(path: Path, default=None):
    """Read a JSON file; ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return default


def write_status(folder: Path, **fields) -> dict:
    """Merge ``fields`` into status.json atomically and stamp ``updated_at``."""
    path = Path(folder) / STATUS
    with locked(Path(folder) / STATUS_LOCK):  # trainer, supervisor and studio each merge into the latest document
        status = read_json(path, {}) or {}
        status.update(fields)
        status["updated_at"] = time.time()
        write_json_atomic(path, status)
    return status


def read_status(folder: Path) -> dict:
    return read_json(Path(folder) / STATUS, {}) or {}


def has_weights(folder: Path) -> bool:
    """Whether ``folder`` holds model or adapter weights (safetensors or bin files)."""
    folder = Path(folder)
    return folder.is_dir() and any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir())


def finished(folder: Path) -> bool:
    """THE rule for "this run is finished": it succeeded and left loadable weights in ``output/``.

    Try, Publish, export and evaluate all ask this one question, so they never disagree about a run.
    """
    folder = Path(folder)
    return read_status(folder).get("state") == "succeeded" and has_weights(folder / OUTPUT)


def tail_log(folder: Path, lines: int = 40) -> list[str]:
    """The last ``lines`` lines of train.log (reads only the end of the file)."""
    path = Path(folder) / LOG
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return data.splitlines()[-lines:]


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour/cursor codes Trackio and tqdm write for a terminal


def readable_log(lines: list[str]) -> str:
    """train.log lines as a browser should show them: no terminal escape codes, and of a progress bar redrawn
    with carriage returns only its last state."""
    return "\n".join(ANSI_ESCAPE.sub("", line).split("\r")[-1].rstrip() for line in lines)


def reserve_space(folder: Path) -> None:
    """Set aside a little disk space in the run folder (written at creation)."""
    with open(Path(folder) / RESERVE, "wb") as f:
        f.write(b"\0" * RESERVE_BYTES)
        f.flush()
        os.fsync(f.fileno())


def release_space(folder: Path) -> None:
    """The disk is full: free the reserve so that the failure itself can be written to status.json."""
    (Path(folder) / RESERVE).unlink(missing_ok=True)
