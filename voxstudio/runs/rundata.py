"""A run's data, frozen when the run is created: the exact clips it trains and evaluates on (stdlib only).

``queue.create_run`` calls :func:`freeze` before config.json is written. The clips ``training.selection``
picks for the run's settings are recorded in ``clips.json`` — for each clip its id, the sha1 of its WAV bytes,
text, language, speaker, duration, phrase id and split — and each WAV is hard-linked (copied when linking
fails, e.g. across filesystems) into the run's ``clips/`` folder. The dataset only ever replaces a WAV by
rename (never in place), so a link keeps the bytes the run was created with. From then on the trainer (first
start and resume), every evaluation, the Evaluate page, the model card, export and the run's dataset push read
this list and these files only: clips recorded, edited, re-recorded or deleted later change nothing about the
run. ``RunConfig.clip_list == ""`` (a run created before clip lists existed) reads the dataset as before.

``clips.json``::

    {"format": 1, "dataset": NAME, "dataset_version": ..., "frozen_at": ..., "languages": [...],
     "eval_fraction": ..., "seed": ..., "max_eval_utterances": ..., "note": "",
     "counts": {"train": n, "eval": n, "unused": n, "scored": n, "left_out": n},
     "clips": [{"clip_id", "sha1", "text", "language", "speaker", "duration_s", "phrase_id",
                "split": "train" | "eval" | "unused", "scored": bool, "file": "clips/<clip_id>.wav"}],
     "left_out": [{"clip_id", "code", "reason"}], "dataset_info": {...}}

``scored`` marks the clips WER is measured on (``Selection.held``: the held-out clips up to the eval cap, or
the first training clips when there is no held-out side). The list keeps the selection's order.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio.atomicfile import fsync_dir, write_atomic
from voxstudio.data.clip import Clip
from voxstudio.runs import runfolder
from voxstudio.training import selection
from voxstudio.training.selection import ClipRef

CLIP_LIST = "clips.json"  # the value create_run puts in RunConfig.clip_list
CLIPS_DIR = "clips"
FORMAT = 1
SIDES = ("train", "eval", "unused")
INFO_KEYS = ("name", "languages", "speakers", "consent", "licence")  # dataset.json facts kept with the list


@dataclass(frozen=True)
class FrozenClip:
    """One clip as the run saw it when it was created."""

    clip_id: str
    sha1: str  # of the WAV file's bytes
    text: str
    language: str
    speaker: str
    duration_s: float
    phrase_id: str | None
    split: str  # "train" | "eval" | "unused" (held out beyond the eval cap)
    scored: bool  # WER is measured on it
    file: str  # relative to the run folder

    def to_clip(self) -> Clip:
        """As a dataset ``Clip`` (for exporters and summaries; its ``file_name`` is the dataset layout's)."""
        return Clip(clip_id=self.clip_id, file_name=f"audio/{self.clip_id}.wav", text=self.text,
                    language=self.language, speaker=self.speaker, duration_s=self.duration_s,
                    phrase_id=self.phrase_id)


@dataclass(frozen=True)
class RunData:
    """A run's frozen clip list (``clips.json``) and where its WAV copies are."""

    folder: Path
    dataset: str
    clips: list[FrozenClip]
    note: str = ""
    left_out: list[dict] = field(default_factory=list)  # [{"clip_id", "code", "reason"}]
    dataset_info: dict = field(default_factory=dict)
    frozen_at: float = 0.0

    @property
    def train(self) -> list[FrozenClip]:
        return [c for c in self.clips if c.split == "train"]

    @property
    def held(self) -> list[FrozenClip]:
        """The scored clips, in order (``Selection.held``)."""
        return [c for c in self.clips if c.scored]

    @property
    def held_out(self) -> list[FrozenClip]:
        """The scored clips that were never trained on (empty when WER is measured on training clips)."""
        return [c for c in self.clips if c.scored and c.split == "eval"]

    @property
    def spare(self) -> list[FrozenClip]:
        return [c for c in self.clips if c.split == "unused"]

    def get(self, clip_id: str) -> FrozenClip | None:
        return next((c for c in self.clips if c.clip_id == clip_id), None)

    def path(self, clip: FrozenClip) -> Path:
        return self.folder / clip.file

    def refs(self, clips: Iterable[FrozenClip]) -> list[ClipRef]:
        """``ClipRef`` of ``clips``, pointing at the run folder's own WAV copies."""
        return [ClipRef(c.clip_id, str(self.path(c)), c.text, c.language) for c in clips]

    def problems(self) -> list[str]:
        """Clips whose WAV copy is missing or no longer has the bytes the run was created with."""
        out = []
        for c in self.clips:
            path = self.path(c)
            if not path.is_file():
                out.append(f"{c.clip_id} (missing)")
            elif _sha1(path) != c.sha1:
                out.append(f"{c.clip_id} (changed)")
        return out


# ---- writing ---------------------------------------------------------------------------------------

def freeze(folder: str | os.PathLike, cfg, ds=None) -> RunData:
    """Record the clips run ``cfg`` (a ``RunConfig``) uses into ``folder``: WAV links/copies in ``clips/``,
    then ``clips.json`` atomically. ValueError with a sentence: no such dataset, too few usable clips."""
    folder = Path(folder)
    if ds is None:
        from voxstudio.data.dataset import Dataset

        try:
            ds = Dataset.open(cfg.dataset)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
    sel = selection.select_run(cfg, ds)
    sides = sel.sides()
    scored = {c.clip_id for c in sel.held}
    ordered = list({c.clip_id: c for c in [*sel.train, *sel.held, *sel.spare]}.values())
    audio = folder / CLIPS_DIR
    audio.mkdir(parents=True, exist_ok=True)
    records = []
    for c in ordered:
        dest = audio / f"{c.clip_id}.wav"
        _link_or_copy(ds.audio_path(c), dest, c.clip_id)
        records.append({
            "clip_id": c.clip_id, "sha1": _sha1(dest), "text": c.text, "language": c.language,
            "speaker": getattr(c, "speaker", "") or "", "duration_s": float(getattr(c, "duration_s", 0.0) or 0.0),
            "phrase_id": getattr(c, "phrase_id", None), "split": sides.get(c.clip_id, "train"),
            "scored": c.clip_id in scored, "file": f"{CLIPS_DIR}/{c.clip_id}.wav",
        })
    fsync_dir(audio)
    left = [{"clip_id": c.clip_id, "code": code, "reason": _reason(code)} for c, code in getattr(sel, "left_out", [])]
    counts = {side: sum(r["split"] == side for r in records) for side in SIDES}
    info = ds.info
    doc = {
        "format": FORMAT, "dataset": ds.name, "dataset_version": ds.version(), "frozen_at": round(time.time(), 3),
        "languages": list(cfg.languages), "eval_fraction": cfg.eval_fraction, "seed": cfg.seed,
        "max_eval_utterances": cfg.max_eval_utterances, "note": sel.note,
        "counts": {**counts, "scored": len(scored), "left_out": len(left)},
        "clips": records, "left_out": left, "dataset_info": {k: info[k] for k in INFO_KEYS if k in info},
    }
    runfolder.write_json_atomic(folder / CLIP_LIST, doc)
    return _from_doc(folder, doc)


def _link_or_copy(src: Path, dest: Path, clip_id: str) -> None:
    if dest.exists():
        dest.unlink()
    try:
        os.link(src, dest)
        return
    except FileNotFoundError:
        raise ValueError(f"Clip {clip_id} was deleted while the run was being created; start the run again.") from None
    except OSError:  # another filesystem, or links not allowed: a copy keeps the bytes just as well
        pass
    try:
        data = Path(src).read_bytes()
    except FileNotFoundError:
        raise ValueError(f"Clip {clip_id} was deleted while the run was being created; start the run again.") from None
    write_atomic(dest, data)


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _reason(code: str) -> str:
    """Why the clean-take rule left a clip out (``data.quality.UNUSABLE``)."""
    from voxstudio.data import quality

    return str(getattr(quality, "UNUSABLE", {}).get(code) or code)


# ---- reading ---------------------------------------------------------------------------------------

def list_name(cfg) -> str:
    """The clip list a config (``RunConfig`` or its dict) names; "" for a run made before clip lists."""
    value = cfg.get("clip_list", "") if isinstance(cfg, dict) else getattr(cfg, "clip_list", "")
    return str(value or "")


def load(folder: str | os.PathLike, cfg=None) -> RunData | None:
    """The run's frozen clips; None for a legacy run (its config names no clip list). ``cfg`` defaults to the
    folder's config.json. ValueError when the config names a list that is missing or unreadable."""
    folder = Path(folder)
    if cfg is None:
        cfg = runfolder.read_json(folder / runfolder.CONFIG, {}) or {}
    name = list_name(cfg)
    if not name:
        return None
    doc = runfolder.read_json(folder / name)
    if not isinstance(doc, dict) or not isinstance(doc.get("clips"), list):
        raise ValueError(f"Run '{folder.name}' has no readable clip list ({name}); its data cannot be trusted.")
    return _from_doc(folder, doc)


def try_load(folder: str | os.PathLike, cfg=None) -> RunData | None:
    """``load``, with None also for an unreadable list (readers that fall back, e.g. a card's facts)."""
    try:
        return load(folder, cfg)
    except ValueError:
        return None


def _from_doc(folder: Path, doc: dict) -> RunData:
    clips = [FrozenClip(clip_id=r["clip_id"], sha1=r.get("sha1", ""), text=r.get("text", ""),
                        language=r.get("language", ""), speaker=r.get("speaker", "") or "",
                        duration_s=float(r.get("duration_s") or 0.0), phrase_id=r.get("phrase_id"),
                        split=r.get("split", "train"), scored=bool(r.get("scored")),
                        file=r.get("file") or f"{CLIPS_DIR}/{r['clip_id']}.wav") for r in doc["clips"]]
    return RunData(folder=folder, dataset=doc.get("dataset", ""), clips=clips, note=doc.get("note", ""),
                   left_out=list(doc.get("left_out") or []), dataset_info=dict(doc.get("dataset_info") or {}),
                   frozen_at=float(doc.get("frozen_at") or 0.0))


def select_clips(cfg, run_dir: str | os.PathLike) -> tuple[list[ClipRef], list[ClipRef], str]:
    """(train, eval, note) as ``ClipRef``, like ``selection.select_clips(cfg)``: from the run's frozen list
    (refs point at the run's own WAV copies, checked against their sha1), or from the dataset for a legacy run."""
    data = load(run_dir, cfg)
    if data is None:
        return selection.select_clips(cfg)
    bad = data.problems()
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(f"Run '{Path(run_dir).name}': clip files in {CLIPS_DIR}/ are not the ones it was created "
                         f"with: {', '.join(bad[:5])}{more}. Start a new run.")
    return data.refs(data.train), data.refs(data.held), data.note

