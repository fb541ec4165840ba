"""The one text-normaliser family: how text is stored, when two texts are "the same", and what WER compares.

* :func:`clean` — the stored and shown form: NFC, no surrounding or repeated whitespace. Transcripts, phrases
  and imported texts are stored like this.
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


def clean(text: str) -> str:
    """NFC, no surrounding or repeated whitespace: the form we store and show."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


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
