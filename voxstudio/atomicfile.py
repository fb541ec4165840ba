"""The project's one atomic whole-file write: temp file in the same folder, fsync, rename.

Readers (another tab, the trainer, the supervisor) and crashes see either the old or the new content, never
a torn file: WAV clips, ``dataset.json``, rewritten JSONL logs, and every run-folder JSON go through here. The
folder is fsynced after the rename, so a power loss keeps the new entry. Also the one inter-process lock
(:func:`locked`) and directory fsync (:func:`fsync_dir`). Stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o644  # mkstemp creates 0600; written files should look like any other saved file


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (the folder must exist); returns the path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)  # the new directory entry survives a power loss too
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a folder's entries (files created, renamed or removed in it) durable across a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(lock_path: str | os.PathLike) -> Iterator[None]:
    """Exclusive inter-process lock (``fcntl``) on ``lock_path`` (created if needed) for the block's duration.

    Serialises read-modify-write of one file between processes: dataset files, a run's status.json."""
    with open(lock_path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
