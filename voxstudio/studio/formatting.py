"""Pure formatters the pages share: durations, minutes, a clip's quality flags, a dataset's first language.

No Streamlit here (and never torch): these turn values into the words a user reads, so they are tested as
plain functions. Rates (WER/CER) are written by :func:`voxstudio.training.scoring.percent`.
"""

from __future__ import annotations

from typing import Any


def fmt_duration(seconds: float) -> str:
    """``42.0`` → ``"42 s"``, ``754`` → ``"12 min 34 s"``, ``7300`` → ``"2 h 01 min"``."""
    seconds = max(0.0, float(seconds or 0.0))
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_minutes(seconds: float) -> str:
    """Minutes with one decimal, the unit people think about datasets in."""
    return f"{(seconds or 0.0) / 60:.1f} min"


def field_of(item: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dataclass/object or a dict (phrases and clips come as either)."""
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def flag_codes(flags: Any) -> list[str]:
    """Flag codes from a clip's ``flags`` (list of dicts ``{code, message, suggestion}`` or plain codes)."""
    codes = []
    for flag in flags or []:
        code = field_of(flag, "code") if not isinstance(flag, str) else flag
        if code:
            codes.append(str(code))
    return codes


def flag_lines(flags: Any) -> list[str]:
    """Human sentences for a clip's flags: the message and what to do about it."""
    lines = []
    for flag in flags or []:
        if isinstance(flag, str):
            lines.append(flag)
            continue
        message = field_of(flag, "message") or field_of(flag, "code") or ""
        suggestion = field_of(flag, "suggestion") or ""
        lines.append(f"{message} {suggestion}".strip())
    return lines


def first_language(info: Any) -> str | None:
    """The first language of a dataset's ``dataset.json`` info, if any."""
    langs = field_of(info, "languages") if info else None
    return langs[0] if langs else None
