"""Durable JSONL files (``metadata.jsonl``, ``trash.jsonl``, ``phrases.jsonl``): a saved row is never lost.

* :func:`append` adds rows in one ``write`` with fsync, after repairing a torn tail, under the caller's
  ``atomicfile.locked`` (``fcntl`` exclusive lock: two browser tabs, the CLI and an import may write at once);
* :func:`rewrite` replaces the whole file atomically (temp file in the same folder + fsync + rename);
* readers never lock: a torn last line (a writer killed mid-append) or a corrupt line is skipped, never fatal;
* :func:`snapshot` parses a file once and afterwards only what was appended, so a 10,000-row dataset costs
  nothing on each Streamlit rerun; its ``version`` hashes exactly the complete lines;
* a cached snapshot is trusted only while the file's *generation* is unchanged: every :func:`rewrite` bumps a
  counter in a sidecar file (``.<name>.gen``) before and after its rename, like a seqlock. Inode numbers,
  sizes and mtimes cannot tell a rewrite from an append (ext4 reuses a freed inode number at once, and two
  rewrites of the same size in one clock tick look identical), so another process's edit is never mistaken for
  "unchanged" or for "appended to";
* read-modify-write callers read with :func:`read_rows` under the lock (what is on disk now, no cache).

Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import workspace
from voxstudio.atomicfile import fsync_dir, write_atomic

CACHE_FILES = 64  # snapshots kept in memory (one per file)


def dump_rows(rows: Iterable[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows)


def parse_rows(data: bytes) -> list[dict]:
    """JSON objects of a JSONL byte string; torn or corrupt lines are skipped."""
    rows = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_rows(path: Path) -> list[dict]:
    """Complete rows of a JSONL file ([] when it does not exist)."""
    try:
        return parse_rows(Path(path).read_bytes())
    except FileNotFoundError:
        return []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _repair_tail(fd: int) -> None:
    """Make the file end with a newline: complete a parseable last line, cut a torn one (lock held)."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = size
    while start > 0:  # find the start of the last line, reading backwards
        start = max(0, start - (1 << 16))
        cut = os.pread(fd, size - start, start).rfind(b"\n")
        if cut >= 0:
            start += cut + 1
            break
    try:
        json.loads(os.pread(fd, size - start, start))
        _write_all(fd, b"\n")
    except (json.JSONDecodeError, UnicodeDecodeError):
        os.ftruncate(fd, start)


GEN_WIDTH = 20


def _disk_full_or(exc: OSError, path: Path) -> OSError:
    """The one disk-full sentence instead of ``[Errno 28]``; any other error unchanged."""
    if workspace.is_disk_full(exc) and not isinstance(exc, workspace.DiskFullError):
        return workspace.disk_full(path)
    return exc


def gen_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.gen")


def generation(path: Path) -> int:
    """The file's rewrite counter (odd while a rewrite is in progress; 0 for a file never rewritten)."""
    try:
        with open(gen_path(path), "rb") as f:
            return int(f.read(GEN_WIDTH) or b"0")
    except (FileNotFoundError, ValueError):
        return 0


def _bump_generation(path: Path, odd: bool) -> int:
    """Move the counter to its next odd (rewrite starting) or even (done) value in place: fixed width, one
    pwrite, fsync. Hold :func:`locked`. A counter left odd by a killed rewrite is fixed by the next one."""
    value = generation(path) + 1
    if value % 2 != odd:
        value += 1
    fd = os.open(gen_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, str(value).rjust(GEN_WIDTH, "0").encode(), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


def settle_generation(path: Path) -> bool:
    """Repair a counter left odd by a rewrite that was killed mid-way (hold :func:`locked`); True if it was."""
    if generation(path) % 2:
        _bump_generation(path, odd=False)
        return True
    return False


def append(path: Path, rows: list[dict]) -> None:
    """Append rows in one write after repairing a torn tail; fsync before returning. Hold :func:`locked`."""
    path = Path(path)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _repair_tail(fd)
        size = os.lseek(fd, 0, os.SEEK_END)
        try:
            _write_all(fd, dump_rows(rows))
            os.fsync(fd)
        except BaseException as exc:  # e.g. the disk filled up mid-row: take back what was written, keep nothing half
            os.ftruncate(fd, size)
            os.fsync(fd)
            if isinstance(exc, OSError):
                raise _disk_full_or(exc, path) from None
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def rewrite(path: Path, rows: list[dict]) -> None:
    """Replace the file's rows atomically. Hold :func:`locked`. The cache learns the rows without a re-read."""
    path = Path(path)
    data = dump_rows(rows)
    try:
        _bump_generation(path, odd=True)  # readers that overlap this rewrite will not trust or cache what they read
        try:
            write_atomic(path, data)
        finally:
            gen = _bump_generation(path, odd=False)
    except OSError as exc:
        raise _disk_full_or(exc, path) from None
    st = path.stat()
    snap = Snapshot((gen, st.st_ino, st.st_size, st.st_mtime_ns), len(data), list(rows), hashlib.sha1(data))
    old = _CACHE.get(path)
    if old is not None and old.memo:  # rows kept from the old snapshot keep their derived objects
        where = {id(r): i for i, r in enumerate(old.base)}
        with _LOCK:
            for fn, done in old.memo.items():
                snap.memo[fn] = [done[where[id(r)]] if id(r) in where else fn(r) for r in snap.base]
    _remember(path, snap)


@dataclass(frozen=True)
class Snapshot:
    """A JSONL file as of one (inode, size, mtime). Immutable and shared: never mutate its rows.

    ``upto`` bytes (ending with a newline) are parsed into ``base``; ``tail`` is a complete last row that
    lacks its newline; a torn remainder is ignored (and not part of ``version``).
    """

    key: tuple
    upto: int
    base: list[dict]
    sha: object
    tail: list[dict] = field(default_factory=list)
    tail_bytes: bytes = b""
    memo: dict = field(default_factory=dict, compare=False)  # fn -> [fn(row) for row in base]

    @property
    def rows(self) -> list[dict]:
        return self.base + self.tail if self.tail else list(self.base)

    @property
    def version(self) -> str:
        """Hash of the complete lines: changes with every append or rewrite, not with a torn tail."""
        sha = self.sha.copy()
        if self.tail:
            sha.update(self.tail_bytes + b"\n")
        return sha.hexdigest()[:16]

    def mapped(self, fn: Callable[[dict], object]) -> list:
        """``[fn(row) for row in rows]``, computed once per row across snapshots of the same file."""
        with _LOCK:
            done = self.memo.get(fn)
            if done is None:
                done = self.memo[fn] = [fn(r) for r in self.base]
        return done + [fn(r) for r in self.tail] if self.tail else list(done)


_CACHE: dict[Path, Snapshot] = {}
_LOCK = threading.Lock()
_EMPTY_KEY = ()


def _remember(path: Path, snap: Snapshot) -> None:
    with _LOCK:
        if len(_CACHE) >= CACHE_FILES:
            _CACHE.clear()
        _CACHE[path] = snap


def snapshot(path: Path) -> Snapshot:
    """The file's rows, parsed incrementally: only bytes appended since the last call are read.

    Trusts the cache only under the same generation (no rewrite since); a rewrite forces a full parse, and a
    read that overlapped a rewrite is retried.
    """
    path = Path(path)
    for _ in range(100):
        before = generation(path)
        if before % 2:  # a rewrite is in progress (or was killed mid-way): read in full, trust nothing cached
            return _snapshot(path, -1)
        snap = _snapshot(path, before)
        if generation(path) == before:
            if snap.key:
                _remember(path, snap)
            return snap
    return _snapshot(path, -1)  # a writer keeps rewriting: an uncached full read is still correct


def _snapshot(path: Path, gen: int) -> Snapshot:
    try:
        st = path.stat()
    except FileNotFoundError:
        return Snapshot(_EMPTY_KEY, 0, [], hashlib.sha1())
    key = (gen, st.st_ino, st.st_size, st.st_mtime_ns)
    old = _CACHE.get(path)
    if old is not None and old.key == key:
        return old
    with open(path, "rb") as f:
        if old is None or old.key[:2] != key[:2] or st.st_size < old.upto or (
                old.upto and os.pread(f.fileno(), 1, old.upto - 1) != b"\n"):
            old = Snapshot(_EMPTY_KEY, 0, [], hashlib.sha1())
        f.seek(old.upto)
        data = f.read()
    cut = data.rfind(b"\n") + 1
    sha = old.sha.copy()
    sha.update(data[:cut])
    new_rows = parse_rows(data[:cut])
    snap = Snapshot(key, old.upto + cut, old.base + new_rows, sha, parse_rows(data[cut:]), data[cut:])
    with _LOCK:
        for fn, done in old.memo.items():  # carry derived objects over; map only the new rows
            snap.memo[fn] = done + [fn(r) for r in new_rows]
    return snap
