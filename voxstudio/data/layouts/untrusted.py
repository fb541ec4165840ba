"""Reading what an import source wrote, where anything may be hostile or simply odd: file names, manifest lines,
CSV/TSV fields, JSON rows and ``.txt`` transcripts.

Every reader yields one result per row, ``(label, value, problem)``: a row that cannot be used comes back with a
sentence and the next row is read, so one bad line never stops an import. Nothing is read whole into memory
beyond :data:`MAX_LINE_BYTES` per line (a JSON array manifest, read whole, is capped at :data:`MAX_WHOLE_BYTES`).
Text is UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured); anything else is refused with the encoding tried,
never turned into U+FFFD.
"""

from __future__ import annotations

import codecs
import csv
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from voxstudio import text as textrule

MAX_LINE_BYTES = 1 << 20  # one manifest row; longer lines are refused (and skipped without reading them whole)
MAX_FIELD_CHARS = 128 << 10  # one CSV/TSV value (the csv module's own default limit)
MAX_WHOLE_BYTES = 256 << 20  # a JSON-array manifest or a UTF-16 file, which are read whole
MAX_TRANSCRIPT_BYTES = 1 << 20  # a .txt transcript
READ_AS = "UTF-8"
Row = tuple[str, object, str | None]  # (label, value, problem)


def _kib(n: int) -> str:
    return f"{n >> 10} KiB" if n < 1 << 20 else f"{n >> 20} MiB"


def name_problem(name: str) -> str | None:
    """Why a file name from a manifest or an archive cannot name a file (NUL, control or bidi characters)."""
    if "\0" in name:
        return "its file name holds a NUL byte (\\x00), which no file name can contain"
    bad = sorted({ch for ch in name if ch in textrule.BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs")})
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        return f"its file name holds control characters ({shown}), which a real file name never has"
    return None


def printable(name: object, limit: int = 160) -> str:
    """A file name as it can be shown in a report line: controls escaped, very long names cut."""
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(name))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _not_utf8(what: str, exc: UnicodeDecodeError) -> str:
    byte = exc.object[exc.start] if exc.start < len(exc.object) else 0
    return (f"{what} is not {READ_AS} text (byte 0x{byte:02X} at position {exc.start}); it was read as {READ_AS}, "
            "the only encoding tried: save it as UTF-8 and import again")


def _bom(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text without the newline, problem)`` for every line of a text file, one at a time."""
    with path.open("rb") as f:
        if _bom(f.read(2)):
            yield from _whole_lines(path)
            return
        f.seek(0)
        n = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            n += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := f.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of an overlong line without holding it
                yield n, None, f"line {n} is longer than {_kib(MAX_LINE_BYTES)}: not a manifest row; fix that line"
                continue
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n"), None
            except UnicodeDecodeError as exc:
                yield n, None, _not_utf8(f"line {n}", exc)


def _whole_lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """A UTF-16 file (Windows "Unicode" text), decoded whole (capped)."""
    if path.stat().st_size > MAX_WHOLE_BYTES:
        yield 1, None, f"{path.name} is a UTF-16 file over {_kib(MAX_WHOLE_BYTES)}: save it as UTF-8"
        return
    try:
        text = path.read_bytes().decode("utf-16")
    except UnicodeDecodeError as exc:
        yield 1, None, _not_utf8(path.name, exc).replace(f"read as {READ_AS}", "read as UTF-16 (its byte-order mark)")
        return
    for n, line in enumerate(text.splitlines(), start=1):
        yield n, line, None


def json_rows(path: Path) -> Iterator[Row]:
    """Rows of a JSONL manifest (or of a JSON array file): ``(line N, dict | None, problem)``."""
    with path.open("rb") as f:
        head = f.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"["):
        yield from _json_array(path)
        return
    for n, line, problem in lines(path):
        if problem or not line.strip():
            if problem:
                yield f"line {n}", None, problem
            continue
        yield f"line {n}", *parse_json_object(line, f"line {n}")


def parse_json_object(line: str, what: str) -> tuple[dict | None, str | None]:
    try:
        row = json.loads(line)
    except RecursionError:
        return None, f"{what} is JSON nested too deeply to be a manifest row (hostile or broken): fix that line"
    except json.JSONDecodeError as exc:
        return None, f"{what} is not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(row, dict):
        return None, f"{what} is not a JSON object (expected {{\"audio_path\": …, \"text\": …}})"
    return row, None


def _json_array(path: Path) -> Iterator[Row]:
    if path.stat().st_size > MAX_WHOLE_BYTES:
        yield path.name, None, f"{path.name} is a JSON array over {_kib(MAX_WHOLE_BYTES)}: write it as JSON lines"
        return
    try:
        rows = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        yield path.name, None, _not_utf8(path.name, exc)
        return
    except RecursionError:
        yield path.name, None, f"{path.name} is JSON nested too deeply to be a manifest (hostile or broken)"
        return
    except json.JSONDecodeError as exc:
        yield path.name, None, f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})"
        return
    for n, row in enumerate(rows if isinstance(rows, list) else [rows], start=1):
        ok = isinstance(row, dict)
        yield f"item {n}", row if ok else None, None if ok else f"item {n} of {path.name} is not a JSON object"


def delimited_rows(path: Path, delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> Iterator[Row]:
    """Rows of a CSV/TSV file as lists of strings: ``(line N, cells | None, problem)``; empty lines skipped.

    A line that is not UTF-8 or holds a value over :data:`MAX_FIELD_CHARS` is refused alone."""
    pending: list[tuple[int, str]] = []

    def feed() -> Iterator[str]:
        for n, line, problem in lines(path):
            if problem:
                pending.append((n, problem))
                yield "\n"
            else:
                yield line + "\n"

    reader = csv.reader(feed(), delimiter=delimiter, quoting=quoting)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            n = reader.line_num
            if "field limit" in str(exc):
                yield f"line {n}", None, (f"line {n} has a value over {_kib(MAX_FIELD_CHARS)}: not a file name or a "
                                          "transcript; fix or remove that line")
            else:
                yield f"line {n}", None, f"line {n} is not valid CSV ({exc})"
            continue
        while pending:
            n, problem = pending.pop(0)
            yield f"line {n}", None, problem
        if any(cell.strip() for cell in cells):
            long = next((c for c in cells if len(c) > MAX_FIELD_CHARS), None)
            if long is not None:
                yield f"line {reader.line_num}", None, f"line {reader.line_num} has a value over " \
                                                       f"{_kib(MAX_FIELD_CHARS)}: fix or remove that line"
                continue
            yield f"line {reader.line_num}", cells, None
    for n, problem in pending:
        yield f"line {n}", None, problem


def split_rows(path: Path, sep: str | None, maxsplit: int = -1) -> Iterator[Row]:
    """Rows of an unquoted text table (Common Voice TSV, LJ Speech ``id|text``, Kaldi ``key value``): cells split
    on ``sep`` (None: runs of whitespace), each line on its own."""
    for n, line, problem in lines(path):
        if problem:
            yield f"line {n}", None, problem
            continue
        if not line.strip():
            continue
        cells = line.split(sep, maxsplit)
        if any(len(c) > MAX_FIELD_CHARS for c in cells):
            yield f"line {n}", None, f"line {n} has a value over {_kib(MAX_FIELD_CHARS)}: fix or remove that line"
            continue
        yield f"line {n}", cells, None


def first_line(path: Path) -> str:
    """The first non-empty line of a text file ("" when unreadable): for recognising layouts."""
    try:
        for _n, line, problem in lines(path):
            if problem is None and line.strip():
                return line
            if problem is not None:
                return ""
    except OSError:
        return ""
    return ""


def read_transcript(path: Path) -> tuple[str | None, str | None]:
    """A ``.txt`` transcript: ``(text, None)`` or ``(None, why not)``."""
    size = path.stat().st_size
    if size > MAX_TRANSCRIPT_BYTES:
        return None, f"{path.name} is {_kib(size)}, too big to be the transcript of one clip"
    data = path.read_bytes()
    encoding = _bom(data) or "utf-8-sig"
    try:
        return data.decode(encoding).strip(), None
    except UnicodeDecodeError as exc:
        return None, _not_utf8(path.name, exc)
