"""Read Trackio's local SQLite store for the charts (sqlite3 only; no trackio or torch import).

Trackio 0.43 keeps one database per project at ``$TRACKIO_DIR/<canonical project>.db`` (the project name
with everything but ``[A-Za-z0-9_-]`` dropped) with a table ``metrics(id, run_id, timestamp, run_name, step,
metrics)`` where ``metrics`` is a JSON object and ±inf/NaN are stored as the strings "Infinity"/"NaN".
The transformers ``TrackioCallback`` logs without an explicit step, so Trackio's ``step`` column is a
per-call counter; the trainer's real step is in the JSON as ``train/global_step`` and we prefer it.
Reading is read-only and tolerant: a missing or busy database gives empty series, never an exception,
so a live chart simply shows nothing yet.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

from voxstudio import workspace

DB_EXT = ".db"
GLOBAL_STEP_KEY = "train/global_step"
DEFAULT_KEYS = ("train/loss", "train/learning_rate", "eval/wer", "eval/cer", "eval/loss")
SPECIAL_FLOATS = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
BUSY_TIMEOUT_S = 2.0


def canonical_project_name(project: str) -> str:
    """Trackio's on-disk name for a project (same rule as ``trackio.utils.canonical_project_name``)."""
    safe = "".join(c for c in project if c.isalnum() or c in ("-", "_")).rstrip()
    return safe or "default"


def db_path(project: str, trackio_dir: Path | None = None) -> Path:
    """Path of the project's database (it may not exist yet)."""
    folder = Path(trackio_dir) if trackio_dir else workspace.trackio_dir()
    return folder / f"{canonical_project_name(project)}{DB_EXT}"


def _rows(project: str, sql: str, params: tuple, trackio_dir: Path | None) -> list[tuple]:
    path = db_path(project, trackio_dir)
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error:  # no metrics table yet, locked, or a newer schema: show nothing rather than crash
        return []
    finally:
        conn.close()


def projects(trackio_dir: Path | None = None) -> list[str]:
    """Canonical names of the projects that have a database."""
    folder = Path(trackio_dir) if trackio_dir else workspace.trackio_dir()
    return sorted(p.stem for p in folder.glob(f"*{DB_EXT}") if not p.stem.startswith("registry-"))


def runs(project: str, trackio_dir: Path | None = None) -> list[str]:
    """Run names of a project, in the order they first logged."""
    rows = _rows(project, "SELECT run_name, MIN(id) FROM metrics GROUP BY run_name ORDER BY MIN(id)", (), trackio_dir)
    return [name for name, _ in rows]


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in SPECIAL_FLOATS:
        return SPECIAL_FLOATS[value]
    return None


def series(
    project: str, run: str, keys: tuple[str, ...] | None = DEFAULT_KEYS, trackio_dir: Path | None = None
) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` sorted by step, for the numeric ``keys`` (all keys when None).

    When a step was logged twice (a resumed run repeats steps after its last checkpoint) the later
    value wins, so a resumed run draws one clean line.
    """
    rows = _rows(
        project, "SELECT step, metrics FROM metrics WHERE run_name = ? ORDER BY id", (run,), trackio_dir
    )
    wanted = set(keys) if keys is not None else None
    points: dict[str, dict[int, float]] = {}
    for step, raw in rows:
        try:
            metrics = json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            continue
        if not isinstance(metrics, dict):
            continue
        x = _number(metrics.get(GLOBAL_STEP_KEY))
        x = int(x) if x is not None and math.isfinite(x) else int(step)
        for key, value in metrics.items():
            if key == GLOBAL_STEP_KEY or (wanted is not None and key not in wanted):
                continue
            number = _number(value)
            if number is not None:
                points.setdefault(key, {})[x] = number
    ordered = [k for k in keys if k in points] if keys is not None else sorted(points)
    return {key: sorted(points[key].items()) for key in ordered}


def latest(project: str, run: str, trackio_dir: Path | None = None) -> dict[str, float]:
    """The last logged value of every numeric key of a run (for summary tables)."""
    return {key: values[-1][1] for key, values in series(project, run, None, trackio_dir).items() if values}
