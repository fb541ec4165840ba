"""The one owner of the data home (``VOXSTUDIO_HOME``): datasets, runs, trackio, caches.

Layout::

    $VOXSTUDIO_HOME/
        datasets/<name>/     audio/<clip_id>.wav, metadata.jsonl, dataset.json, trash/
        runs/<run>/          config.json, status.json, train.log, output/ ...
        trackio/             Trackio SQLite (TRACKIO_DIR)
        cache/               feature caches, hub caches
"""

from __future__ import annotations

import errno
import os
import re
import shutil
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


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """Out of disk space, as one sentence that says where and what to do (raised instead of ``[Errno 28]``)."""

    def __str__(self) -> str:
        return self.strerror or "The disk is full."


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, also when a library wrapped it (torch raises RuntimeError "... No space left on device")."""
    return (isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS) or "No space left on device" in str(exc)


def disk_full(path: str | os.PathLike) -> DiskFullError:
    """The one disk-full sentence for the folder ``path`` lives in (free space measured now)."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free_mb = shutil.disk_usage(folder).free / 1e6
    except OSError:
        free_mb = 0.0
    return DiskFullError(errno.ENOSPC, f"The disk holding {folder} is full: {free_mb:.0f} MB free; free some space "
                                       "or move VOXSTUDIO_HOME to a bigger disk. Nothing was saved by this step.")
