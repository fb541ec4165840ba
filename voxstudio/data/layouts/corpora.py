"""Corpus layouts, read as the tools that make them write them.

* **Common Voice** (a release's locale folder): ``clips/*.mp3`` + tab-separated tables (``validated.tsv``,
  ``train.tsv``, ``dev.tsv``, ``test.tsv`` …, unquoted, header ``client_id  path  sentence … locale …``).
  ``--split NAME`` picks ``NAME.tsv`` (default ``validated``, else ``train``); ``locale`` → language,
  ``client_id`` → speaker.
* **LJ Speech**: ``wavs/<id>.wav`` + ``metadata.csv`` of ``id|text|normalized text`` lines, no header, no quoting
  (``--column text=normalized`` takes the normalized column); ``id|text`` lines too.
* **Kaldi data folder**: ``wav.scp`` (``utt path``), ``text`` (``utt words…``), optional ``utt2spk`` and
  ``utt2lang``. A ``wav.scp`` line that is a command (``… |``) or an offset into an ``.ark`` is refused: an import
  never runs commands. A folder with ``segments`` (cuts of longer recordings) is refused as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from voxstudio.data.layouts import untrusted
from voxstudio.data.layouts.source import AUDIO_EXTENSIONS, Item, Options, Plan, field_of, refused, resolve

CV_DEFAULT_SPLITS = ("validated", "train")
LJ_COLUMNS = ("id", "text", "normalized")
PIPE = ("is a shell command (it ends in '|'), not an audio file: an import never runs commands. Write the audio to "
        "files first (for example with sox or ffmpeg) and list those files in wav.scp")
ARK = ("points into a Kaldi archive (.ark:offset), not at an audio file: write each utterance to its own WAV "
       "file first (Kaldi's wav-copy writes one) and list those files in wav.scp")
ARK_RE = re.compile(r"\.ark:\d+$")


# ------------------------------------------------------------------------------------------------ Common Voice


def cv_header(path: Path) -> list[str] | None:
    cells = untrusted.first_line(path).split("\t")
    return cells if {"path", "sentence"} <= set(cells) else None


def is_common_voice(folder: Path, loose: bool = False) -> bool:
    """A Common Voice locale folder: ``clips/`` and a TSV with ``path`` and ``sentence`` (``loose``: no
    ``clips/`` needed, for a folder's files uploaded side by side)."""
    return (loose or (folder / "clips").is_dir()) and any(cv_header(p) for p in sorted(folder.glob("*.tsv")))


def plan_common_voice(folder: Path, opts: Options, tsv: Path | None = None) -> Plan:
    tables = {p.stem: p for p in sorted(folder.glob("*.tsv")) if cv_header(p)}
    if tsv is None:
        split = opts.split or next((s for s in CV_DEFAULT_SPLITS if s in tables), None)
        if split not in tables:
            raise ValueError(f"{folder} has no {split or 'validated or train'}.tsv with path and sentence columns; "
                             f"its tables: {', '.join(sorted(tables)) or 'none'} (choose one with --split)")
        tsv = tables[split]
    others = [name for name in tables if name != tsv.stem]
    header = cv_header(tsv) or []
    clips = folder / "clips" if (folder / "clips").is_dir() else folder

    def rows() -> Iterator[tuple[str, list | None, str | None]]:
        it = untrusted.split_rows(tsv, "\t")
        next(it, None)  # the header
        yield from it

    def items() -> Iterator[Item]:
        for label, cells, problem in rows():
            if problem:
                yield refused(label, problem)
                continue
            row = dict(zip(header, cells))
            ref = field_of(row, "audio", opts, ("path",))
            text = field_of(row, "text", opts, ("sentence",))
            lang, spk = field_of(row, "language", opts, ("locale",)), field_of(row, "speaker", opts, ("client_id",))
            if not ref:
                yield Item(label, None, text, problem="no audio file named in the path column")
                continue
            audio, problem = resolve(ref, clips, opts)
            yield Item(untrusted.printable(ref), audio, text, lang, spk, problem)

    notes = [f"read {tsv.name}" + (f" (also there: {', '.join(f'{o}.tsv' for o in others)}; --split NAME reads "
                                   "another)" if others else "")]
    return Plan("common-voice", f"Common Voice folder ({folder.name}, {tsv.name})", sum(1 for _ in rows()),
                items(), notes=notes)


# --------------------------------------------------------------------------------------------------- LJ Speech


def is_ljspeech(folder: Path) -> bool:
    meta = folder / "metadata.csv"
    if not meta.is_file():
        return False
    cells = untrusted.first_line(meta).split("|")
    return 2 <= len(cells) <= 3 and "file_name" not in cells[0].lower() and bool(cells[0].strip())


def plan_ljspeech(folder: Path, opts: Options, meta: Path | None = None) -> Plan:
    meta = meta or folder / "metadata.csv"

    def items() -> Iterator[Item]:
        for label, cells, problem in untrusted.split_rows(meta, "|"):
            if problem or len(cells) not in (2, 3):
                yield refused(label, problem or f"{label} is not an 'id|text|normalized text' line")
                continue
            row = dict(zip(LJ_COLUMNS, (c.strip() for c in cells)))
            ident, text = row["id"], field_of(row, "text", opts, ("text",))
            ref = ident if Path(ident).suffix.lower() in AUDIO_EXTENSIONS else f"wavs/{ident}.wav"
            audio, problem = resolve(ref, meta.parent, opts)
            yield Item(untrusted.printable(ident), audio, text, problem=problem)

    rows = sum(1 for _ in untrusted.split_rows(meta, "|"))
    return Plan("ljspeech", f"LJ Speech folder ({folder.name}, {meta.name})", rows, items())


# ------------------------------------------------------------------------------------------------------- Kaldi


def is_kaldi(folder: Path) -> bool:
    return (folder / "wav.scp").is_file() and (folder / "text").is_file()


def _keyed(path: Path, refusals: list[tuple[str, str]]) -> dict[str, str]:
    """A Kaldi table ``key value…`` (value may be empty) as a dict; unreadable lines are refused."""
    table: dict[str, str] = {}
    if not path.is_file():
        return table
    for label, cells, problem in untrusted.split_rows(path, None, 1):
        if problem:
            refusals.append((f"{path.name} {label}", problem))
        else:
            table.setdefault(cells[0], cells[1].strip() if len(cells) > 1 else "")
    return table


def plan_kaldi(folder: Path, opts: Options) -> Plan:
    if (folder / "segments").is_file():
        raise ValueError(f"{folder} is a Kaldi data folder with a segments file: its utterances are cuts of longer "
                         "recordings. Cut them into their own files first (e.g. extract-segments, or sox) and "
                         "import a folder whose wav.scp lists those files.")
    refusals: list[tuple[str, str]] = []
    texts = _keyed(folder / "text", refusals)
    speakers, langs = _keyed(folder / "utt2spk", refusals), _keyed(folder / "utt2lang", refusals)
    scp = folder / "wav.scp"

    def items() -> Iterator[Item]:
        for label, cells, problem in untrusted.split_rows(scp, None, 1):
            if problem:
                yield refused(f"wav.scp {label}", problem)
                continue
            utt, rest = cells[0], cells[1].strip() if len(cells) > 1 else ""
            shown = untrusted.printable(utt)
            if not rest:
                yield refused(shown, "wav.scp names no audio for it")
            elif rest.endswith("|"):
                yield refused(shown, PIPE)
            elif ARK_RE.search(rest):
                yield refused(shown, ARK)
            elif utt not in texts:
                yield refused(shown, "no transcript: the text file has no line for it")
            else:
                audio, problem = resolve(rest, folder, opts)
                yield Item(shown, audio, texts[utt], langs.get(utt), speakers.get(utt), problem,
                           name=Path(rest.replace("\\", "/")).name)

    rows = sum(1 for _ in untrusted.split_rows(scp, None, 1))
    return Plan("kaldi", f"Kaldi data folder ({folder.name}: wav.scp, text"
                + (", utt2spk" if speakers else "") + (", utt2lang" if langs else "") + ")",
                rows, items(), refused=refusals)
