"""Per-clip quality flags: what is wrong with a take, in a sentence, and what to do about it.

All limits live in :data:`THRESHOLDS` (and the per-language speaking-rate table :data:`SPEAKING_RATE`), so the
Record page, the Review page, imports and the docs agree. A flag never blocks saving: flagged clips are kept so
the user decides (re-record, edit the text, or keep). Only unusable audio is refused, in ``audio``/``dataset``
(undecodable, longer than ``max_import_s``, or digital silence: every sample zero — such a take never becomes a
clip, so it needs no flag).

Clean takes only, by default: :data:`UNUSABLE` lists the flag codes whose clips a run leaves out of training
*and* evaluation (``training.selection``), each with the reason a user reads; :func:`unusable` is the one
predicate. A clip the user listened to and marked fine on the Review page (``reviewed: "keep"`` in its row,
:data:`KEEP`) is used whatever its flags.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass

from voxstudio.data.analysis import AudioStats
from voxstudio.data.audio import MAX_IMPORT_S, WINDOW_S
from voxstudio.languages import base_code

THRESHOLDS: dict[str, float] = {
    # shorter than this, a clip rarely holds a whole phrase (cut-off start or end)
    "min_duration_s": 1.0,
    # Voxtral listens in 30 s windows: longer clips are kept and trained on whole (as several windows), but flagged
    "max_duration_s": WINDOW_S,
    # longer audio is refused outright at import (audio.MAX_IMPORT_S); listed here for the docs
    "max_import_s": float(MAX_IMPORT_S),
    # loudest sample below this (dBFS): the voice is buried in the noise of the recording chain
    "min_peak_dbfs": -30.0,
    # more than this fraction of samples at full scale: audible distortion
    "max_clipped_ratio": 0.001,
    # less than this fraction of 30 ms frames holds speech (energy VAD in analysis.analyze)
    "min_speech_ratio": 0.10,
    # speaking rate is only judged on at least this much speech and this many characters
    "rate_min_speech_s": 0.3,
    "rate_min_chars": 2,
}

# Flag codes that make a clip unusable for training and evaluation, with the reason shown where it is left out.
# Not listed, so still used (the flag is advice): "too_long" (trained on whole as several 30 s windows),
# "speaking_rate" (often a typo or a missing word in the transcript: edit the text, the audio is fine) and
# "too_quiet" (quiet but audible: the speech detector still found a voice, and the log-mel features the model
# reads are level-normalised; a take too quiet to hear is "mostly_silence" as well).
UNUSABLE: dict[str, str] = {
    "mostly_silence": "mostly silence: almost no speech under a full transcript teaches the model to invent "
                      "words from silence, and scoring it measures nothing",
    "too_short": "too short: the start or end of the phrase is probably cut off, so the transcript holds words "
                 "the audio does not",
    "clipped": "clipped: the voice is distorted beyond the threshold, a sound the model should not learn as yours",
}
KEEP = "keep"  # a clip's "reviewed" mark when the user listened and keeps it for training (Review page)

# Letters and digits per second of speech (leading/trailing silence excluded): (slowest, fastest) plausible.
# Typical read speech is 8–16 chars/s in alphabetic scripts and 3–7 in Chinese/Japanese; the bounds are wide on
# purpose — a flag means "the text probably does not match the audio", not "you speak fast".
SPEAKING_RATE: dict[str, tuple[float, float]] = {
    "default": (2.5, 30.0),
    "zh": (1.0, 12.0),
    "yue": (1.0, 12.0),
    "ja": (1.5, 16.0),
    "ko": (1.0, 14.0),
}


@dataclass(frozen=True)
class Flag:
    """One problem with a clip: a stable ``code`` for filters, a ``message`` and a ``suggestion`` for people."""

    code: str
    message: str
    suggestion: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Flag:
        return cls(str(data.get("code", "")), str(data.get("message", "")), str(data.get("suggestion", "")))


def _code(flag) -> str:
    return str(flag if isinstance(flag, str) else (flag.get("code", "") if isinstance(flag, dict) else flag.code))


def unusable(flags, reviewed: str | None = None) -> str | None:
    """THE clean-take rule: the first unusable flag code of a clip (flags are most serious first), or None when
    the clip is used. A clip marked fine on the Review page (``reviewed == KEEP``) is always used.

    ``flags``: a clip's stored flags (dicts), :class:`Flag` objects or plain codes.
    """
    if reviewed == KEEP:
        return None
    return next((code for code in map(_code, flags or ()) if code in UNUSABLE), None)


def label(code: str) -> str:
    """A flag code as a few words for counts and table cells: ``too_short`` → ``too short``."""
    return str(code).replace("_", " ")


def text_chars(text: str) -> int:
    """Spoken-ish characters: letters, digits and marks (no spaces or punctuation); language-neutral."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LNM")


def rate_bounds(language: str | None) -> tuple[float, float]:
    base = base_code(language) if language else ""
    return SPEAKING_RATE.get(base, SPEAKING_RATE["default"])


def check(stats: AudioStats, text: str, language: str | None = None) -> list[Flag]:
    """Flags for one clip, most serious first; an empty list means the take looks fine."""
    t = THRESHOLDS
    flags: list[Flag] = []
    if stats.speech_ratio < t["min_speech_ratio"]:
        flags.append(Flag(
            "mostly_silence",
            f"Almost no speech was detected: only {stats.speech_ratio:.0%} of the clip sounds like a voice.",
            "Check that the right microphone is selected and not muted, then re-record while reading the phrase.",
        ))
    if stats.peak_dbfs < t["min_peak_dbfs"]:
        flags.append(Flag(
            "too_quiet",
            f"The recording is very quiet (loudest point {stats.peak_dbfs:.0f} dBFS, "
            f"below {t['min_peak_dbfs']:.0f} dBFS).",
            "Move closer to the microphone or raise the input gain, then re-record.",
        ))
    if stats.clipped_ratio > t["max_clipped_ratio"]:
        flags.append(Flag(
            "clipped",
            f"The recording is distorted: {stats.clipped_ratio:.1%} of the samples hit the maximum level.",
            "Lower the input gain or move a little further from the microphone, then re-record.",
        ))
    if stats.duration_s < t["min_duration_s"]:
        flags.append(Flag(
            "too_short",
            f"The clip is only {stats.duration_s:.1f} s long; the start or end of the phrase may be cut off.",
            "Start speaking a moment after pressing record and wait a moment before stopping, then re-record.",
        ))
    if stats.duration_s > t["max_duration_s"]:
        window = t["max_duration_s"]
        n = math.ceil(stats.duration_s / window)
        flags.append(Flag(
            "too_long",
            f"The clip is {stats.duration_s:.0f} s long; the model listens in {window:.0f} s windows, so it is "
            f"trained on as {n} windows with one transcript.",
            f"It is usable as it is. Splitting it into sentences under {window:.0f} s, each with its own "
            "transcript, uses less memory per training step and gives the model more examples to learn from.",
        ))
    flags.extend(_rate_flags(stats, text, language))
    return flags


def _rate_flags(stats: AudioStats, text: str, language: str | None) -> list[Flag]:
    t = THRESHOLDS
    chars = text_chars(text or "")
    speech_s = stats.speech_s
    if stats.speech_ratio < t["min_speech_ratio"] or speech_s < t["rate_min_speech_s"] or chars < t["rate_min_chars"]:
        return []
    rate = chars / speech_s
    low, high = rate_bounds(language)
    if rate > high:
        return [Flag(
            "speaking_rate",
            f"The text is long for this audio ({chars} characters in {speech_s:.1f} s of speech, "
            f"{rate:.0f} per second): it may not match what was said, or the recording stopped early.",
            "Check that the transcript matches the clip; edit the text or re-record the whole phrase.",
        )]
    if rate < low:
        return [Flag(
            "speaking_rate",
            f"The text is short for this audio ({chars} characters in {speech_s:.1f} s of speech): "
            "the clip may hold more than the phrase, or the transcript is missing words.",
            "Check that the transcript matches the clip; complete the text or re-record only the phrase.",
        )]
    return []
