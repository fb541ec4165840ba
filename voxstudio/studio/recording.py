"""The speaker and their takes: the consent they give (Language page), which phrase to read next, the phrase
card and the verdict on a saved take (Record page).

Saving a take, and replacing the phrase's earlier takes, is the dataset's job (``Dataset.add_take``).
Streamlit is imported here; torch never is.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from voxstudio.data import quality
from voxstudio.studio.formatting import field_of, flag_lines

CONSENT_TEXT = (
    "I am the speaker, and I agree that my recordings are stored in this dataset and used to "
    "fine-tune a speech recognizer."
)


def consent_record(speaker: str) -> dict:
    """What ``dataset.json`` keeps about consent: who agreed, to what, and when."""
    return {
        "given": True,
        "speaker": (speaker or "").strip(),
        "statement": CONSENT_TEXT,
        "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def first_unrecorded(phrases: list[Any], recorded_ids: set[str]) -> int:
    """Index of the first phrase without a saved take; ``len(phrases)`` when all are recorded."""
    found = next_unrecorded(phrases, recorded_ids)
    return len(phrases) if found is None else found


def next_unrecorded(phrases: list[Any], recorded_ids: set[str], after: int = -1) -> int | None:
    """Index of the first phrase after ``after`` without a saved take (no wrap-around), or None."""
    for index in range(after + 1, len(phrases)):
        if field_of(phrases[index], "phrase_id") not in recorded_ids:
            return index
    return None


def phrase_card(text: str) -> str:
    """The phrase to read, large and centred (HTML-escaped: phrases can come from user uploads)."""
    return (
        '<div class="vox-phrase" style="font-size:2.1rem;line-height:1.35;font-weight:600;padding:1.2rem 1rem;'
        'margin:0.5rem 0 1rem;'
        'border-radius:0.75rem;background:rgba(128,128,128,0.08);text-align:center">'
        f"{html.escape(text or '')}</div>"
    )


def unused_sentence(flags: Any, reviewed: str = "") -> str:
    """For a take the clean-take rule leaves out (``quality.unusable``): that training will not use it, and why;
    "" for a take that is used."""
    code = quality.unusable(flags, reviewed)
    if code is None:
        return ""
    return (f"**This take is not used for training** ({quality.UNUSABLE[code]}) until you re-record it or mark "
            "it fine on the Review page.")


def show_flags(flags: Any, reviewed: str = "") -> None:
    """The quality verdict of a clip: ✓ or each flag with its suggestion, and whether training will use it."""
    lines = flag_lines(flags)
    if not lines:
        st.success("✓ Saved. The take sounds fine.")
        return
    unused = unused_sentence(flags, reviewed)
    st.warning("Saved, but please check:\n\n" + "\n".join(f"- {line}" for line in lines)
               + (f"\n\n{unused}" if unused else "") + "\n\nPress **Re-record** to replace this take.")


# ---------------------------------------------------------------- the Record page's take panel and phrase list

PHONE_CSS = """<style>
@media (max-width: 640px) {
  .vox-phrase { font-size: 1.45rem !important; padding: 0.7rem 0.6rem !important; margin: 0.2rem 0 0.5rem !important; }
}
</style>"""


def status_mark(phrase_id: str, recorded: set, flagged: set) -> str:
    """✓ recorded, ⚠ recorded but flagged (a quality flag or the prompt check), · not recorded yet."""
    if phrase_id in flagged:
        return "⚠"
    return "✓" if phrase_id in recorded else "·"


def phrase_option(index: int, text: str, mark: str, width: int = 70) -> str:
    """One line of the phrase list: ``✓ 3. Lock the front door``."""
    text = text if len(text) <= width else text[: width - 1] + "…"
    return f"{mark} {index + 1}. {text}"


def trim_sentence(trim: dict | None) -> str:
    """What trimming on save cut, for the take's verdict ("" when nothing was)."""
    if not trim:
        return ""
    lead, trail = float(trim.get("lead_s", 0)), float(trim.get("trail_s", 0))
    return (f"trimmed {lead + trail:.1f} s of silence ({lead:.1f} s before, {trail:.1f} s after; the untrimmed "
            "take is kept)")


def take_caption(take: dict) -> str:
    """The line under a take's verdict: its text, length, trimming and whether it replaced an earlier take."""
    from voxstudio.studio.formatting import fmt_duration

    parts = [f"“{take.get('text', '')}”", fmt_duration(float(take.get("duration_s") or 0.0))]
    trimmed = trim_sentence(take.get("trim"))
    if trimmed:
        parts.append(trimmed)
    if take.get("replaced"):
        parts.append("replaced the earlier take (it is in the trash)")
    return " · ".join(parts)
