"""Manifest layouts (rows naming audio files), a folder of audio files with ``.txt`` transcripts, and loose uploads.

* JSONL manifests, told apart by their first row: the seed format ``{"audio_path", "text"}`` (our ``manifest.jsonl``
  export, the seed app's ``data.jsonl`` / ``recorded_data.jsonl``), NeMo (``audio_filepath``, ``duration``,
  ``text``, optional ``lang``), AudioFolder ``metadata.jsonl`` (``file_name``); a JSON array of such rows too;
* CSV ``file,text`` (header optional) and AudioFolder ``metadata.csv``; a ``.tsv`` the same way;
* a folder of audio files, each with a same-name ``.txt`` next to it (searched recursively);
* loose uploads: audio files plus whatever names their transcripts — manifests of any of the kinds above,
  ``.txt`` files, a ``{name: text}`` mapping — matched by file name; a manifest whose audio was not uploaded is
  refused with the names it expected.

Optional columns everywhere: ``language`` (or ``lang``, ``locale``), ``speaker`` (or ``speaker_id``, ``client_id``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from voxstudio.data.layouts import untrusted
from voxstudio.data.layouts.source import (
    AUDIO_EXTENSIONS,
    Item,
    Options,
    Plan,
    field_of,
    inside,
    label_of,
    link_sentence,
    refused,
    resolve,
    scan,
)

FILE_COLUMNS = ("audio_filepath", "audio_path", "file_name", "file", "path", "filename", "audio", "audio_file",
                "wav", "wav_path")
TEXT_COLUMNS = ("text", "sentence", "transcription", "transcript", "normalized_text", "raw_transcription",
                "raw_text", "sentences")
LANGUAGE_COLUMNS = ("language", "lang", "locale")
SPEAKER_COLUMNS = ("speaker", "speaker_id", "client_id", "spk")
SEED_APP_MANIFESTS = ("data.jsonl", "recorded_data.jsonl")
NOT_MANIFESTS = ("dataset.json", "dataset_info.json", "dataset_dict.json", "state.json", "phrases.jsonl")
TITLES = {"jsonl": "JSONL manifest", "nemo": "NeMo manifest", "audiofolder": "AudioFolder metadata",
          "csv": "CSV manifest"}
MANIFEST_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
NO_FILE = "no audio file named (expected an audio_path, audio_filepath, file_name or file column)"


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _text(value) -> tuple[str | None, str | None]:
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value), None
    return None, "the transcript is not text (a list or an object)"


def row_item(label: str, row: dict | None, problem: str | None, manifest_dir: Path, opts: Options) -> Item:
    """One manifest row (a dict) as an item: its file resolved, its text, language and speaker."""
    if problem:
        return refused(label, problem)
    ref = field_of(row, "audio", opts, FILE_COLUMNS)
    if isinstance(ref, dict):  # {"path": ..., "bytes": ...} as datasets writes it
        ref = ref.get("path")
    text, problem = _text(field_of(row, "text", opts, TEXT_COLUMNS))
    lang, spk = field_of(row, "language", opts, LANGUAGE_COLUMNS), field_of(row, "speaker", opts, SPEAKER_COLUMNS)
    if not isinstance(ref, str) or not ref.strip():
        return Item(label, None, text, problem=problem or NO_FILE)
    if row.get("offset") not in (None, 0, 0.0, "", "0"):
        problem = problem or ("this NeMo row cuts a longer recording (offset): cut it into its own file first, "
                              "then import that")
    audio, where = (None, None) if problem else resolve(ref, manifest_dir, opts)
    return Item(untrusted.printable(ref), audio, text, lang, spk, problem or where)


# ------------------------------------------------------------------------------------------------ JSON lines


def json_kind(path: Path) -> str | None:
    """``nemo`` / ``audiofolder`` / ``jsonl`` from the first row that is an object, None if none names a file."""
    for n, (_label, row, _problem) in enumerate(untrusted.json_rows(path)):
        if row is not None:
            keys = {str(k).lower() for k in row}
            if "audio_filepath" in keys:
                return "nemo"
            if "file_name" in keys:
                return "audiofolder"
            return "jsonl" if keys & set(FILE_COLUMNS) else None
        if n >= 20:
            return None
    return None


def plan_json(path: Path, opts: Options, kind: str | None = None) -> Plan:
    kind = kind or json_kind(path) or "jsonl"
    title = "seed app dataset" if path.name in SEED_APP_MANIFESTS and kind == "jsonl" else TITLES[kind]
    rows = sum(1 for _ in untrusted.json_rows(path))
    items = (row_item(label, row, problem, path.parent, opts) for label, row, problem in untrusted.json_rows(path))
    return Plan(kind, f"{title} ({path.name})", rows, items)


# ------------------------------------------------------------------------------------------------- CSV / TSV


def _table(path: Path) -> tuple[list[str] | None, Iterator]:
    """(header, rows after it) of a CSV/TSV; a headerless CSV reads as ``file,text``."""
    tsv = path.suffix.lower() == ".tsv"
    rows = untrusted.delimited_rows(path, "\t" if tsv else ",", csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
    skipped: list = []  # unreadable lines before the header: refused, and the header is the next good line
    for label, cells, problem in rows:
        if cells is None and len(skipped) < 100:
            skipped.append((label, None, problem))
            continue
        if cells is None:
            return None, _chain(skipped, [(label, None, problem)], rows)
        header = [h.strip() for h in cells]
        if not any(h.lower() in FILE_COLUMNS for h in header):
            return ["file", "text"], _chain(skipped, [(label, cells, None)], rows)
        return header, _chain(skipped, rows)
    return ["file", "text"], iter(skipped)


def _chain(*parts) -> Iterator:
    for part in parts:
        yield from part


def csv_rows(path: Path) -> Iterator[tuple[str, dict | None, str | None]]:
    header, rows = _table(path)
    header = header or ["file", "text"]
    for label, cells, problem in rows:
        yield label, None if cells is None else dict(zip(header, cells)), problem


def plan_csv(path: Path, opts: Options) -> Plan:
    header, _ = _table(path)
    kind = "audiofolder" if header and "file_name" in [h.lower() for h in header] else "csv"
    rows = sum(1 for _ in csv_rows(path))
    items = (row_item(label, row, problem, path.parent, opts) for label, row, problem in csv_rows(path))
    title = TITLES[kind] if kind == "audiofolder" or path.suffix.lower() != ".tsv" else "TSV manifest"
    return Plan(kind, f"{title} ({path.name})", rows, items)


def manifest_rows(path: Path) -> Iterator[tuple[str, dict | None, str | None]]:
    return untrusted.json_rows(path) if path.suffix.lower() in (".jsonl", ".json") else csv_rows(path)


# ------------------------------------------------------------------------------------- folder of audio + .txt


def _transcript_of(audio: Path, root: Path) -> tuple[str | None, str | None]:
    txt = audio.with_suffix(".txt")
    if not txt.exists() and not txt.is_symlink():
        return None, f"no transcript: expected {txt.name} next to it"
    if txt.is_symlink() and not inside(txt, root):
        return None, link_sentence(txt)
    if not txt.is_file():
        return None, f"{txt.name} is not a file"
    return untrusted.read_transcript(txt)


def plan_folder(root: Path, opts: Options, files: list[Path] | None = None) -> Plan:
    """Audio files under ``root`` (or just ``files``), each with its same-name ``.txt``."""
    found, links = scan(root, is_audio) if files is None else (files, [])

    def items() -> Iterator[Item]:
        for path in found:
            label = label_of(path, root)
            text, problem = _transcript_of(path, root)
            yield Item(label, None if problem else path, text, problem=problem)

    return Plan("folder", f"folder of audio files with .txt transcripts ({root.name or root})", len(found),
                items(), refused=links)


# --------------------------------------------------------------------------------------------- loose uploads


def plan_uploads(root: Path, opts: Options, transcripts: dict[str, str] | None = None) -> Plan:
    """Uploaded files side by side: each audio file with the transcript a manifest, a ``.txt`` or ``transcripts``
    gives it (matched by file name, then by name without extension)."""
    files, links = scan(root, lambda p: True)
    audio = [f for f in files if is_audio(f)]
    manifests = [f for f in files if f.suffix.lower() in MANIFEST_SUFFIXES and f.name not in NOT_MANIFESTS]
    rows: dict[str, dict] = {}
    named: dict[Path, list[str]] = {}
    refusals = list(links)
    for manifest in manifests:
        for label, row, problem in manifest_rows(manifest):
            ref = None if row is None else field_of(row, "audio", opts, FILE_COLUMNS)
            ref = ref.get("path") if isinstance(ref, dict) else ref
            where = f"{manifest.name}, {label}"
            if problem or not isinstance(ref, str) or not ref.strip():
                refusals.append((where, problem or NO_FILE))
            elif untrusted.name_problem(ref):
                refusals.append((where, untrusted.name_problem(ref)))
            else:
                base = Path(ref.replace("\\", "/")).name
                rows.setdefault(base, row)
                rows.setdefault(Path(base).stem, row)
                named.setdefault(manifest, []).append(base)
    for key, value in (transcripts or {}).items():
        rows.setdefault(Path(str(key).replace("\\", "/")).name, {"text": value})
        rows.setdefault(Path(str(key).replace("\\", "/")).stem, {"text": value})
    uploaded = {f.name for f in audio} | {f.stem for f in audio}
    for manifest, names in named.items():
        missing = [n for n in dict.fromkeys(names) if n not in uploaded and Path(n).stem not in uploaded]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            refusals.append((manifest.name, f"names {len(missing)} audio file(s) that were not uploaded: {shown}. "
                             f"Upload them together with {manifest.name} (select the folder's files, or the "
                             "folder itself, or a zip of it)"))
    texts = {f.stem: f for f in files if f.suffix.lower() == ".txt"}
    present = set(files)

    def items() -> Iterator[Item]:
        for path in audio:
            label = label_of(path, root)
            row = rows.get(path.name) or rows.get(path.stem)
            if row is None and (path.with_suffix(".txt") in present or path.stem in texts):
                txt = path.with_suffix(".txt") if path.with_suffix(".txt") in present else texts[path.stem]
                text, problem = untrusted.read_transcript(txt)
                yield Item(label, None if problem else path, text, problem=problem)
            elif row is None:
                yield refused(label, f"no transcript: upload {path.stem}.txt or a manifest (CSV or JSONL) naming it")
            else:
                text, problem = _text(field_of(row, "text", opts, TEXT_COLUMNS))
                yield Item(label, None if problem else path, text, field_of(row, "language", opts, LANGUAGE_COLUMNS),
                           field_of(row, "speaker", opts, SPEAKER_COLUMNS), problem)

    sources = [m.name for m in manifests] + ([f"{len(texts)} .txt"] if texts else [])
    title = f"uploaded files ({len(audio)} audio" + (f"; transcripts from {', '.join(sources)}" if sources else "")
    return Plan("uploads", title + ")", len(audio), items(), refused=refusals)
