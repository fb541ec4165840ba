"""One clip of a dataset: its row in ``metadata.jsonl`` (AudioFolder columns) plus ``clip_id``.

Kept apart from :mod:`voxstudio.data.dataset` (which stores and edits clips) so readers such as the exporters
and the Review table see the shape of a clip without the storage rules. Stdlib only.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from voxstudio.languages import tidy


def row_id(row: dict) -> str:
    """The clip id of a metadata/trash row (its file name's stem: ``audio/<clip_id>.wav``)."""
    return Path(str(row.get("file_name", ""))).stem


def new_clip_id() -> str:
    """A new clip's id: sortable by creation time (UTC, ms) with a random suffix; never derived from user input."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime(now / 1e9))
    return f"{stamp}{now // 1_000_000 % 1000:03d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Clip:
    """One live clip: its metadata row (AudioFolder columns) plus ``clip_id`` (the WAV's stem).

    Frozen because clips are shared between reads; change one with ``Dataset.update_clip``.
    """

    clip_id: str
    file_name: str
    text: str
    language: str
    speaker: str = ""
    duration_s: float = 0.0
    phrase_id: str | None = None
    source: str = "record"
    flags: list[dict] = field(default_factory=list)
    created_at: float = 0.0
    sha1: str = ""  # hash of the stored PCM: duplicate detection
    original_name: str | None = None  # the user's file name, informative only (never used as a path)
    stats: dict = field(default_factory=dict)  # analysis.AudioStats.to_dict()
    # "keep" (quality.KEEP) when the user listened on the Review page and keeps a flagged clip for training;
    # "" otherwise (then absent from the row). Set with Dataset.mark_fine.
    reviewed: str = ""
    # A take trimmed on save (Dataset.add_take(trim_margin_s=...)): {"original": "originals/<clip_id>.wav",
    # "lead_s", "trail_s", "original_duration_s"}; {} (absent from the row) when nothing was cut.
    trim: dict = field(default_factory=dict)

    def to_row(self) -> dict:
        row = asdict(self)
        row.pop("clip_id")
        for optional in ("reviewed", "trim"):
            if not row[optional]:
                row.pop(optional)
        return row

    @classmethod
    def from_row(cls, row: dict) -> Clip:
        data = {k: v for k, v in row.items() if k in _CLIP_FIELDS}
        data["flags"] = [dict(f) for f in data.get("flags") or []]  # callers may edit their copy
        data["stats"] = dict(data.get("stats") or {})
        data["trim"] = dict(data.get("trim") or {})
        data["reviewed"] = str(data.get("reviewed") or "")
        if "language" in data:  # rows written before codes had one spelling: pt_BR / pt-BR read as pt-br
            data["language"] = tidy(data["language"])
        data.setdefault("clip_id", Path(str(row.get("file_name", ""))).stem)
        return cls(**data)

    @property
    def flag_codes(self) -> list[str]:
        return [f.get("code", "") for f in self.flags]


_CLIP_FIELDS = frozenset(f.name for f in fields(Clip))
