"""``voxstudio dataset check NAME [--repair]``: find and fix what kills and full disks can leave (like git fsck).

Checked under the dataset lock (no add or edit is half-way while we look):

- ``orphan_audio``: a WAV in ``audio/`` without a live row (a take killed before its row was written: it was
  never reported saved) — repair removes it;
- ``missing_audio``: a live row whose WAV is gone — repair brings the WAV back from ``trash/`` if it is there,
  else moves the row to the trash list (marked ``missing_audio``) so training never meets it;
- ``temp_leftover``: temp files of interrupted atomic writes (``.*.tmp``) — repair removes them;
- ``duplicate_row``: the same clip id twice in ``metadata.jsonl`` — repair keeps the last;
- ``trash_without_audio``: a trash row whose WAV is nowhere — repair drops the row;
- ``stuck_rewrite``: a rewrite counter left odd by a kill (readers then skip their cache) — repair settles it.

``SAFE`` repairs are run by the studio whenever it opens a dataset; all of them with ``--repair``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from voxstudio.atomicfile import fsync_dir
from voxstudio.data import rowlog
from voxstudio.data.clip import row_id
from voxstudio.data.trash import METADATA, TRASH_DIR, TRASH_ROWS

KINDS = ("orphan_audio", "missing_audio", "temp_leftover", "duplicate_row", "trash_without_audio", "stuck_rewrite")
SAFE = ("orphan_audio", "temp_leftover", "duplicate_row", "trash_without_audio", "stuck_rewrite")
SENTENCES = {
    "orphan_audio": "audio file without a row (a take interrupted before it was saved)",
    "missing_audio": "row whose audio file is missing",
    "temp_leftover": "temporary file left by an interrupted write",
    "duplicate_row": "the same clip listed twice",
    "trash_without_audio": "trash entry whose audio file is gone",
    "stuck_rewrite": "rewrite counter left half-way by an interrupted edit",
}


@dataclass
class Problem:
    kind: str
    item: str  # a clip id or a file name

    def sentence(self) -> str:
        return f"{self.item}: {SENTENCES[self.kind]}"


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not [p for p in self.problems if p not in self.repaired]

    def to_dict(self) -> dict:
        return {"ok": self.ok,
                "problems": [{"kind": p.kind, "item": p.item, "repaired": p in self.repaired} for p in self.problems]}


def _find(ds) -> tuple[list[Problem], list[dict], list[dict]]:
    """Problems, the live rows and the trash rows (lock held)."""
    live_rows = rowlog.read_rows(ds.path / METADATA)
    trash_rows = rowlog.read_rows(ds.path / TRASH_DIR / TRASH_ROWS)
    problems: list[Problem] = []
    seen: set[str] = set()
    for row in live_rows:
        cid = row_id(row)
        if cid in seen:
            problems.append(Problem("duplicate_row", cid))
        seen.add(cid)
        if not ds.audio_path(cid).is_file():
            problems.append(Problem("missing_audio", cid))
    audio_dir = ds.path / "audio"
    for wav in sorted(audio_dir.glob("*.wav")) if audio_dir.is_dir() else []:
        if wav.stem not in seen:
            problems.append(Problem("orphan_audio", wav.name))
    for tmp in sorted(ds.path.rglob(".*.tmp")):
        problems.append(Problem("temp_leftover", str(tmp.relative_to(ds.path))))
    for row in trash_rows:
        cid = row_id(row)
        if row.get("missing_audio"):  # the record of a clip whose audio was lost: kept on purpose
            continue
        if cid not in seen and not (ds.path / TRASH_DIR / f"{cid}.wav").is_file() and not ds.audio_path(cid).is_file():
            problems.append(Problem("trash_without_audio", cid))
    for name in (METADATA, f"{TRASH_DIR}/{TRASH_ROWS}"):
        if rowlog.generation(ds.path / name) % 2:
            problems.append(Problem("stuck_rewrite", name))
    return problems, live_rows, trash_rows


def check(ds, repair: bool = False, kinds: tuple[str, ...] = KINDS) -> CheckReport:
    """What is wrong with dataset ``ds``; with ``repair``, fix the problems of ``kinds`` (lock held throughout)."""
    with ds._locked():
        problems, live_rows, trash_rows = _find(ds)
        report = CheckReport(problems)
        if repair:
            _repair(ds, [p for p in problems if p.kind in kinds], live_rows, trash_rows, report)
    return report


def _repair(ds, todo: list[Problem], live_rows, trash_rows, report: CheckReport) -> None:
    by_kind: dict[str, list[Problem]] = {}
    for p in todo:
        by_kind.setdefault(p.kind, []).append(p)
    trash = ds.path / TRASH_DIR
    for p in by_kind.get("temp_leftover", []) + by_kind.get("orphan_audio", []):
        path = ds.path / p.item if p.kind == "temp_leftover" else ds.path / "audio" / p.item
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
        report.repaired.append(p)
    missing = {p.item for p in by_kind.get("missing_audio", [])}
    dup = {p.item for p in by_kind.get("duplicate_row", [])}
    if missing or dup:
        lost, keep, kept = [], [], set()
        for row in reversed(live_rows):  # the last copy of a duplicated row wins
            cid = row_id(row)
            if cid in kept:
                continue
            kept.add(cid)
            if cid in missing and (trash / f"{cid}.wav").is_file():
                os.replace(trash / f"{cid}.wav", ds.audio_path(cid))  # the WAV was moved, the row not yet
                fsync_dir(trash)
                fsync_dir(ds.audio_path(cid).parent)
            elif cid in missing:
                lost.append({**row, "deleted_at": round(time.time(), 3), "missing_audio": True})
                continue
            keep.append(row)
        if lost:
            trash.mkdir(exist_ok=True)
            rowlog.append(trash / TRASH_ROWS, lost)
        rowlog.rewrite(ds.path / METADATA, list(reversed(keep)))
        report.repaired += [p for p in todo if p.kind in ("missing_audio", "duplicate_row")]
    gone = {p.item for p in by_kind.get("trash_without_audio", [])}
    if gone:
        rows = rowlog.read_rows(trash / TRASH_ROWS)  # as on disk now (lost rows may have just been added)
        rowlog.rewrite(trash / TRASH_ROWS, [r for r in rows if row_id(r) not in gone or r.get("missing_audio")])
        report.repaired += by_kind["trash_without_audio"]
    for p in by_kind.get("stuck_rewrite", []):
        rowlog.settle_generation(ds.path / p.item)
        report.repaired.append(p)


def safe_repair(ds) -> CheckReport:
    """The repairs that can never lose a saved clip; the studio runs them when it opens a dataset."""
    return check(ds, repair=True, kinds=SAFE)


def describe(report: CheckReport) -> list[str]:
    return [p.sentence() + (" — repaired" if p in report.repaired else "") for p in report.problems]

