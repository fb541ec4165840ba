"""Bringing clips into a dataset from the layouts people already have (exports live in ``exporters``).

``import_source`` reads a path or a hub id, ``import_uploads`` the Record page's uploads; both detect the layout
(``layouts.detect``; ``format=`` overrides it), say which one and how many rows it saw (``ImportReport.layout``,
``rows``; ``open_source`` gives the plan before anything is imported, for the CLI's first line), and add every
item through ``Dataset.add_clip`` (the one owner of validation, quality flags and duplicate detection).

Layouts: JSONL manifests (seed ``audio_path``/``text``, the seed app's ``data.jsonl``, NeMo, AudioFolder), CSV /
TSV, a folder of audio + ``.txt``, Common Voice, LJ Speech, Kaldi, Hugging Face (disk or Hub), and zips of any of
these (``layouts.archive`` unpacks them member by member, never whole into memory).

One bad item never stops an import: it is refused with a sentence and the rest goes on (missing or undecodable
audio, NaN samples, unreadable or oversized manifest lines, names with NUL/control characters, paths or links
leaving the source, hostile archive members, empty transcripts, duplicates…). Control and bidi characters are
stripped from transcripts, with a notice. ``language`` / ``speaker`` are defaults for items that name none: a row
without a speaker gets ``speaker`` (else the dataset's first speaker as the import began), never the previous
row's. A full disk stops the import once, with its sentence.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from voxstudio import hosting, models, workspace
from voxstudio import text as textrule
from voxstudio.data.dataset import Clip, Dataset
from voxstudio.data.layouts import archive, detect, hfdata, untrusted
from voxstudio.data.layouts.source import AUDIO_EXTENSIONS, Options, Plan

IMPORT_SOURCE = "import"
FORMATS = detect.FORMATS
Progress = Callable[[int, int | None], None]  # (items done, rows in all or None)


@dataclass
class ImportReport:
    """What an import did: the layout it read and the rows it saw, the clips it added, every item it refused
    with the reason, notices (text it cleaned), and why it stopped early (the disk is full), said once."""

    imported: list[Clip] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    stopped: str = ""
    layout: str = ""
    rows: int | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: ImportReport) -> None:
        self.imported += other.imported
        self.refused += other.refused
        self.notices += other.notices
        self.notes += other.notes
        self.stopped = self.stopped or other.stopped
        self.layout = "; ".join(x for x in (self.layout, other.layout) if x)
        if other.rows is not None or self.rows is not None:
            self.rows = (self.rows or 0) + (other.rows or 0)

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "rows": self.rows,
            "imported": len(self.imported),
            "clip_ids": [c.clip_id for c in self.imported],
            "refused": [{"item": item, "reason": reason} for item, reason in self.refused],
            "notices": [{"item": item, "notice": notice} for item, notice in self.notices],
            "notes": list(self.notes),
            "stopped": self.stopped,
        }


# ----------------------------------------------------------------------------------------------------- import


def import_source(ds: Dataset, source: str | os.PathLike, *, language: str | None = None,
                  speaker: str | None = None, columns: dict[str, str] | None = None, split: str | None = None,
                  limit: int | None = None, format: str | None = None, progress: Progress | None = None,
                  ) -> ImportReport:
    """Import every item of ``source`` into ``ds``; raises ValueError only when the source itself is unusable.

    ``columns`` maps our fields (``audio``, ``text``, ``language``, ``speaker``) to the source's column names;
    ``split`` picks a part (a Hugging Face split, a Common Voice table, a manifest named after it); ``format``
    forces a layout (``FORMATS``); ``limit`` caps how many source items are read.
    """
    with open_source(source, format=format, columns=columns, split=split) as plan:
        return ingest(ds, plan, language=language, speaker=speaker, limit=limit, progress=progress)


@contextlib.contextmanager
def open_source(source: str | os.PathLike, *, format: str | None = None, columns: dict[str, str] | None = None,
                split: str | None = None) -> Iterator[Plan]:
    """The detected plan of ``source`` (a zip is unpacked into a temporary folder for the block's duration)."""
    hosting.check_source()  # a hosted studio's visitor never names a path on the server (uploads only)
    if format is not None and format not in FORMATS:
        raise ValueError(f"--format {format!r} is not a layout: use one of {', '.join(FORMATS)}.")
    opts = Options(dict(columns or {}), split)
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="voxstudio-zip-") as tmp:
            yield unpacked_plan(path, path.name, Path(tmp), opts, format)
        return
    if path.is_file() and path.name.lower().endswith(archive.TAR_SUFFIXES):
        raise ValueError(f"{path.name} is a tar/7z/rar archive: unpack it first (tar xf {path.name}) and import the "
                         "folder, or zip it.")
    if not path.exists():
        if models.is_hub_id(text) and path.suffix.lower() not in (".jsonl", ".json", ".csv", ".zip",
                                                                      *AUDIO_EXTENSIONS):
            yield hfdata.plan_hf(text, opts, hub=True)
            return
        raise ValueError(f"{text} does not exist (not a file, a folder, or a Hugging Face dataset id).")
    yield detect.plan(path, opts, format)


def unpacked_plan(source, label: str, dest: Path, opts: Options, format: str | None = None) -> Plan:
    """Unpack the zip ``source`` into ``dest`` and detect what it holds; its refused members come first."""
    unpacked = archive.unpack(source, label, dest)
    members = [(f"{label}: {member}", reason) for member, reason in unpacked.refused]
    try:
        plan = detect.plan(dest, replace(opts, bound=dest), format)
    except ValueError as exc:
        if not members:
            raise ValueError(f"{label}: {exc}".replace(str(dest), "the zip")) from exc
        return Plan("zip", f"zip {label}", 0, [], refused=[*members, (label, str(exc).replace(str(dest), "the zip"))])
    plan.title = f"zip {label} → {plan.title}"
    plan.refused = members + plan.refused
    return plan


def ingest(ds: Dataset, plan: Plan, *, language: str | None = None, speaker: str | None = None,
           limit: int | None = None, progress: Progress | None = None, prefix: str = "", done: int = 0,
           total: int | None = None) -> ImportReport:
    """Add each item of ``plan`` through ``ds.add_clip``; whatever it refuses is recorded with its sentence.

    ``prefix`` goes before every item's label (an upload's zip name); ``done`` / ``total`` offset the progress
    of several plans in one import."""
    report = ImportReport(layout=plan.title, rows=plan.rows, notes=list(plan.notes))
    report.refused += plan.refused  # already named (an archive's members carry its name)
    fallback_language = language or _only(ds.info.get("languages"))
    default_speaker = speaker if speaker is not None else (ds.info.get("speakers") or [""])[0]
    total = plan.rows if total is None else total
    items = iter(plan.items)
    n = 0
    while limit is None or n < limit:
        try:
            item = next(items)
        except StopIteration:
            break
        except Exception as exc:  # a layout guards each row; this keeps what was imported if one still breaks
            report.refused.append((prefix + plan.title, f"the rest of the source could not be read: {exc}"))
            break
        n += 1
        if progress is not None:
            progress(done + n, total)
        label = prefix + item.label
        reason = item.problem
        lang = item.language if isinstance(item.language, str) and item.language.strip() else fallback_language
        if reason is None and not lang:
            reason = "no language: give one (--language) or add a language column"
        if reason is not None:
            report.refused.append((label, reason))
            continue
        raw = "" if item.text is None else str(item.text)
        text, removed = textrule.strip_invisible(raw)
        who = default_speaker if item.speaker in (None, "") else str(item.speaker)  # HF speaker ids may be ints
        try:
            clip = ds.add_clip(item.audio, text, language=str(lang), speaker=who, source=IMPORT_SOURCE,
                               name=item.name or _base_name(item.label))
        except workspace.DiskFullError as exc:  # every later item would fail the same way: say it once, stop
            report.refused.append((label, str(exc)))
            report.stopped = str(exc)
            return report
        except (ValueError, OSError) as exc:  # AudioError is a ValueError
            if workspace.is_disk_full(exc):
                report.refused.append((label, str(workspace.disk_full(ds.path))))
                report.stopped = report.refused[-1][1]
                return report
            report.refused.append((label, str(exc) or exc.__class__.__name__))
            continue
        report.imported.append(clip)
        if removed:
            report.notices.append((label, f"removed {len(removed)} invisible control character(s) from the "
                                          f"transcript: {', '.join(removed)}"))
    return report


# ------------------------------------------------------------------------------------------------- uploads


def import_uploads(ds: Dataset, files: list[tuple[str, object]], transcripts: dict[str, str] | None = None, *,
                   language: str | None = None, speaker: str | None = None,
                   progress: Progress | None = None) -> ImportReport:
    """Import browser uploads: audio files with their transcripts (same-name ``.txt`` uploads, manifests naming
    them, ``transcripts`` = file name or stem -> text), a folder's files (names may carry the folder's relative
    paths: Common Voice, LJ Speech, Kaldi folders are recognised), and zips of any layout, each on its own.

    ``files`` are ``(name, bytes or binary file object)``. Nothing outside the upload is ever read: names lose
    any ``..`` or absolute prefix, and manifests' names only match uploaded files."""
    report = ImportReport()
    with tempfile.TemporaryDirectory(prefix="voxstudio-upload-") as tmp:
        loose, zips = Path(tmp) / "uploaded", []
        for name, data in files:
            rel, problem = _upload_path(name)
            if problem:
                report.refused.append((untrusted.printable(name), problem))
            elif rel.suffix.lower() == ".zip":
                zips.append((rel.name, data))
            elif rel.name.lower().endswith(archive.TAR_SUFFIXES):
                report.refused.append((rel.as_posix(), "is a tar/7z/rar archive, which the studio does not unpack: "
                                       "upload a zip of the folder, or the folder itself"))
            elif (loose / rel).exists():
                report.refused.append((rel.as_posix(), "uploaded twice; the first copy is used"))
            else:
                problem = _write(loose / rel, data)
                if problem and workspace.is_disk_full(problem):
                    report.stopped = str(workspace.disk_full(Path(tmp)))
                    report.refused.append((rel.as_posix(), report.stopped))
                    return report
                if problem:
                    report.refused.append((rel.as_posix(), f"could not be received ({problem.strerror or problem})"))
        plans: list[tuple[str, Plan]] = []
        for n, (label, data) in enumerate(zips):
            dest = Path(tmp) / f"zip-{n}"
            dest.mkdir()
            try:
                plans.append((f"{label}: ", unpacked_plan(_stream(data), label, dest, Options())))
            except ValueError as exc:
                report.refused.append((label, str(exc)))
        if loose.is_dir():
            index: dict[str, list[Path]] = {}
            for path in sorted(p for p in loose.rglob("*") if p.is_file()):
                index.setdefault(path.name, []).append(path)
            opts = Options(bound=loose, uploads=index)
            plans.append(("", detect.plan(loose, opts, upload=True, transcripts=transcripts)))
        total = sum(p.rows or 0 for _, p in plans)
        done = 0
        for prefix, plan in plans:
            part = ingest(ds, plan, language=language, speaker=speaker, progress=progress, prefix=prefix,
                          done=done, total=total)
            done += plan.rows or 0
            report.merge(part)
            if part.stopped:
                break
    return report


def _upload_path(name: str) -> tuple[PurePosixPath | None, str | None]:
    """An upload's name inside the upload folder: its own relative path (a folder upload), minus any ``..``,
    absolute or drive prefix."""
    problem = untrusted.name_problem(str(name))
    if problem:
        return None, problem
    parts = [p for p in PurePosixPath(str(name).replace("\\", "/")).parts
             if p not in ("", ".", "..", "/") and not p.endswith(":")]
    if not parts:
        return None, "the upload has no file name"
    return PurePosixPath(*parts), None


def _stream(data):
    return io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data


def _write(target: Path, data) -> OSError | None:
    """Save one upload into the upload folder; the error (a name clash, a full disk) when it could not."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                data.seek(0)
                shutil.copyfileobj(data, out, archive.CHUNK)
    except OSError as exc:
        return exc
    return None


def _only(values) -> str | None:
    return values[0] if values and len(values) == 1 else None


def _base_name(name: str) -> str:
    return Path(str(name).replace("\\", "/")).name
