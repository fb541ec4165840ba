"""Phrases to read aloud: bundled packs, NVIDIA Granary, or the user's own lines.

Why this module exists: the Record page needs a stable, ordered list of sentences with ids that survive a
reload (so "which phrases are recorded" can be derived from the dataset on disk), and the phrase source must
never leave the user stuck: Granary is optional and slow, so it falls back to the bundled pack with a visible
notice. Stdlib only (UI-safe); ``datasets`` is imported lazily by ``voxstudio.data.granary``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voxstudio import languages as language_codes
from voxstudio import text as textrule

PACKS_DIR = Path(__file__).resolve().parent / "phrase_packs"
SOURCES = ("bundled", "granary", "custom")
MIN_WORDS = 3  # bundled and Granary sentences: long enough to carry context...
MAX_WORDS = 20  # ...short enough to read in one breath and stay far inside Voxtral's 30 s window
MAX_CUSTOM_WORDS = 60  # custom lines: ~30 s read at a relaxed two words per second
MAX_CUSTOM_CHARS = 500
DEFAULT_GRANARY_N = 100
DEFAULT_TIMEOUT_S = 20.0
CSV_TEXT_COLUMNS = ("text", "sentence", "phrase", "transcript", "transcription")

# Languages with a bundled phrase pack (code -> English name), in display order; names live in voxstudio.languages.
LANGUAGES: dict[str, str] = {code: english for code, (english, _) in language_codes.NAMES.items()
                             if (PACKS_DIR / f"{code}.txt").is_file()}

# The letters each language is written with (lower case, NFC). Anything alphabetic outside this set means a
# wrong script or a wrong diacritic (e.g. Romanian cedilla ş instead of comma-below ș, Russian ы in Ukrainian).
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
ALPHABETS: dict[str, str] = {
    "en": _LATIN,
    "de": _LATIN + "äöüßé",
    "fr": _LATIN + "àâæçéèêëîïôœùûüÿ",
    "es": _LATIN + "áéíóúüñ",
    "it": _LATIN + "àèéìíîòóùú",
    "pt": _LATIN + "áâãàçéêíóôõú",
    "nl": _LATIN + "áéèëïóöü",
    "sv": _LATIN + "åäöé",
    "da": _LATIN + "æøåé",
    "fi": _LATIN + "äöå",
    "et": _LATIN + "äöõüšž",
    "lv": _LATIN + "āčēģīķļņšūž",
    "lt": _LATIN + "ąčęėįšųūž",
    "pl": _LATIN + "ąćęłńóśźż",
    "cs": _LATIN + "áčďéěíňóřšťúůýž",
    "sk": _LATIN + "áäčďéíĺľňóôŕšťúýž",
    "sl": _LATIN + "čšž",
    "hr": _LATIN + "čćđšž",
    "hu": _LATIN + "áéíóöőúüű",
    "ro": _LATIN + "ăâîșț",
    "mt": _LATIN + "ċġħżàèìòù",
    "bg": _CYRILLIC.replace("ы", "").replace("э", "") + "ѝ",
    "ru": _CYRILLIC + "ё",
    "uk": _CYRILLIC.replace("ы", "").replace("э", "").replace("ъ", "") + "ґєії",
    "el": "αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ",
}
_DEVANAGARI = range(0x0900, 0x0980)
_WORD_RE = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Phrase:
    """One sentence to read aloud. ``phrase_id`` is stable: same language, source and text → same id."""

    phrase_id: str
    text: str
    language: str
    source: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> Phrase:
        missing = [k for k in ("text", "language", "source") if not row.get(k)]
        if missing:
            raise ValueError(f"A phrase row is missing {', '.join(missing)}: {row!r}")
        text = textrule.clean(str(row["text"]))
        pid = row.get("phrase_id") or phrase_id(text, row["language"], row["source"])
        return cls(phrase_id=str(pid), text=text, language=str(row["language"]), source=str(row["source"]))


@dataclass(frozen=True)
class SkippedLine:
    """A custom line we did not keep, with the reason shown to the user."""

    line: int  # 1-based line (or CSV row) number
    text: str
    reason: str


@dataclass
class CustomParse:
    phrases: list[Phrase]
    skipped: list[SkippedLine] = field(default_factory=list)


@dataclass
class PhraseSelection:
    """What the Language page shows: the phrases, and a notice when something differs from what was asked."""

    phrases: list[Phrase]
    notice: str | None = None
    source: str = "bundled"  # the source actually used (after any fallback)
    skipped: list[SkippedLine] = field(default_factory=list)


def phrase_id(text: str, language: str, source: str) -> str:
    """Stable id: case and spacing don't make a new phrase.

    Frozen on purpose (recorded datasets store these ids): the digest is of the cleaned, case-folded text, with
    punctuation kept, and must not follow later changes to :func:`voxstudio.text.key`.
    """
    digest = hashlib.sha1(textrule.clean(text).casefold().encode("utf-8")).hexdigest()[:10]
    return f"{language}-{source}-{digest}"


def make_phrase(text: str, language: str, source: str) -> Phrase:
    text = textrule.clean(text)
    return Phrase(phrase_id(text, language, source), text, language, source)


def word_count(text: str) -> int:
    """Words that contain a letter or digit (a lone dash or quote is not a word)."""
    return sum(1 for token in text.split() if _WORD_RE.search(token))


def script_ok(text: str, lang: str) -> bool:
    """True when every letter (and combining mark) belongs to the language's alphabet, and there is one.

    Catches wrong scripts (Latin in Russian), wrong Cyrillic variants (ы in Ukrainian) and wrong diacritics
    (ş instead of ș in Romanian). Digits and punctuation are not checked.
    """
    text = unicodedata.normalize("NFC", text)
    seen_letter = False
    for ch in text:
        category = unicodedata.category(ch)
        if not category.startswith(("L", "M")):
            continue
        seen_letter = True
        if lang == "hi":
            if ord(ch) not in _DEVANAGARI:
                return False
        elif lang in ALPHABETS:
            if ch.lower() not in ALPHABETS[lang]:
                return False
        else:
            raise ValueError(f"No alphabet known for language {lang!r}.")
    return seen_letter


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        known = ", ".join(f"{c} ({n})" for c, n in LANGUAGES.items())
        raise ValueError(f"There is no phrase pack for language {language!r}. Available: {known}.")


def bundled_phrases(lang: str) -> list[Phrase]:
    """The phrase pack shipped with voxstudio, in file order (comments and blank lines ignored)."""
    _check_language(lang)
    path = PACKS_DIR / f"{lang}.txt"
    phrases: list[Phrase] = []
    seen: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        phrase = make_phrase(line, lang, "bundled")
        if phrase.phrase_id not in seen:
            seen.add(phrase.phrase_id)
            phrases.append(phrase)
    return phrases


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            "This file is not UTF-8 text (the encoding voxstudio reads). Save it as UTF-8 and upload it again."
        ) from err


def _csv_cells(text: str) -> list[tuple[int, str]]:
    """(row number, text cell) from a CSV: the text-like column when a header names one, else column one."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return []
    header = [cell.strip().casefold() for cell in rows[0]]
    column, start = 0, 0
    for name in CSV_TEXT_COLUMNS:
        if name in header:
            column, start = header.index(name), 1
            break
    cells = []
    for number, row in enumerate(rows[start:], start=start + 1):
        cells.append((number, row[column] if column < len(row) else ""))
    return cells


def parse_custom(data: str | bytes, language: str, filename: str | None = None) -> CustomParse:
    """Turn pasted text or an uploaded .txt/.csv into phrases, saying why each dropped line was dropped."""
    suffix = Path(filename).suffix.casefold() if filename else ""
    if suffix not in ("", ".txt", ".csv", ".tsv"):
        raise ValueError(f"Can't read phrases from {filename!r}: upload a .txt file (one phrase per line) or a .csv.")
    text = _decode(data)
    if suffix in (".csv", ".tsv"):
        cells = _csv_cells(text)
    else:
        cells = list(enumerate(text.splitlines(), start=1))
    result = CustomParse(phrases=[])
    first_line: dict[str, int] = {}
    for number, cell in cells:
        line = textrule.clean(cell)
        reason = None
        if not line:
            reason = "empty line"
        elif not _WORD_RE.search(line):
            reason = "no words in it"
        elif len(line) > MAX_CUSTOM_CHARS or word_count(line) > MAX_CUSTOM_WORDS:
            reason = (
                f"too long ({word_count(line)} words, {len(line)} characters; keep a phrase under "
                f"{MAX_CUSTOM_WORDS} words so it fits in one 30-second take)"
            )
        elif textrule.key(line) in first_line:
            reason = f"duplicate of line {first_line[textrule.key(line)]}"
        if reason:
            result.skipped.append(SkippedLine(number, line, reason))
            continue
        first_line[textrule.key(line)] = number
        result.phrases.append(make_phrase(line, language, "custom"))
    return result


def custom_phrases(data: str | bytes, language: str, filename: str | None = None) -> list[Phrase]:
    """The kept phrases of ``parse_custom`` (use that to show the reasons for dropped lines)."""
    return parse_custom(data, language, filename).phrases


def skipped_summary(skipped: list[SkippedLine], limit: int = 5) -> str:
    """'Skipped 2 lines: line 3 (empty line), line 5 (duplicate of line 1).'"""
    if not skipped:
        return ""
    shown = ", ".join(f"line {s.line} ({s.reason})" for s in skipped[:limit])
    more = f" and {len(skipped) - limit} more" if len(skipped) > limit else ""
    noun = "line" if len(skipped) == 1 else "lines"
    return f"Skipped {len(skipped)} {noun}: {shown}{more}."


def sample(phrases: list[Phrase], n: int | None, seed: int) -> list[Phrase]:
    """n phrases chosen with ``seed``, kept in their original order; all of them when n is None or large."""
    if n is None or n >= len(phrases):
        return list(phrases)
    if n < 1:
        raise ValueError("Ask for at least one phrase.")
    chosen = set(random.Random(seed).sample(range(len(phrases)), n))
    return [p for i, p in enumerate(phrases) if i in chosen]


def load_phrases(
    language: str,
    source: str = "bundled",
    n: int | None = None,
    seed: int = 0,
    custom: str | bytes | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    filename: str | None = None,
    repo_id: str | None = None,
) -> PhraseSelection:
    """The phrases for the Language page. Granary problems never raise: they fall back with a notice."""
    if source not in SOURCES:
        raise ValueError(f"Unknown phrase source {source!r}: choose one of {', '.join(SOURCES)}.")
    if source == "custom":
        if custom is None:
            raise ValueError("Paste some phrases or upload a .txt/.csv file first.")
        parsed = parse_custom(custom, language, filename)
        if not parsed.phrases:
            raise ValueError("None of these lines can be used as phrases. " + skipped_summary(parsed.skipped))
        return PhraseSelection(
            sample(parsed.phrases, n, seed), skipped_summary(parsed.skipped) or None, "custom", parsed.skipped
        )
    _check_language(language)
    if source == "bundled":
        return PhraseSelection(sample(bundled_phrases(language), n, seed), None, "bundled")

    from voxstudio.data import granary

    want = n or DEFAULT_GRANARY_N
    try:
        texts = granary.fetch_texts(
            language, want, seed, repo_id=repo_id or granary.GRANARY_REPO, timeout_s=timeout_s
        )
    except granary.GranaryUnavailable as err:
        notice = f"Couldn't reach Granary ({err}); using the bundled phrases for {language_codes.label(language)}."
        return PhraseSelection(sample(bundled_phrases(language), n, seed), notice, "bundled")
    phrases = [make_phrase(t, language, "granary") for t in texts]
    notice = None
    if len(phrases) < want:
        name = language_codes.label(language)
        notice = f"Granary had only {len(phrases)} usable {name} sentences (asked for {want})."
    return PhraseSelection(phrases, notice, "granary")


def next_unrecorded(phrases: list[Phrase], recorded_ids: set[str], after: int | None = None) -> int | None:
    """Index of the first phrase not yet recorded (searching after ``after``, wrapping), or None when done."""
    if not phrases:
        return None
    start = 0 if after is None else after + 1
    for offset in range(len(phrases)):
        index = (start + offset) % len(phrases)
        if phrases[index].phrase_id not in recorded_ids:
            return index
    return None
