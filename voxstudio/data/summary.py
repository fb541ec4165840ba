"""Summaries of a dataset's clips: the totals the Home, Review and CLI screens show, and the train/eval split.

Pure functions over a list of clips (no disk), so ``Dataset.stats``/``Dataset.split`` stay thin and the split
rule (by phrase, deterministic, never the same phrase on both sides) has one definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from voxstudio import text as textrule

if TYPE_CHECKING:
    from voxstudio.data.dataset import Clip


def totals(name: str, clips: Sequence[Clip]) -> dict:
    """Clips, minutes, per language and speaker, flagged clips and flag codes."""
    out = {"name": name, "clips": len(clips), "minutes": 0.0, "languages": {}, "speakers": {},
           "flagged": 0, "flags": {}}
    for c in clips:
        minutes = c.duration_s / 60.0
        out["minutes"] += minutes
        for key, value in (("languages", c.language), ("speakers", c.speaker or "")):
            slot = out[key].setdefault(value, {"clips": 0, "minutes": 0.0})
            slot["clips"] += 1
            slot["minutes"] += minutes
        if c.flags:
            out["flagged"] += 1
            for code in c.flag_codes:
                out["flags"][code] = out["flags"].get(code, 0) + 1
    out["minutes"] = round(out["minutes"], 3)
    for key in ("languages", "speakers"):
        for slot in out[key].values():
            slot["minutes"] = round(slot["minutes"], 3)
    return out


def phrase_group(clip: Clip) -> str:
    """The split's unit: the phrase id, or else the "same text" key (re-takes of a phrase stay together)."""
    return f"id:{clip.phrase_id}" if clip.phrase_id else f"text:{textrule.key(clip.text)}"


def split_clips(clips: Sequence[Clip], seed: int = 0, eval_fraction: float = 0.1) -> tuple[list[Clip], list[Clip]]:
    """Deterministic train/eval split by phrase (same phrase never on both sides).

    With ≥ 2 groups both sides are non-empty; with fewer, everything is training data.
    """
    if not 0.0 < float(eval_fraction) < 1.0:
        raise ValueError(f"eval_fraction must be between 0 and 1 (exclusive); got {eval_fraction}.")
    clips = list(clips)
    keys = [phrase_group(c) for c in clips]
    groups = sorted(set(keys))
    if len(groups) < 2:
        return clips, []
    n_eval = min(len(groups) - 1, max(1, round(len(groups) * eval_fraction)))
    ranked = sorted(groups, key=lambda g: hashlib.sha1(f"{seed}\0{g}".encode()).hexdigest())
    eval_groups = set(ranked[:n_eval])
    held_out = [k in eval_groups for k in keys]
    return ([c for c, h in zip(clips, held_out) if not h], [c for c, h in zip(clips, held_out) if h])
