"""The one owner of the data home (``VOXSTUDIO_HOME``): datasets, runs, trackio, caches.

Layout::

    $VOXSTUDIO_HOME/
        datasets/<name>/     audio/<clip_id>.wav, metadata.jsonl, dataset.json, trash/
        runs/<run>/          config.json, status.json, train.log, output/ ...
        trackio/             Trackio SQLite (TRACKIO_DIR)
        cache/               feature caches, hub caches
        users/<user_id>/     hosted (``voxstudio.hosting``): one private home like the above per signed-in person

:func:`root` is the box's data home (``VOXSTUDIO_HOME``); :func:`home` is the home of whoever this code runs
for: a hosted studio binds each script run to the signed-in person's ``users/<user_id>/`` with a context variable
(:func:`bind_session_home`, never os.environ: Streamlit sessions are threads of one process) and a resolver for
the runs that start elsewhere (callbacks, fragment reruns); :func:`use_home` binds one for a block (the
supervisor reading each owner's runs). Trainers and the CLI get theirs from ``VOXSTUDIO_HOME``.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

ENV_VAR = "VOXSTUDIO_HOME"
DEFAULT_HOME = "./workspace"
USERS = "users"
# \Z, not $: "$" also matches before a trailing newline, so "nl\n" would pass; is_slug uses fullmatch too.
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")

_SESSION_HOME: contextvars.ContextVar[Path | None] = contextvars.ContextVar("voxstudio_session_home", default=None)
_resolver: Callable[[], Path | None] | None = None


def root() -> Path:
    """The box's data home (``VOXSTUDIO_HOME``, default ``./workspace``), created on first use."""
    path = Path(os.environ.get(ENV_VAR) or DEFAULT_HOME).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def home() -> Path:
    """The data home of whoever this code runs for: the bound session home (a hosted studio's signed-in
    person), else the resolver's answer (which refuses when nobody is signed in), else :func:`root`."""
    path = _SESSION_HOME.get()
    if path is None and _resolver is not None:
        path = _resolver()
    if path is None:
        return root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def session_home() -> Path | None:
    """The person's home this code is bound to (None: the box's own process, e.g. the CLI or a trainer)."""
    path = _SESSION_HOME.get()
    if path is None and _resolver is not None:
        path = _resolver()
    return path


def bind_session_home(path: Path | None) -> None:
    """Bind the current context (a Streamlit script run's thread) to ``path``; None unbinds."""
    _SESSION_HOME.set(Path(path) if path is not None else None)


def set_resolver(resolver: Callable[[], Path | None] | None) -> None:
    """Who answers :func:`home` when no home is bound (the hosted studio: from the session's sign-in)."""
    global _resolver
    _resolver = resolver


@contextlib.contextmanager
def use_home(path: Path) -> Iterator[Path]:
    """Run a block for the home ``path`` (e.g. the supervisor handling one owner's run)."""
    token = _SESSION_HOME.set(Path(path))
    try:
        yield Path(path)
    finally:
        _SESSION_HOME.reset(token)


def users_dir() -> Path:
    return root() / USERS


def user_home(user_id: str) -> Path:
    """``users/<user_id>/`` under the root: one person's private home on a hosted box."""
    path = users_dir() / check_slug(user_id, "user id")
    path.mkdir(parents=True, exist_ok=True)
    return path


def all_homes() -> list[Path]:
    """The root and every person's home under ``users/`` (the supervisor's one queue spans them all)."""
    homes = [root()]
    if users_dir().is_dir():
        homes += sorted(p for p in users_dir().iterdir() if p.is_dir() and not p.is_symlink() and is_slug(p.name))
    return homes


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
    return isinstance(name, str) and SLUG_RE.fullmatch(name) is not None and ".." not in name


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
