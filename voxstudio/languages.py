"""The one owner of language codes: what a valid code is, its one spelling, its name, and Voxtral's prompt rule.

A code is an ISO 639 base (``en``, ``fr``, ``yue``) optionally followed by one region or script subtag
(``pt-br``, ``pt-BR`` and ``pt_BR`` are the same code). Its canonical spelling is lower case with a hyphen
(``pt-br``): that is what datasets and run configs store. Voxtral's prompt only takes the base
(``lang:pt[TRANSCRIBE]``), so :func:`base_code` is what training and inference pass to
``apply_transcription_request``. Stdlib only (the UI, the CLI and the trainer all import it).

``voxstudio.inference`` ships alone into the demo Space, so it keeps its own copies of :data:`PREFIX_RE` and
of :func:`base_code` (its ``prompt_language``); ``tests/test_rules.py`` checks that they agree with these.
"""

from __future__ import annotations

import re

CODE_RE = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z0-9]{2,8}))?$", re.IGNORECASE)
# The ``lang:xx`` Voxtral puts before its transcript when it detects the language (and after [/INST] in a prompt).
PREFIX_RE = re.compile(r"^\s*lang:([a-z]{2,3})\s*", re.IGNORECASE)
AUTO = "auto"  # no language hint: the model detects the language
# Voxtral's transcription languages (the Try page and the demo Space offer these).
TRANSCRIPTION_LANGUAGES = ("en", "es", "fr", "pt", "hi", "de", "nl", "it")

# code -> (English name, native name), in display order (by English name).
NAMES: dict[str, tuple[str, str]] = {
    "ar": ("Arabic", "العربية"),
    "bg": ("Bulgarian", "български"),
    "zh": ("Chinese", "中文"),
    "hr": ("Croatian", "hrvatski"),
    "cs": ("Czech", "čeština"),
    "da": ("Danish", "dansk"),
    "nl": ("Dutch", "Nederlands"),
    "en": ("English", "English"),
    "et": ("Estonian", "eesti"),
    "fi": ("Finnish", "suomi"),
    "fr": ("French", "français"),
    "de": ("German", "Deutsch"),
    "el": ("Greek", "Ελληνικά"),
    "hi": ("Hindi", "हिन्दी"),
    "hu": ("Hungarian", "magyar"),
    "it": ("Italian", "italiano"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "lv": ("Latvian", "latviešu"),
    "lt": ("Lithuanian", "lietuvių"),
    "mt": ("Maltese", "Malti"),
    "pl": ("Polish", "polski"),
    "pt": ("Portuguese", "português"),
    "ro": ("Romanian", "română"),
    "ru": ("Russian", "русский"),
    "sk": ("Slovak", "slovenčina"),
    "sl": ("Slovenian", "slovenščina"),
    "es": ("Spanish", "español"),
    "sv": ("Swedish", "svenska"),
    "uk": ("Ukrainian", "українська"),
}
# Region and script subtags a user is likely to meet; others are shown upper-cased (``pt-xy`` → "(XY)").
REGIONS: dict[str, str] = {
    "419": "Latin America", "ar": "Argentina", "at": "Austria", "au": "Australia", "be": "Belgium",
    "br": "Brazil", "ca": "Canada", "ch": "Switzerland", "cn": "China", "de": "Germany", "es": "Spain",
    "fr": "France", "gb": "United Kingdom", "hk": "Hong Kong", "ie": "Ireland", "in": "India", "it": "Italy",
    "mx": "Mexico", "nl": "Netherlands", "nz": "New Zealand", "pt": "Portugal", "tw": "Taiwan",
    "uk": "United Kingdom", "us": "United States", "za": "South Africa",
    "hans": "Simplified", "hant": "Traditional", "latn": "Latin", "cyrl": "Cyrillic",
}


def is_code(code) -> bool:
    """True for ``en``, ``yue``, ``pt-br``, ``pt-BR``, ``pt_BR``; False for ``English``, ``e`` or ``pt-``."""
    return isinstance(code, str) and CODE_RE.match(code.strip()) is not None


def canonical(code) -> str:
    """The one spelling of a code: ``' pt_BR '`` → ``'pt-br'``; a ValueError naming the problem otherwise."""
    if not is_code(code):
        raise ValueError(f"Language {code!r} is not a language code: use e.g. 'en', 'fr' or 'pt-br'.")
    return code.strip().lower().replace("_", "-")


def tidy(code):
    """:func:`canonical` for a valid code, anything else unchanged: for reading rows written by older versions
    (``pt_BR`` then compares equal to ``pt-br``) without refusing what validation will report anyway."""
    return canonical(code) if is_code(code) else code


def base_code(code: str) -> str:
    """The base language: ``'pt-br'`` / ``'pt_BR'`` / ``'PT'`` → ``'pt'`` (what Voxtral's ``lang:xx`` takes)."""
    return re.split(r"[-_]", code.strip())[0].lower()


def has_name(code) -> bool:
    """True when :func:`label` can name the code (its base is in :data:`NAMES`)."""
    return is_code(code) and base_code(code) in NAMES


def english_name(code: str) -> str:
    """'French' for ``fr``; the code itself when we have no name for it."""
    return NAMES.get(base_code(code), (code,))[0] if code else code


def label(code: str) -> str:
    """Human name: ``'fr'`` → ``'French'``, ``'pt-br'`` → ``'Portuguese (Brazil)'``; unknown codes as given."""
    if not is_code(code):
        return str(code)
    base, sub = CODE_RE.match(code.strip()).groups()
    if base.lower() not in NAMES:
        return canonical(code)
    name = NAMES[base.lower()][0]
    if not sub:
        return name
    return f"{name} ({REGIONS.get(sub.lower(), sub.upper())})"


def menu_label(code: str) -> str:
    """'Swedish — svenska' for menus (the English label alone when the native name is the same or unknown)."""
    english = label(code)
    native = NAMES.get(base_code(code), ("", ""))[1] if is_code(code) else ""
    return f"{english} — {native}" if native and native != NAMES[base_code(code)][0] else english


def prompt_prefix(code: str) -> str:
    """``'lang:pt'`` for ``pt-br``: the prefix Voxtral's transcription prompt carries."""
    return f"lang:{base_code(code)}"


def trained_default(codes) -> str:
    """The language inference defaults to for a model trained on ``codes``: the run's one language (``pt-br``),
    the shared base when its codes differ only by region (``pt-br`` + ``pt-pt`` → ``pt``, the same prompt), else
    :data:`AUTO`. Training prompts most clips with their ``lang:xx`` (only ``RunConfig.auto_language_fraction`` of
    them without), so a hint-less default would demo the mode the model saw least."""
    found = list(dict.fromkeys(canonical(c) for c in codes or () if is_code(c)))
    bases = {base_code(c) for c in found}
    if len(found) == 1:
        return found[0]
    return bases.pop() if len(bases) == 1 else AUTO


def split_prefix(text: str) -> tuple[str | None, str]:
    """``'lang:fr bonjour'`` → ``('fr', 'bonjour')``; text without the prefix → ``(None, text.strip())``."""
    m = PREFIX_RE.match(text or "")
    if not m:
        return None, (text or "").strip()
    return m.group(1).lower(), text[m.end():].strip()


def strip_prefix(text: str) -> str:
    """The text without a leading ``lang:xx`` (what scoring compares)."""
    return split_prefix(text)[1]
