"""What every layout hands the importer, and where the file names it reads may be looked up.

A layout turns a source into a :class:`Plan`: its name and title (what the CLI and the Record page say was
detected), how many rows it saw, and its :class:`Item` s — each one clip to add, or one refusal with its sentence.

File names in a manifest are resolved by :func:`resolve`, the one rule for every layout:

* a relative name is looked up next to the manifest, then under the folder above each ``datasets/`` or ``data/``
  folder the manifest sits in (the seed app's ``datasets/<name>/wavs/…`` paths are relative to the folder it ran
  in; Kaldi's to the recipe folder above ``data/``), then with the leading folders up to the manifest's own folder
  dropped (a zip of ``voxtral_user/`` whose rows say ``datasets/voxtral_user/wavs/…``), then — locally, for a
  source given as a path — in the current folder; for uploads, among the uploaded files by base name;
* ``..`` is refused, and so is a name that resolves (through a symbolic link) outside the folder it was found in;
* an absolute name is read only locally for a source given as a path (``hosting.server_paths_allowed()``); when
  it is not there (a manifest written on another machine), or inside an archive or an upload, it can only match a
  file under the manifest's folder (or of the archive or upload) by its trailing folders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from voxstudio import hosting
from voxstudio.data.layouts import untrusted

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".webm", ".m4a")
ANCHOR_TREES = ("datasets", "data")
SKIPPED_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db")


@dataclass
class Item:
    """One thing to import. ``audio`` is a Path, bytes or samples, or None when ``problem`` says why it is unusable."""

    label: str
    audio: object
    text: str | None
    language: str | None = None
    speaker: str | None = None
    problem: str | None = None
    name: str | None = None  # the original file name (messages, format hint); defaults to the label's


def refused(label: str, problem: str) -> Item:
    return Item(label, None, None, problem=problem)


@dataclass
class Plan:
    """A recognised source: ``layout`` (a ``--format`` name), ``title`` (what was detected, in words), ``rows``
    (how many rows or files it saw; None when unknown), its items, refusals found before the items (archive
    members, a manifest's missing audio) and notes said once (which split was chosen)."""

    layout: str
    title: str
    rows: int | None
    items: Iterable[Item]
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        rows = "rows unknown" if self.rows is None else f"{self.rows} row{'s' if self.rows != 1 else ''}"
        return f"{self.title} — {rows}"


@dataclass
class Options:
    """How a source is read: ``columns`` maps our fields to the source's, ``split`` picks a part, ``bound`` is
    the folder nothing may be read outside of (an unpacked archive or an upload), ``uploads`` maps base names
    to uploaded files (a folder's files uploaded side by side)."""

    columns: dict[str, str] = field(default_factory=dict)
    split: str | None = None
    bound: Path | None = None
    uploads: dict[str, list[Path]] | None = None

    @property
    def local_paths(self) -> bool:
        """Whether absolute names and the current folder may be read (a local source given as a path)."""
        return self.bound is None and hosting.server_paths_allowed()


def inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError, RuntimeError):
        return False


def _is_absolute(ref: str) -> bool:
    return PurePosixPath(ref).is_absolute() or bool(PureWindowsPath(ref).drive) or ref.startswith("~")


def _anchors(manifest_dir: Path, parts: tuple[str, ...], opts: Options) -> Iterator[tuple[Path, Path]]:
    """(folder the name is relative to, tail of the name) in the order they are tried."""
    yield manifest_dir, Path(*parts)
    for folder in [manifest_dir, *manifest_dir.parents]:
        if folder.name in ANCHOR_TREES and (opts.bound is None or inside(folder.parent, opts.bound)):
            yield folder.parent, Path(*parts)
    if manifest_dir.name in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index(manifest_dir.name)
        yield manifest_dir, Path(*parts[at + 1:])
    if opts.local_paths:
        yield Path.cwd(), Path(*parts)


def _tails(parts: tuple[str, ...], manifest_dir: Path, opts: Options) -> Iterator[tuple[Path, Path]]:
    """An absolute name inside an archive or upload: its trailing folders under the manifest's folder or the
    bound (``/data/an4/wav/x.wav`` → ``wav/x.wav``, ``x.wav``)."""
    for start in range(1, len(parts)):
        for folder in dict.fromkeys([manifest_dir, opts.bound]):
            if folder is not None:
                yield folder, Path(*parts[start:])


def resolve(ref: str, manifest_dir: Path, opts: Options) -> tuple[Path | None, str | None]:
    """The file a manifest's name ``ref`` means, or why it is refused (see the module doc)."""
    problem = untrusted.name_problem(ref)
    if problem:
        return None, problem
    text = ref.replace("\\", "/").strip()
    if not text:
        return None, "no audio file named"
    if _is_absolute(text):
        path = Path(text).expanduser()
        if opts.local_paths and path.is_file():
            return path, None
        parts = tuple(p for p in PurePosixPath(text.lstrip("~")).parts if p not in ("/", ""))
        parts = parts[1:] if parts and parts[0].endswith(":") else parts  # C:/...
        found = _first_file(_tails(parts, manifest_dir, opts), opts) or _uploaded(parts[-1] if parts else "", opts)
        if isinstance(found, Path):  # a manifest written on another machine, copied (or zipped) with its audio
            return found, None
        if opts.local_paths:
            return None, f"file not found at {printable_path(path)}"
        why = hosting.path_refusal(text) or ("an absolute path inside an archive or an upload is not read from this "
                                             "machine; use paths relative to the manifest")
        return None, f"{why} (no file of that name came with it)" if found is None else found
    parts = tuple(p for p in PurePosixPath(text).parts if p not in ("", "."))
    if ".." in parts:
        return None, "path leaves the source folder (..); only files under the manifest's folder are imported"
    tried = list(_anchors(manifest_dir, parts, opts))
    found = _first_file(tried, opts)
    if found is None and opts.uploads is not None:
        found = _uploaded(parts[-1], opts)
    if isinstance(found, Path):
        return found, None
    if isinstance(found, str):
        return None, found
    folders = ", ".join(dict.fromkeys(_where(folder, opts) for folder, _ in tried))
    return None, f"file not found (looked in {folders})" + (" and among the uploaded files" if opts.uploads else "")


def _where(folder: Path, opts: Options) -> str:
    """A folder as a report names it: inside an archive or upload, relative to its top."""
    if opts.local_paths and folder == Path.cwd():
        return f"the current folder ({printable_path(folder)})"
    if opts.bound is not None and inside(folder, opts.bound):
        rel = folder.resolve().relative_to(opts.bound.resolve()).as_posix()
        return "the top folder" if rel == "." else f"{untrusted.printable(rel)}/"
    return printable_path(folder)


def _first_file(candidates: Iterable[tuple[Path, Path]], opts: Options) -> Path | str | None:
    """The first candidate that is a file inside its folder (and the bound); a sentence for a link that leaves."""
    escaped = None
    for folder, tail in candidates:
        path = folder / tail
        try:
            if not path.is_file():
                continue
        except (OSError, ValueError):
            continue
        if inside(path, folder) and (opts.bound is None or inside(path, opts.bound)):
            return path.resolve()
        escaped = escaped or link_sentence(path)
    return escaped


def _uploaded(base: str, opts: Options) -> Path | str | None:
    matches = (opts.uploads or {}).get(base) or []
    if len(matches) > 1:
        return f"several uploaded files are named {base}; upload the folder (or a zip) so their folders tell them apart"
    return matches[0] if matches else None


def link_sentence(path: Path) -> str:
    return (f"{path.name} is a symbolic link to a file outside the source folder; only files inside it are read "
            "(copy the file in instead)")


def printable_path(path: Path) -> str:
    return untrusted.printable(os.fspath(path))


def scan(root: Path, keep: Callable[[Path], bool]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files under ``root`` (recursively, symbolic links to folders not followed) that ``keep`` wants, sorted;
    and the refusals of links that lead outside ``root``."""
    found, refusals = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name in SKIPPED_NAMES or name.startswith("._") or not keep(path):
                continue
            if not inside(path, root):
                refusals.append((label_of(path, root), link_sentence(path)))
            elif path.is_file():
                found.append(path)
    return found, refusals


def label_of(path: Path, root: Path) -> str:
    try:
        return untrusted.printable(path.relative_to(root).as_posix())
    except ValueError:
        return untrusted.printable(path.name)


def pick(row: dict, names: tuple[str, ...]):
    """The first of ``names`` (case-insensitive) that ``row`` has a non-empty value for."""
    lowered = {str(k).lower(): v for k, v in row.items()}
    return next((lowered[n] for n in names if lowered.get(n) not in (None, "")), None)


def field_of(row: dict, name: str, opts: Options, defaults: tuple[str, ...]):
    """Our field ``name`` of a row: the mapped column (``--column name=COLUMN``) or the first usual one."""
    return row.get(opts.columns[name]) if name in opts.columns else pick(row, defaults)
