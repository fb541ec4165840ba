"""Unpacking a zip that may be hostile: member by member, each checked before anything is written.

A zip is opened where it lies (a path, or an upload's file object) and never read whole into memory. Each member
is refused alone, with a sentence, when it is a symbolic link or another non-file, encrypted, compressed with a
method we cannot read, named with control characters or a path that leaves the archive, over
:data:`MAX_MEMBER_BYTES` by its header, or found while streaming to unpack to more than its header said (or than
the limit): the copy stops there and the partial file is removed. The rest of the archive is unpacked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from voxstudio import workspace
from voxstudio.data.layouts import untrusted
from voxstudio.data.layouts.source import SKIPPED_NAMES

MAX_MEMBER_BYTES = 256 << 20  # one unpacked file: far above a 5-minute clip in any format we read
MAX_ARCHIVE_BYTES = 4 << 30  # everything unpacked
MAX_MEMBERS = 200_000
CHUNK = 1 << 20
READABLE = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "lzma"}
METHOD_NAMES = {9: "Deflate64", 10: "PKWARE implode", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "xz",
                96: "JPEG", 97: "WavPack", 98: "PPMd", 99: "AES encryption"}
TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".7z", ".rar")


@dataclass
class Unpacked:
    """Where the archive's files now are, and the members refused (``(member, sentence)``)."""

    folder: Path
    refused: list[tuple[str, str]] = field(default_factory=list)
    unpacked: int = 0


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member is not unpacked, from its header alone (nothing read yet)."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        return ("is a symbolic link; links inside an archive are not unpacked (they could point anywhere on this "
                "machine): put the file itself in the zip")
    if kind and not stat.S_ISREG(kind) and not stat.S_ISDIR(kind):
        return "is not a plain file (a device, a pipe or a socket): not unpacked"
    if info.flag_bits & 0x1:
        return "is encrypted (password-protected); zip it again without a password"
    if info.compress_type not in READABLE:
        method = METHOD_NAMES.get(info.compress_type, "unknown")
        return (f"is compressed with method {info.compress_type} ({method}), which this importer cannot read: zip it "
                "again with the ordinary Deflate compression")
    if info.file_size > MAX_MEMBER_BYTES:
        return (f"is {_mib(info.file_size)} unpacked, over the {_mib(MAX_MEMBER_BYTES)} limit for one file of an "
                "archive: not unpacked (import the folder instead if the file is real)")
    return None


def member_path(name: str) -> tuple[PurePosixPath | None, str | None]:
    """The member's path inside the unpacking folder, or why it has none."""
    problem = untrusted.name_problem(name)
    if problem:
        return None, problem
    text = name.replace("\\", "/")
    posix = PurePosixPath(text)
    if posix.is_absolute() or PureWindowsPath(name).drive or ".." in posix.parts:
        return None, "its path leaves the archive (absolute or ../): not unpacked"
    parts = [p for p in posix.parts if p not in ("", ".")]
    if not parts:
        return None, "has an empty name"
    return PurePosixPath(*parts), None


def unpack(source, label: str, dest: Path) -> Unpacked:
    """Unpack the zip ``source`` (a path or a seekable binary file) into the empty folder ``dest``.

    Raises ValueError with a sentence when the archive itself is unusable (not a zip, too big in all, no room)."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{label} is not a readable zip file ({exc}).") from exc
    out = Unpacked(dest)
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{label} holds {len(infos)} entries, more than the {MAX_MEMBERS} an import unpacks.")
        wanted = [i for i in infos if member_problem(i) is None and not i.is_dir()]
        total = sum(min(i.file_size, MAX_MEMBER_BYTES) for i in wanted)  # what unpacking can write at most
        if total > MAX_ARCHIVE_BYTES:
            raise ValueError(f"{label} unpacks to {_mib(total)}, more than the {MAX_ARCHIVE_BYTES >> 30} GiB an "
                             "import unpacks; unpack it yourself and import the folder.")
        free = shutil.disk_usage(dest).free
        if total > free:
            raise ValueError(f"{label} unpacks to {_mib(total)}, and the disk holding {dest.parent} has only "
                             f"{_mib(free)} free; free some space (or set TMPDIR to a bigger disk).")
        seen: set[PurePosixPath] = set()
        for info in infos:
            shown = untrusted.printable(info.filename)
            rel, problem = member_path(info.filename)
            if rel is not None and (rel.parts[0] in SKIPPED_NAMES or rel.name in SKIPPED_NAMES):
                continue
            problem = problem or member_problem(info)
            if problem is None and rel in seen and not info.is_dir():
                problem = "appears twice in the archive; the first copy is used"
            if problem is None:
                problem = _unpack_member(zf, info, dest / rel)
            if problem:
                out.refused.append((shown, problem))
            elif not info.is_dir():
                seen.add(rel)
                out.unpacked += 1
    return out


def _unpack_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> str | None:
    """Stream one member to ``target``, counting; a sentence (and no file) when it is refused."""
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return None
    limit = min(info.file_size, MAX_MEMBER_BYTES)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        target = None
    if target is None or target.is_dir():
        return "clashes with another entry of the archive (a file and a folder of one name): not unpacked"
    written = 0
    try:
        with zf.open(info) as src, open(target, "xb") as dst:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise _TooBig()
                dst.write(chunk)
    except _TooBig:
        problem = (f"unpacks to more than {'its header says' if limit == info.file_size else 'the limit'} "
                   f"({_mib(limit)}): the archive is damaged or hostile; not unpacked")
    except FileExistsError:
        return "appears twice in the archive; the first copy is used"
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        problem = f"is damaged and cannot be unpacked ({exc})"
    except OSError as exc:
        if workspace.is_disk_full(exc):
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise ValueError(str(workspace.disk_full(target.parent))) from exc
        problem = f"could not be unpacked ({exc.strerror or exc})"
    else:
        return None
    with contextlib.suppress(OSError):
        os.unlink(target)
    return problem


class _TooBig(Exception):
    pass
