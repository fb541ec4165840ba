"""Bringing clips into a dataset from the formats people already have (exports live in ``dataset_export``).

Import sources (``import_source`` detects which one it is given):

* a seed JSONL manifest, rows ``{"audio_path", "text"}`` + optional ``language``, ``speaker``; paths are
  relative to the manifest's folder;
* a folder of audio files, each with a same-name ``.txt`` transcript next to it (searched recursively);
* a CSV ``file,text`` (a ``.csv`` file, or a folder holding one), paths relative to the CSV;
* an AudioFolder folder: ``metadata.jsonl`` / ``metadata.csv`` with ``file_name``, ``text`` (our own dataset
  folders are AudioFolders too);
* a Hugging Face dataset: a ``save_to_disk`` folder, a local hub-layout folder, or a hub id. The audio column is
  cast to ``Audio(decode=False)`` and decoded by ``voxstudio.data.audio`` (datasets' own decoding needs torchcodec).

One bad item never stops an import: it is refused with a human reason and the rest goes on. Refused: missing or
undecodable audio, empty transcripts, paths that leave the source folder (``../``, absolute paths or symlinks
pointing elsewhere: a manifest may only name files under its own folder), and whatever ``Dataset.add_clip``
refuses (undecodable or silent audio, bad language codes, duplicates: same stored samples and same text).
``language`` / ``speaker`` arguments are defaults for items that do not name their own.

UI-safe: ``datasets`` and ``pandas`` are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import models, workspace
from voxstudio.data.dataset import Clip, Dataset
from voxstudio.data.exporters import AUDIOFOLDER_METADATA, SEED_MANIFEST

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".webm", ".m4a")
TEXT_COLUMNS = ("text", "sentence", "transcription", "transcript", "normalized_text", "raw_transcription")
FILE_COLUMNS = ("file", "file_name", "audio_path", "path", "filename", "audio")
AUDIO_COLUMNS = ("audio",)
LANGUAGE_COLUMNS = ("language", "lang", "locale")
SPEAKER_COLUMNS = ("speaker", "speaker_id", "client_id")
IMPORT_SOURCE = "import"
MAX_ZIP_BYTES = 4 << 30  # refuse zips that would unpack to more than this (zip bombs, wrong file)


@dataclass
class ImportReport:
    """What an import did: the clips it added and every item it refused, with the reason."""

    imported: list[Clip] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    stopped: str = ""  # why the import stopped before the end (the disk is full), said once

    def to_dict(self) -> dict:
        return {
            "imported": len(self.imported),
            "clip_ids": [c.clip_id for c in self.imported],
            "refused": [{"item": item, "reason": reason} for item, reason in self.refused],
            "stopped": self.stopped,
        }


@dataclass
class _Item:
    """One thing to import. ``audio`` is a Path, raw bytes, or None when ``problem`` says why it is unusable."""

    label: str
    audio: Path | bytes | None
    text: str | None
    language: str | None = None
    speaker: str | None = None
    problem: str | None = None
    name: str | None = None  # the original file name (messages, format hint); defaults to the label's


# ----------------------------------------------------------------------------------------------------- import


def import_source(
    ds: Dataset,
    source: str | os.PathLike,
    *,
    language: str | None = None,
    speaker: str | None = None,
    columns: dict[str, str] | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> ImportReport:
    """Import every item of ``source`` into ``ds``; raises ValueError only when the source itself is unusable.

    ``columns`` maps our fields (``audio``, ``text``, ``language``, ``speaker``) to the source's column names;
    ``split`` picks a Hugging Face split (default: all splits of a local dataset, ``train`` on the Hub);
    ``limit`` caps how many source items are read.
    """
    path = Path(source).expanduser()
    if path.suffix.lower() == ".zip" and path.is_file():
        return _import_zip(ds, path.read_bytes(), path.name, language=language, speaker=speaker,
                           columns=columns, split=split, limit=limit)
    items = _items_for(source, columns or {}, split)
    return _ingest(ds, items, language=language, speaker=speaker, limit=limit)


def _import_zip(ds: Dataset, data: bytes, label: str, **options) -> ImportReport:
    """A zip of any folder source (e.g. our own ``export_zip``), unpacked into a temporary folder.

    ``extractall`` drops ``..`` and absolute member paths, so nothing lands outside that folder."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(m.file_size for m in zf.infolist()) > MAX_ZIP_BYTES:
                raise ValueError(f"{label} unpacks to more than {MAX_ZIP_BYTES >> 30} GiB; import the folder.")
            with tempfile.TemporaryDirectory(prefix="voxstudio-zip-") as tmp:
                zf.extractall(tmp)
                entries = [p for p in Path(tmp).iterdir() if p.name != "__MACOSX"]
                root = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)
                return import_source(ds, root, **options)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{label} is not a readable zip file ({exc}).") from exc


def import_uploads(
    ds: Dataset,
    files: list[tuple[str, bytes]],
    transcripts: dict[str, str] | None = None,
    *,
    language: str | None = None,
    speaker: str | None = None,
) -> ImportReport:
    """Import browser uploads. Transcripts come from ``transcripts`` (file name or stem -> text), same-name
    ``.txt`` uploads, or an uploaded CSV/JSONL manifest naming the files; only base names are used, so an
    upload called ``../x.wav`` can never reach outside the dataset."""
    texts: dict[str, dict] = {}
    audio_files: list[tuple[str, bytes]] = []
    report = ImportReport()
    for name, data in files:
        base = _base_name(name)
        suffix = Path(base).suffix.lower()
        if suffix == ".zip":
            try:
                part = _import_zip(ds, data, base, language=language, speaker=speaker)
            except ValueError as exc:
                report.refused.append((base, str(exc)))
                continue
            report.imported += part.imported
            report.refused += [(f"{base}: {item}", reason) for item, reason in part.refused]
            if part.stopped:
                report.stopped = part.stopped
                return report
        elif suffix == ".txt":
            texts.setdefault(Path(base).stem, {})["text"] = data.decode("utf-8", "replace").strip()
        elif suffix in (".csv", ".jsonl"):
            text = data.decode("utf-8-sig", "replace")
            for row in _csv_rows(text) if suffix == ".csv" else _jsonl_rows(text):
                ref = _pick(row, FILE_COLUMNS) if row else None
                if ref:
                    texts[Path(_base_name(str(ref))).stem] = row
        else:
            audio_files.append((base, data))
    for key, text in (transcripts or {}).items():
        texts.setdefault(Path(_base_name(key)).stem, {})["text"] = text

    def items() -> Iterator[_Item]:
        for base, data in audio_files:
            row = texts.get(Path(base).stem)
            if row is None:
                yield _Item(base, None, None, problem=f"no transcript: upload {Path(base).stem}.txt or a CSV")
                continue
            yield _Item(base, data, _pick(row, TEXT_COLUMNS), _pick(row, LANGUAGE_COLUMNS),
                        _pick(row, SPEAKER_COLUMNS))

    rest = _ingest(ds, items(), language=language, speaker=speaker, limit=None)
    return ImportReport(report.imported + rest.imported, report.refused + rest.refused, rest.stopped)


def _ingest(ds: Dataset, items: Iterable[_Item], *, language, speaker, limit) -> ImportReport:
    """Add each item through ``ds.add_clip`` (the one owner of validation, quality flags and duplicate
    detection); whatever it refuses is recorded with its sentence and the import goes on."""
    report = ImportReport()
    fallback_language = language or _only(ds.info.get("languages"))
    for n, item in enumerate(items):
        if limit is not None and n >= limit:
            break
        reason = item.problem
        lang = item.language or fallback_language
        if reason is None and not lang:
            reason = "no language: give one (--language) or add a language column"
        if reason is None:
            text = "" if item.text is None else str(item.text)
            who = speaker if item.speaker in (None, "") else str(item.speaker)  # HF speaker ids may be ints
            try:
                clip = ds.add_clip(item.audio, text, language=str(lang), speaker=who, source=IMPORT_SOURCE,
                                   name=item.name or _base_name(item.label))
            except workspace.DiskFullError as exc:  # every later item would fail the same way: say it once, stop
                report.refused.append((item.label, str(exc)))
                report.stopped = str(exc)
                return report
            except (ValueError, OSError) as exc:  # AudioError is a ValueError
                if workspace.is_disk_full(exc):
                    report.refused.append((item.label, str(workspace.disk_full(ds.path))))
                    report.stopped = report.refused[-1][1]
                    return report
                reason = str(exc) or exc.__class__.__name__
            else:
                report.imported.append(clip)
                continue
        report.refused.append((item.label, reason))
    return report


# ------------------------------------------------------------------------------------------ source detection


def _items_for(source: str | os.PathLike, columns: dict[str, str], split: str | None) -> Iterator[_Item]:
    path = Path(source).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            return _tabular_items(_jsonl_rows(path.read_text(encoding="utf-8")), path.parent, columns)
        if suffix == ".csv":
            return _tabular_items(_csv_rows(path.read_text(encoding="utf-8-sig")), path.parent, columns)
        if suffix in AUDIO_EXTENSIONS:
            return _folder_items(path.parent, [path])
        raise ValueError(f"{path} is not an importable file: give a .jsonl manifest, a .csv, an audio file "
                         "with a same-name .txt, or a folder.")
    if path.is_dir():
        return _dir_items(path, columns, split)
    text = str(source)
    if models.is_hub_id(text) and Path(text).suffix.lower() not in (".jsonl", ".json", ".csv", *AUDIO_EXTENSIONS):
        return _hf_items(text, columns, split, hub=True)
    raise ValueError(f"{text} does not exist (not a file, a folder, or a Hugging Face dataset id).")


def _dir_items(path: Path, columns: dict[str, str], split: str | None) -> Iterator[_Item]:
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        return _hf_items(str(path), columns, split, hub=False)
    for name in (AUDIOFOLDER_METADATA, SEED_MANIFEST):
        if (path / name).is_file():
            return _tabular_items(_jsonl_rows((path / name).read_text(encoding="utf-8")), path, columns)
    if (path / "metadata.csv").is_file():
        return _tabular_items(_csv_rows((path / "metadata.csv").read_text(encoding="utf-8-sig")), path, columns)
    csvs = sorted(path.glob("*.csv"))
    if len(csvs) == 1:
        return _tabular_items(_csv_rows(csvs[0].read_text(encoding="utf-8-sig")), path, columns)
    audio = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if audio:
        return _folder_items(path, audio)
    if any(path.glob("*.parquet")) or any(path.glob("data/*")) or any(path.glob("*.arrow")):
        return _hf_items(str(path), columns, split, hub=False)
    raise ValueError(f"nothing to import in {path}: no manifest.jsonl, metadata.jsonl, CSV, audio files "
                     "or Hugging Face dataset found.")


def _tabular_items(rows: Iterable[dict], root: Path, columns: dict[str, str]) -> Iterator[_Item]:
    """Rows naming a file relative to ``root`` (seed manifest, CSV, AudioFolder metadata)."""
    root = root.resolve()
    for n, row in enumerate(rows, start=1):
        if row is None:
            yield _Item(f"line {n}", None, None, problem="not a JSON object")
            continue
        ref = row.get(columns["audio"]) if "audio" in columns else _pick(row, FILE_COLUMNS)
        text = _field(row, "text", columns, TEXT_COLUMNS)
        lang, spk = _field(row, "language", columns, LANGUAGE_COLUMNS), _field(row, "speaker", columns, SPEAKER_COLUMNS)
        if not ref or not isinstance(ref, str):
            yield _Item(f"line {n}", None, text, problem="no audio file named (expected a file/audio_path column)")
            continue
        audio, problem = _inside(root, ref)
        yield _Item(ref, audio, text, lang, spk, problem)


def _folder_items(root: Path, files: list[Path]) -> Iterator[_Item]:
    root = root.resolve()
    for path in files:
        label = str(path.resolve().relative_to(root)) if path.resolve().is_relative_to(root) else path.name
        txt = path.with_suffix(".txt")
        if not txt.is_file():
            yield _Item(label, None, None, problem=f"no transcript: expected {txt.name} next to it")
            continue
        yield _Item(label, path, txt.read_text(encoding="utf-8", errors="replace").strip())


def _hf_items(name: str, columns: dict[str, str], split: str | None, *, hub: bool) -> Iterator[_Item]:
    import datasets  # lazy: heavy, and only needed for this source kind

    try:
        if hub:
            loaded = datasets.load_dataset(name, split=split or "train", streaming=True)
        elif Path(name, "dataset_info.json").is_file() or Path(name, "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(name)
        else:
            loaded = datasets.load_dataset(name, split=split)
    except Exception as exc:  # datasets raises many types; the user needs one sentence
        where = " (and there is no local file or folder by that name)" if hub else ""
        raise ValueError(f"could not load the Hugging Face dataset {name!r}{where}: {exc}") from exc
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if split is not None and split not in loaded:
            raise ValueError(f"{name!r} has no split {split!r}; it has: {', '.join(loaded)}")
        parts = [(split, loaded[split])] if split else list(loaded.items())
    else:
        parts = [(split or "train", loaded)]
    plans = [(part_name, part, *_hf_columns(part, columns, name)) for part_name, part in parts]
    for part_name, part, audio_col, text_col, lang_col, spk_col in plans:
        part = part.cast_column(audio_col, datasets.Audio(decode=False))
        for n, row in enumerate(part):
            label = f"{part_name}[{n}]"
            value = row.get(audio_col) or {}
            data = value.get("bytes") if isinstance(value, dict) else None
            path = value.get("path") if isinstance(value, dict) else None
            audio = data if data else (Path(path) if path and Path(path).is_file() else None)
            problem = None if audio is not None else "audio not available (no bytes and no local file)"
            yield _Item(label, audio, row.get(text_col), row.get(lang_col) if lang_col else None,
                        row.get(spk_col) if spk_col else None, problem, _base_name(path) if path else None)


def _hf_columns(part, columns: dict[str, str], name: str) -> tuple[str, str, str | None, str | None]:
    import datasets

    features = part.features or {}
    names = list(features) or list(getattr(part, "column_names", None) or [])
    audio_col = columns.get("audio") or next(
        (c for c in names if isinstance(features.get(c), datasets.Audio)), None) or _first(names, AUDIO_COLUMNS)
    text_col = columns.get("text") or _first(names, TEXT_COLUMNS)
    if not audio_col or audio_col not in names:
        raise ValueError(f"{name!r} has no audio column I recognise; map it with --column audio=COLUMN "
                         f"(columns={{'audio': COLUMN}} in Python). Columns: {', '.join(names)}")
    if not text_col or text_col not in names:
        raise ValueError(f"{name!r} has no text column I recognise; map it with --column text=COLUMN "
                         f"(columns={{'text': COLUMN}} in Python). Columns: {', '.join(names)}")
    lang_col = columns.get("language") or _first(names, LANGUAGE_COLUMNS)
    spk_col = columns.get("speaker") or _first(names, SPEAKER_COLUMNS)
    return audio_col, text_col, lang_col, spk_col


# --------------------------------------------------------------------------------------------------- helpers


def _inside(root: Path, ref: str) -> tuple[Path | None, str | None]:
    """Resolve ``ref`` under ``root``; refuse anything that would leave it (``../``, absolute, symlinks out)."""
    target = (root / ref.replace("\\", "/")).resolve()
    if not target.is_relative_to(root):
        return None, f"path leaves the source folder ({root}); only files under it are imported"
    if not target.is_file():
        return None, "file not found"
    return target, None


def _jsonl_rows(text: str) -> Iterator[dict | None]:
    """Rows of a JSONL file (None for a line that is not an object); a plain JSON array is accepted too."""
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError:
            rows = None
        if isinstance(rows, list):
            yield from (row if isinstance(row, dict) else None for row in rows)
            return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        yield row if isinstance(row, dict) else None


def _csv_rows(text: str) -> list[dict]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if not any(h.lower() in FILE_COLUMNS for h in header):  # headerless "file,text"
        header, rows = ["file", "text"], [header, *rows[1:]]
    else:
        rows = rows[1:]
    return [dict(zip(header, r)) for r in rows if any(cell.strip() for cell in r)]


def _field(row: dict, name: str, columns: dict[str, str], defaults: tuple[str, ...]):
    return row.get(columns[name]) if name in columns else _pick(row, defaults)


def _pick(row: dict, names: tuple[str, ...]):
    lowered = {str(k).lower(): v for k, v in row.items()}
    return next((lowered[n] for n in names if lowered.get(n) not in (None, "")), None)


def _first(names: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((n for w in wanted for n in names if n.lower() == w), None)


def _only(values) -> str | None:
    return values[0] if values and len(values) == 1 else None


def _base_name(name: str) -> str:
    return Path(str(name).replace("\\", "/")).name
