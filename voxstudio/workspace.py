"""The one owner of the data home (``VOXSTUDIO_HOME``): datasets, runs, trackio, caches.

Layout::

    $VOXSTUDIO_HOME/
        datasets/<name>/     audio/<clip_id>.wav, metadata.jsonl, dataset.json, trash/
        runs/<run>/          config.json, status.json, train.log, output/ ...
        trackio/             Trackio SQLite (TRACKIO_DIR)
        cache/               feature caches, hub caches
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_VAR = "VOXSTUDIO_HOME"
DEFAULT_HOME = "./workspace"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def home() -> Path:
    """The data home, created on first use."""
    path = Path(os.environ.get(ENV_VAR) or DEFAULT_HOME).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    return _sub("datasets")


def runs_dir() -> Path:
    return _sub("runs")


def trackio_dir() -> Path:
    return _sub("trackio")


def cache_dir() -> Path:
    return _sub("cache")


def is_slug(name) -> bool:
    """The slug rule (dataset, run and clip names): 1–64 lower-case letters, digits, ``.-_``, no ``..``."""
    return isinstance(name, str) and SLUG_RE.match(name) is not None and ".." not in name


def check_slug(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a safe slug (:func:`is_slug`), else raise a ValueError saying what is allowed."""
    if not is_slug(name):
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1–64 lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit (for example 'my-voice-fr')."
        )
    return name


def slugify(text: str) -> str:
    """Best-effort safe slug from free text (for suggestions in the UI)."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.strip().lower()).strip("-._")
    return (slug or "dataset")[:64]
