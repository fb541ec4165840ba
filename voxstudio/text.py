"""The one text-normaliser family: how text is stored, when two texts are "the same", and what WER compares.

* :func:`clean` — the stored and shown form: NFC, no surrounding or repeated whitespace, no invisible control
  characters (:func:`strip_invisible`: C0/C1 controls, lone surrogates, bidi embeddings/overrides/isolates that
  can make a text display as something else). Transcripts, phrases and imported texts are stored like this.
* :func:`key` — the "same text" decision: duplicate clips, duplicate phrases, and the train/eval split's
  phrase groups. :func:`clean`, then case-folded, apostrophes inside words dropped ("what's" = "whats"),
  punctuation and symbols turned into spaces; letters, digits and diacritics are kept.
* :func:`normalise_for_wer` — what WER/CER compare: the same folding as :func:`key` after dropping the
  ``lang:xx`` prefix Voxtral emits, with ``str.lower`` rather than ``casefold`` so that ``ß``/``ss`` and the
  Greek final sigma stay distinct spellings. Diacritics are kept: "lumière" ≠ "lumiere" is a real error.

Stdlib only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from voxstudio import languages

# Apostrophes inside a word are dropped ("what's" == "whats"); elsewhere punctuation becomes a space.
INNER_APOSTROPHE_RE = re.compile(r"(?<=\w)['’ʼ`](?=\w)")


# Bidi embeddings, overrides and isolates (the "Trojan Source" set) and a stray BOM: invisible, and able to make a
# stored text display as another one. Marks (LRM/RLM) and joiners (ZWJ/ZWNJ) are kept: scripts need them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def _invisible(ch: str) -> bool:
    return ch in BIDI_CONTROLS or (unicodedata.category(ch) in ("Cc", "Cs") and not ch.isspace())


def strip_invisible(text: str) -> tuple[str, list[str]]:
    """``text`` without control characters, lone surrogates and bidi controls, and the ones removed, named
    (``"U+202E RIGHT-TO-LEFT OVERRIDE"``) for a notice. Whitespace controls (tab, newline) are left to
    :func:`clean`, which folds them into spaces."""
    text = text or ""
    removed = sorted({ch for ch in text if _invisible(ch)})
    if not removed:
        return text, []
    fallback = {"Cc": "control character", "Cs": "lone surrogate"}
    names = [f"U+{ord(ch):04X} {unicodedata.name(ch, '') or fallback[unicodedata.category(ch)]}" for ch in removed]
    return "".join(ch for ch in text if not _invisible(ch)), names


def clean(text: str) -> str:
    """NFC, no surrounding or repeated whitespace, no invisible controls: the form we store and show."""
    return " ".join(unicodedata.normalize("NFC", strip_invisible(text)[0]).split())


def _fold(text: str, fold_case: Callable[[str], str]) -> str:
    text = INNER_APOSTROPHE_RE.sub("", fold_case(clean(text)))
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(text.split())


def key(text: str) -> str:
    """The form two texts share when they are the same text: case, punctuation and spacing don't count."""
    return _fold(text, str.casefold)


def normalise_for_wer(text: str, language: str | None = None) -> str:
    """Lower-cased, punctuation-free, single-spaced text with diacritics kept (NFC), ``lang:xx`` removed.

    ``language`` is accepted so a language-specific rule can be added without changing callers; today the
    same rule serves every language.
    """
    return _fold(languages.strip_prefix(unicodedata.normalize("NFC", text or "")), str.lower)
