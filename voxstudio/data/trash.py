"""The dataset's trash: delete moves a clip (row and WAV) aside, restore brings it back (stdlib + rowlog).

A mixin of :class:`voxstudio.data.dataset.Dataset` (it uses the dataset's lock, rows and paths). Crash-safe
order everywhere: a kill between two steps leaves a live clip or a restorable one, never a row pointing at a
missing WAV; every rename is followed by an fsync of the folders involved. Restore runs the same duplicate
check as add: a restored clip never makes two identical live clips.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from voxstudio import text as textrule
from voxstudio.atomicfile import fsync_dir
from voxstudio.data import rowlog
from voxstudio.data.clip import Clip, row_id

TRASH_DIR = "trash"
TRASH_ROWS = "trash.jsonl"
METADATA = "metadata.jsonl"


class Trash:
    """Delete, list and restore clips (mixed into ``Dataset``)."""

    @staticmethod
    def _refuse_duplicate(rows: list[dict], sha1: str | None, key: str, label: str) -> None:
        """THE duplicate rule (add and restore): same stored audio and same text key as a live clip."""
        for row in rows:
            if sha1 and row.get("sha1") == sha1 and textrule.key(str(row.get("text", ""))) == key:
                raise ValueError(f"'{label}' is a duplicate: the same recording with the same text is "
                                 f"already in the dataset (clip {row_id(row)}).")

    def delete(self, clip_id: str) -> None:
        """Move the clip's WAV and row to ``trash/`` (restorable with :meth:`restore`)."""
        trash = self.path / TRASH_DIR
        trash.mkdir(exist_ok=True)
        with self._locked():
            rows = self._rows()
            keep = [r for r in rows if row_id(r) != clip_id]
            if len(keep) == len(rows):
                raise KeyError(f"Clip '{clip_id}' is not in dataset '{self.name}' (already deleted?).")
            gone = [{**r, "deleted_at": round(time.time(), 3)} for r in rows if row_id(r) == clip_id]
            # Crash-safe order: a kill between steps leaves a live clip or a restorable one, never a row
            # pointing at a missing WAV (trashed/restore also look for the WAV in audio/).
            rowlog.append(trash / TRASH_ROWS, gone)  # 1. row safe in trash
            rowlog.rewrite(self.path / METADATA, keep)  # 2. gone from the live list
            wav = self.audio_path(clip_id)
            if wav.exists():
                os.replace(wav, trash / wav.name)  # 3. audio
                fsync_dir(trash)
                fsync_dir(wav.parent)

    def trashed(self) -> list[Clip]:
        """Deleted clips that can be restored (newest deletion last)."""
        live = {c.clip_id for c in self.clips()}
        seen: dict[str, Clip] = {}
        for row in rowlog.read_rows(self.path / TRASH_DIR / TRASH_ROWS):
            clip = Clip.from_row(row)
            if clip.clip_id not in live and self._trashed_wav(clip.clip_id) is not None:
                seen[clip.clip_id] = clip
        return list(seen.values())

    def _trashed_wav(self, clip_id: str) -> Path | None:
        for wav in (self.path / TRASH_DIR / f"{clip_id}.wav", self.audio_path(clip_id)):
            if wav.exists():
                return wav
        return None

    def restore(self, clip_id: str) -> Clip:
        trash = self.path / TRASH_DIR
        with self._locked():
            rows = rowlog.read_rows(trash / TRASH_ROWS)
            found = [r for r in rows if row_id(r) == clip_id]
            src = self._trashed_wav(clip_id)
            if not found or src is None:
                raise KeyError(f"Clip '{clip_id}' is not in the trash of dataset '{self.name}'.")
            row = {k: v for k, v in found[-1].items() if k != "deleted_at"}
            live = self._rows()
            if clip_id not in {row_id(r) for r in live}:
                self._refuse_duplicate(live, row.get("sha1"), textrule.key(str(row.get("text", ""))),
                                       f"Clip {clip_id}")
            dest = self.audio_path(clip_id)
            os.replace(src, dest)
            fsync_dir(dest.parent)
            fsync_dir(src.parent)
            if clip_id not in {row_id(r) for r in live}:
                rowlog.append(self.path / METADATA, [row])
            rowlog.rewrite(trash / TRASH_ROWS, [r for r in rows if row_id(r) != clip_id])
        return Clip.from_row(row)
