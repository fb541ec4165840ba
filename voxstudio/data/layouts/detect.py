"""Which layout a path holds (automatic detection), or the one ``--format`` names.

A folder is tried in this order, first match wins: a Hugging Face ``save_to_disk`` folder; a Kaldi data folder
(``wav.scp`` + ``text``); a Common Voice locale folder (``clips/`` + a TSV with ``path`` and ``sentence``); LJ
Speech (``metadata.csv`` of ``id|text`` lines); an AudioFolder (``metadata.jsonl`` / ``metadata.csv``); a JSONL
manifest (``manifest.jsonl``, the seed app's ``data.jsonl`` / ``recorded_data.jsonl``, then any ``.jsonl`` /
``.json`` whose rows name files — NeMo or seed, told by their keys; several are read together); one CSV / TSV
manifest; audio files with same-name ``.txt`` transcripts; parquet / arrow files (a hub-layout dataset); else its
only subfolder (a release folder, a zip's top folder). Uploads skip the manifest kinds: loose uploads match every
manifest, ``.txt`` and audio file by name (``manifests.plan_uploads``).

A file: ``.jsonl`` / ``.json`` (by its keys), ``.csv`` (LJ Speech when its lines are ``id|text``), ``.tsv`` (a
Common Voice table when it has ``path`` and ``sentence``), ``wav.scp`` / ``text`` / ``utt2spk`` (their Kaldi
folder), or an audio file with its ``.txt``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from voxstudio.data.layouts import corpora, hfdata, manifests
from voxstudio.data.layouts.source import SKIPPED_NAMES, Options, Plan, scan

FORMATS = {
    "jsonl": "JSONL manifest: audio_path + text, like our manifest.jsonl or the seed app's data.jsonl",
    "nemo": "NeMo manifest: audio_filepath + duration + text",
    "audiofolder": "AudioFolder: metadata.jsonl / metadata.csv with file_name + text",
    "csv": "CSV (or TSV) manifest: file,text",
    "folder": "audio files with same-name .txt transcripts",
    "common-voice": "Common Voice locale folder: clips/ + validated.tsv / train.tsv …",
    "ljspeech": "LJ Speech: wavs/ + metadata.csv of id|text|normalized lines",
    "kaldi": "Kaldi data folder: wav.scp + text (+ utt2spk)",
    "hf": "Hugging Face dataset: save_to_disk folder, parquet folder or hub id",
}
KNOWN_MANIFESTS = ("manifest.jsonl", *manifests.SEED_APP_MANIFESTS)
KALDI_FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "utt2lang", "segments")
MAX_DEPTH = 4


def nothing(path: Path) -> ValueError:
    return ValueError(f"nothing to import in {path}: no manifest (JSONL, NeMo, CSV, AudioFolder metadata), Common "
                      "Voice, LJ Speech or Kaldi files, audio with .txt transcripts, or Hugging Face dataset found.")


def plan(path: Path, opts: Options, layout: str | None = None, *, upload: bool = False,
         transcripts: dict[str, str] | None = None) -> Plan:
    """The plan for ``path`` (a file or a folder); ValueError with a sentence when it holds nothing importable."""
    if layout:
        return forced(path, opts, layout)
    if path.is_file():
        return _for_file(path, opts)
    folder = path
    for _ in range(MAX_DEPTH):  # a release folder, or a zip's top folder, holding one folder
        found = _for_folder(folder, opts, upload)
        if found is not None:
            return found
        entries = [p for p in folder.iterdir() if p.name not in SKIPPED_NAMES and not p.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir():
            break
        folder = entries[0]
    deeper = _by_split(_corpus_folders(folder), opts)
    if deeper:
        return _together([_for_folder(d, opts, upload) for d in deeper])
    below = [] if upload else _by_split(_manifests_below(folder), opts)
    if below:  # e.g. lists/clips.jsonl naming files under store/
        return _together([manifests.plan_json(p, opts) for p in below])
    if upload and any(path.rglob("*")):
        return manifests.plan_uploads(path, opts, transcripts)
    audio, _links = scan(path, manifests.is_audio)
    if audio:
        return manifests.plan_folder(path, opts)
    if hfdata.is_hub_layout(folder):
        return hfdata.plan_hf(str(folder), opts, hub=False)
    raise nothing(path)


def _corpus_folders(root: Path) -> list[Path]:
    """Kaldi data folders and Common Voice locale folders up to three levels below ``root`` (a recipe's
    ``data/train``, a release with several locales)."""
    found = []
    for pattern in ("*", "*/*", "*/*/*"):
        found += [d for d in sorted(root.glob(pattern)) if d.is_dir() and not d.name.startswith(".")
                  and (corpora.is_kaldi(d) or corpora.is_common_voice(d))]
    return found


def _for_folder(folder: Path, opts: Options, upload: bool) -> Plan | None:
    if hfdata.is_saved(folder):
        return hfdata.plan_hf(str(folder), opts, hub=False)
    if corpora.is_kaldi(folder):
        return corpora.plan_kaldi(folder, opts)
    if corpora.is_common_voice(folder, loose=upload and not _json_manifests(folder)):
        return corpora.plan_common_voice(folder, opts)
    if corpora.is_ljspeech(folder):
        return corpora.plan_ljspeech(folder, opts)
    if upload:
        return None
    if (folder / "metadata.jsonl").is_file():
        return manifests.plan_json(folder / "metadata.jsonl", opts, "audiofolder")
    if (folder / "metadata.csv").is_file():
        return manifests.plan_csv(folder / "metadata.csv", opts)
    known = [folder / name for name in KNOWN_MANIFESTS if (folder / name).is_file()]
    if known:
        return manifests.plan_json(known[0], opts)
    found = _json_manifests(folder)
    if found:
        return _together([manifests.plan_json(p, opts) for p in _by_split(found, opts)])
    tables = sorted(folder.glob("*.csv")) + sorted(p for p in folder.glob("*.tsv") if not corpora.cv_header(p))
    if len(tables) == 1:
        return manifests.plan_csv(tables[0], opts)
    return None


def _manifests_below(root: Path) -> list[Path]:
    """JSON-lines manifests one or two folders below ``root`` (when none is at its top)."""
    return [p for d in [*sorted(root.glob("*")), *sorted(root.glob("*/*"))] if d.is_dir()
            and not d.name.startswith(".") for p in _json_manifests(d)]


def _json_manifests(folder: Path) -> list[Path]:
    candidates = sorted(p for p in itertools.chain(folder.glob("*.jsonl"), folder.glob("*.json"))
                        if p.is_file() and p.name not in manifests.NOT_MANIFESTS)
    return [p for p in candidates if manifests.json_kind(p)]


def _by_split(found: list[Path], opts: Options) -> list[Path]:
    """``--split test`` picks ``test_manifest.json`` (or the Kaldi folder ``data/test``) among several; without
    it, all are read."""
    if opts.split and len(found) > 1:
        chosen = [p for p in found if opts.split in p.stem.replace("-", "_").split("_")]
        if not chosen:
            raise ValueError(f"nothing named after split {opts.split!r}; there are: "
                             f"{', '.join(p.name for p in found)}")
        return chosen
    return found


def _together(plans: list[Plan]) -> Plan:
    """Several sources of one folder read one after the other (train/dev/test manifests, Kaldi folders)."""
    if len(plans) == 1:
        return plans[0]
    kinds = {p.layout for p in plans}
    layout = kinds.pop() if len(kinds) == 1 else "mixed"
    rows = sum(p.rows or 0 for p in plans)
    return Plan(layout, f"{len(plans)} sources: " + "; ".join(p.title for p in plans), rows,
                itertools.chain.from_iterable(p.items for p in plans),
                refused=[r for p in plans for r in p.refused], notes=[n for p in plans for n in p.notes]
                + ["read every one of them; --split NAME reads only the one named after NAME"])


def _for_file(path: Path, opts: Options) -> Plan:
    suffix, name = path.suffix.lower(), path.name
    if suffix in (".jsonl", ".json"):
        return manifests.plan_json(path, opts)
    if suffix == ".csv" and corpora.is_ljspeech(path.parent) and name == "metadata.csv":
        return corpora.plan_ljspeech(path.parent, opts)
    if suffix == ".tsv" and corpora.cv_header(path):
        return corpora.plan_common_voice(path.parent, opts, tsv=path)
    if suffix in (".csv", ".tsv"):
        return manifests.plan_csv(path, opts)
    if name in KALDI_FILES and corpora.is_kaldi(path.parent):
        return corpora.plan_kaldi(path.parent, opts)
    if manifests.is_audio(path):
        return manifests.plan_folder(path.parent, opts, [path])
    raise ValueError(f"{path} is not an importable file: give a manifest (.jsonl, .json, .csv, .tsv), a zip, an "
                     "audio file with a same-name .txt, or a folder.")


def forced(path: Path, opts: Options, layout: str) -> Plan:
    """``--format LAYOUT``: read ``path`` as that layout (a folder, or a file of it)."""
    folder = path if path.is_dir() else path.parent
    if layout in ("jsonl", "nemo", "audiofolder"):
        if path.is_file():
            return manifests.plan_json(path, opts, layout)
        names = ("metadata.jsonl",) if layout == "audiofolder" else KNOWN_MANIFESTS
        found = [folder / n for n in names if (folder / n).is_file()] or _json_manifests(folder)
        if not found:
            raise ValueError(f"--format {layout}: {folder} holds no JSONL manifest naming audio files.")
        return _together([manifests.plan_json(p, opts, layout) for p in _by_split(found, opts)])
    if layout == "csv":
        tables = [path] if path.is_file() else sorted(folder.glob("*.csv")) + sorted(folder.glob("*.tsv"))
        if len(tables) != 1:
            raise ValueError(f"--format csv: {folder} holds {len(tables)} CSV/TSV files; give the one to read.")
        return manifests.plan_csv(tables[0], opts)
    if layout == "folder":
        return manifests.plan_folder(folder, opts, [path] if path.is_file() else None)
    if layout == "common-voice":
        return corpora.plan_common_voice(folder, opts, tsv=path if path.is_file() else None)
    if layout == "ljspeech":
        meta = path if path.is_file() else folder / "metadata.csv"
        if not meta.is_file():
            raise ValueError(f"--format ljspeech: {folder} has no metadata.csv.")
        return corpora.plan_ljspeech(folder, opts, meta)
    if layout == "kaldi":
        if not corpora.is_kaldi(folder):
            raise ValueError(f"--format kaldi: {folder} needs both wav.scp and text.")
        return corpora.plan_kaldi(folder, opts)
    if layout == "hf":
        return hfdata.plan_hf(str(path), opts, hub=False)
    raise ValueError(f"--format {layout!r} is not a layout: use one of {', '.join(FORMATS)}.")
