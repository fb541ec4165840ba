"""The on-disk dataset: ``$VOXSTUDIO_HOME/datasets/<name>/`` (layout in docs/ARCHITECTURE.md).

Durability rules, because a take a user recorded must never be lost:

* a clip's WAV is written atomically *before* its metadata row, so every row points at a complete file
  (a crash in between leaves an orphan WAV, which is ignored);
* rows are appended under an exclusive ``fcntl`` lock with flush + fsync (two browser tabs may record at once);
* edits rewrite ``metadata.jsonl`` atomically (temp + fsync + rename) under the same lock;
* a torn last line (process killed mid-append) is skipped on read and repaired by the next write;
* delete moves the WAV and its row into ``trash/``, from where :meth:`Dataset.restore` brings them back.

Stdlib + numpy + audio only, so the UI imports it without the training stack.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from voxstudio import atomicfile, workspace
from voxstudio import languages as language_codes
from voxstudio import text as textrule
from voxstudio.data import analysis, audio, consent, quality, rowlog, summary
from voxstudio.data.clip import Clip, new_clip_id, row_id
from voxstudio.data.trash import Trash

INFO = "dataset.json"
METADATA = "metadata.jsonl"
PHRASES = "phrases.jsonl"
AUDIO_DIR = "audio"
ORIGINALS_DIR = "originals"  # untrimmed takes (add_take with trim_margin_s), kept while the dataset lives
MIN_TRIM_S = 0.1  # trimming less than this keeps the take whole (no original to keep)
LOCK = ".lock"
DEFAULT_LICENCE = "cc-by-4.0"
MAX_TEXT_CHARS = 2000
EDITABLE = ("text", "language", "speaker", "phrase_id", "source", "reviewed")  # reviewed: see mark_fine


def list_datasets() -> list[str]:
    """Names of the datasets under the data home, sorted."""
    root = workspace.datasets_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / INFO).is_file()
                  and workspace.is_slug(p.name))


def _clean_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("The transcript is empty: type exactly what is said in the clip.")
    text = textrule.clean(text)
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"The transcript is {len(text)} characters long; keep it under {MAX_TEXT_CHARS}.")
    return text


def _check_language(language) -> str:
    """The canonical spelling of a valid code (``pt_BR`` → ``pt-br``); a ValueError with a sentence otherwise."""
    return language_codes.canonical(language)


def _clip_of(row: dict) -> Clip | None:
    return Clip.from_row(row) if row.get("file_name") else None


def _json(data: dict) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


class Dataset(Trash):
    """A dataset folder. Cheap to construct; every read goes to disk so several processes stay consistent."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.name

    # ------------------------------------------------------------------ create / open / info
    @classmethod
    def create(cls, name: str, languages: Iterable[str] = (), speaker: str = "", consent: dict | None = None,
               licence: str = DEFAULT_LICENCE) -> Dataset:
        """Make a new, empty dataset; refuses unsafe names and existing datasets."""
        workspace.check_slug(name, "Dataset name")
        target = workspace.datasets_dir() / name
        if target.exists():
            raise FileExistsError(f"A dataset named '{name}' already exists: open it or choose another name.")
        info = {"name": name, "languages": [_check_language(x) for x in languages],
                "speakers": [speaker.strip()] if speaker and speaker.strip() else [],
                "consent": consent or {}, "licence": licence, "created_at": time.time()}
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
        try:
            tmp.chmod(0o755)
            (tmp / AUDIO_DIR).mkdir()
            (tmp / METADATA).touch()
            atomicfile.write_atomic(tmp / INFO, _json(info))
            os.rename(tmp, target)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if target.exists():
                raise FileExistsError(f"A dataset named '{name}' already exists: open it or choose another "
                                      "name.") from e
            raise
        return cls(target)

    @classmethod
    def open(cls, name: str) -> Dataset:
        workspace.check_slug(name, "Dataset name")
        path = workspace.datasets_dir() / name
        if not (path / INFO).is_file():
            raise FileNotFoundError(f"There is no dataset named '{name}' in {path.parent}. "
                                    "Create it on the Language page or import one.")
        return cls(path)

    @property
    def info(self) -> dict:
        try:
            return json.loads((self.path / INFO).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"name": self.name, "languages": [], "speakers": [], "consent": {}, "licence": DEFAULT_LICENCE}

    def update_info(self, **kw) -> dict:
        """Merge fields into dataset.json (``name`` and ``created_at`` are fixed)."""
        for key in ("name", "created_at"):
            if key in kw:
                raise ValueError(f"'{key}' of a dataset cannot be changed.")
        if "languages" in kw:
            kw["languages"] = [_check_language(x) for x in kw["languages"]]
        with self._locked():
            info = self.info
            info.update(kw)
            atomicfile.write_atomic(self.path / INFO, _json(info))
        return info

    def consent_to_publish(self, speaker: str, *, public: bool) -> dict:
        """Store the speaker's consent to PUBLISH the recordings (``data.consent``: who, statement, visibility)."""
        return self.update_info(**{consent.KEY: consent.record(self.name, speaker, public=public)})[consent.KEY]

    def merge_speaker_and_language(self, speaker: str, language: str, consent: dict | None = None) -> dict:
        """Note in dataset.json that ``speaker`` now reads ``language`` here; one locked read-modify-write.

        The speaker moves to the front of ``speakers`` (the first one is who new takes are credited to), the
        language is appended to ``languages`` when new (existing order kept), an empty speaker changes no
        speaker, and ``consent`` (when given) replaces the stored consent record.
        """
        language = _check_language(language)
        speaker = (speaker or "").strip()
        with self._locked():
            info = self.info
            info["languages"] = list(dict.fromkeys([*(info.get("languages") or []), language]))
            info["speakers"] = list(dict.fromkeys(s for s in [speaker, *(info.get("speakers") or [])] if s))
            if consent is not None:
                info["consent"] = consent
            atomicfile.write_atomic(self.path / INFO, _json(info))
        return info

    # ------------------------------------------------------------------ reading
    def clips(self) -> list[Clip]:
        """Live clips in the order they were added."""
        return [c for c in rowlog.snapshot(self.path / METADATA).mapped(_clip_of) if c is not None]

    def get(self, clip_id: str) -> Clip:
        for clip in self.clips():
            if clip.clip_id == clip_id:
                return clip
        raise KeyError(f"Clip '{clip_id}' is not in dataset '{self.name}' (deleted or never saved).")

    def audio_path(self, clip: Clip | str) -> Path:
        clip_id = clip.clip_id if isinstance(clip, Clip) else workspace.check_slug(str(clip), "Clip id")
        return self.path / AUDIO_DIR / f"{clip_id}.wav"

    def audio_bytes(self, clip: Clip | str) -> bytes:
        """The saved WAV bytes of a clip (for playback and downloads)."""
        return self.audio_path(clip).read_bytes()

    def version(self) -> str:
        """Hash of the complete metadata rows: changes whenever a clip is added, edited or deleted."""
        return rowlog.snapshot(self.path / METADATA).version

    # ------------------------------------------------------------------ writing
    def _locked(self):
        return atomicfile.locked(self.path / LOCK)

    def _rows(self) -> list[dict]:
        return rowlog.snapshot(self.path / METADATA).rows

    def add_clip(self, audio_in, text: str, *, language: str, speaker: str | None = None,
                 phrase_id: str | None = None, source: str = "record", name: str | None = None,
                 original: np.ndarray | None = None, trim: dict | None = None) -> Clip:
        """Validate, store and index one clip; raises with a human sentence and leaves nothing behind.

        ``audio_in``: a path, the file's bytes, or float32 16 kHz mono samples. ``name`` is the user's file
        name (messages only). Duplicate = same stored audio and same normalised text as a live clip.
        ``original`` (16 kHz samples) is the untrimmed take ``audio_in`` was cut from: it is kept as
        ``originals/<clip_id>.wav`` (written before the row, like the clip's WAV) and ``trim`` says what was cut.
        """
        text = _clean_text(text)
        language = _check_language(language)
        if not self.path.is_dir():
            raise FileNotFoundError(f"Dataset '{self.name}' no longer exists at {self.path}.")
        samples = audio.load_audio(audio_in, name=name)
        label = name or (Path(audio_in).name if isinstance(audio_in, str | Path) else "The recording")
        if analysis.is_digital_silence(samples):
            raise audio.AudioError(f"'{label}' is completely silent (no signal at all): check that the "
                                   "microphone is connected and not muted, then record again.")
        pcm = audio.to_pcm16(samples)
        sha1 = hashlib.sha1(pcm.tobytes()).hexdigest()
        stats = analysis.analyze(pcm.astype(np.float32) / 32768.0, audio.SAMPLE_RATE)
        flags = [f.to_dict() for f in quality.check(stats, text, language)]
        info = self.info
        speaker = (speaker if speaker is not None else (info.get("speakers") or [""])[0]).strip()
        clip_id = new_clip_id()
        clip = Clip(clip_id=clip_id, file_name=f"{AUDIO_DIR}/{clip_id}.wav", text=text, language=language,
                    speaker=speaker, duration_s=round(stats.duration_s, 3), phrase_id=phrase_id,
                    source=source, flags=flags, created_at=round(time.time(), 3), sha1=sha1,
                    original_name=Path(name).name.strip() or None if name else None, stats=stats.to_dict(),
                    trim={**trim, "original": f"{ORIGINALS_DIR}/{clip_id}.wav"} if original is not None else {})
        key = textrule.key(text)
        with self._locked():
            rows = self._rows()
            self._refuse_duplicate(rows, sha1, key, label)
            if clip.trim:  # the untrimmed take may be a live clip already (the same file recorded again)
                self._refuse_duplicate(rows, clip.trim.get("original_sha1"), key, label)
            wav = self.audio_path(clip)
            kept = self.path / clip.trim["original"] if clip.trim else None
            try:
                audio.write_wav(wav, pcm)
                if kept is not None:
                    audio.write_wav(kept, original)
                rowlog.append(self.path / METADATA, [clip.to_row()])  # takes back a half-written row itself
            except BaseException as exc:  # not saved: nothing of it stays (a WAV without a row is an orphan)
                for path in (p for p in (wav, kept) if p is not None):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                if workspace.is_disk_full(exc) and not isinstance(exc, workspace.DiskFullError):
                    raise workspace.disk_full(self.path) from None
                raise
            with contextlib.suppress(OSError):  # the clip IS saved; the languages/speakers list can catch up later
                self._remember(info, language, speaker)
        return clip

    def _remember(self, info: dict, language: str, speaker: str) -> None:
        """Add a new language/speaker to dataset.json (lock held)."""
        langs, speakers = list(info.get("languages") or []), list(info.get("speakers") or [])
        if language in langs and (not speaker or speaker in speakers):
            return
        info = self.info
        info["languages"] = sorted(set(info.get("languages") or []) | {language})
        if speaker and speaker not in (info.get("speakers") or []):
            info["speakers"] = [*(info.get("speakers") or []), speaker]
        atomicfile.write_atomic(self.path / INFO, _json(info))

    def add_take(self, audio_in, phrase: dict, *, speaker: str | None = None, name: str | None = None,
                 source: str = "record", trim_margin_s: float | None = None) -> tuple[Clip, list[str]]:
        """Save a new take of ``phrase`` (a row of :meth:`phrases`); it replaces the phrase's earlier takes.

        Save first, replace second: when the new take is refused (unreadable, silent, a duplicate…) the error
        propagates and the earlier takes stay live. Then every other live take of the phrase moves to the trash
        (restorable). The language is the phrase's, else the dataset's first. Returns the new clip and the ids
        of the takes it replaced. With ``trim_margin_s`` the silence before and after the speech is cut, keeping
        that margin (``analysis.trim_bounds``); when at least ``MIN_TRIM_S`` goes, the untrimmed take is kept
        (:meth:`original_path`) and the clip's ``trim`` says how much was cut.
        """
        phrase_id = phrase.get("phrase_id")
        if not phrase_id:
            raise ValueError("A take belongs to a phrase: this phrase has no phrase_id.")
        language = phrase.get("language") or next(iter(self.info.get("languages") or []), None)
        original, trim = None, None
        if trim_margin_s is not None:
            samples = audio.load_audio(audio_in, name=name)
            start, end = analysis.trim_bounds(samples, audio.SAMPLE_RATE, trim_margin_s)
            shortest = int((quality.THRESHOLDS["min_duration_s"] + 0.05) * audio.SAMPLE_RATE)
            if end - start < shortest:  # never trim a take into a "too short" one: widen after, then before
                end = min(samples.size, start + shortest)
                start = max(0, end - shortest)
            if samples.size - (end - start) >= MIN_TRIM_S * audio.SAMPLE_RATE:
                original, audio_in = samples, samples[start:end]
                trim = {"lead_s": round(start / audio.SAMPLE_RATE, 3),
                        "trail_s": round((samples.size - end) / audio.SAMPLE_RATE, 3),
                        "original_duration_s": round(samples.size / audio.SAMPLE_RATE, 3),
                        "original_sha1": hashlib.sha1(audio.to_pcm16(samples).tobytes()).hexdigest()}
        clip = self.add_clip(audio_in, phrase.get("text", ""), language=language, speaker=speaker,
                             phrase_id=phrase_id, source=source, name=name, original=original, trim=trim)
        replaced = []
        for old in self.clips():
            if old.phrase_id == phrase_id and old.clip_id != clip.clip_id:
                with contextlib.suppress(KeyError):  # another tab trashed it a moment ago: nothing to do
                    self.delete(old.clip_id)
                    replaced.append(old.clip_id)
        return clip, replaced

    def original_path(self, clip: Clip | str) -> Path | None:
        """The untrimmed take a trimmed clip was cut from (``originals/<clip_id>.wav``), or None."""
        clip = self.get(clip) if isinstance(clip, str) else clip
        path = self.path / clip.trim["original"] if clip.trim.get("original") else None
        return path if path is not None and path.is_file() else None

    def update_clip(self, clip_id: str, **changes) -> Clip:
        """Edit text/language/speaker/phrase_id/source; flags are recomputed. Atomic rewrite under the lock."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"Cannot edit {', '.join(sorted(unknown))}; editable fields: {', '.join(EDITABLE)}.")
        if "text" in changes:
            changes["text"] = _clean_text(changes["text"])
        if "language" in changes:
            changes["language"] = _check_language(changes["language"])
        if changes.get("reviewed", "") not in ("", quality.KEEP):
            raise ValueError(f"reviewed is '{quality.KEEP}' (marked fine) or empty, not {changes['reviewed']!r}.")
        with self._locked():
            rows = self._rows()
            i = next((n for n, r in enumerate(rows) if row_id(r) == clip_id), None)
            if i is None:
                raise KeyError(f"Clip '{clip_id}' is not in dataset '{self.name}' (deleted or never saved).")
            row = {k: v for k, v in {**rows[i], **changes}.items() if k != "reviewed" or v}  # unmarked: no key
            clip = Clip.from_row(row)
            stats = self._stats_of(clip)
            if stats is not None:
                clip = replace(clip, flags=[f.to_dict() for f in quality.check(stats, clip.text, clip.language)])
            rows[i] = {**row, **clip.to_row()}
            rowlog.rewrite(self.path / METADATA, rows)
        return clip

    def mark_fine(self, clip_id: str, fine: bool = True) -> Clip:
        """Keep a flagged clip for training (``reviewed: "keep"``, see ``quality.unusable``); ``fine=False`` undoes it.
        Text edits keep the mark (the flags that leave a clip out are about its audio); a new take is judged afresh."""
        return self.update_clip(clip_id, reviewed=quality.KEEP if fine else "")

    def _stats_of(self, clip: Clip) -> analysis.AudioStats | None:
        if clip.stats:
            with contextlib.suppress(TypeError):
                return analysis.AudioStats(**clip.stats)
        with contextlib.suppress(audio.AudioError):
            return analysis.analyze(audio.load_audio(self.audio_path(clip)), audio.SAMPLE_RATE)
        return None

    # ------------------------------------------------------------------ phrases
    def set_phrases(self, phrases: Iterable) -> list[dict]:
        """Replace the phrase list.

        Items are ``Phrase`` objects, strings, or dicts with ``text`` and optional ``phrase_id``, ``language``,
        ``source``.
        """
        default_lang = (self.info.get("languages") or [""])[0]
        out, seen = [], set()
        for p in phrases:
            if hasattr(p, "to_dict"):
                p = p.to_dict()
            p = {"text": p} if isinstance(p, str) else dict(p)
            text = textrule.clean(str(p.get("text", "")))
            if not text:
                continue
            lang = p.get("language") or default_lang
            pid = str(p.get("phrase_id") or f"{lang or 'xx'}-{hashlib.sha1(text.encode()).hexdigest()[:10]}")
            if pid in seen:
                continue
            seen.add(pid)
            out.append({"phrase_id": pid, "text": text, "language": lang, "source": p.get("source", "custom")})
        with self._locked():
            rowlog.rewrite(self.path / PHRASES, out)
        return out

    def phrases(self) -> list[dict]:
        return rowlog.read_rows(self.path / PHRASES)

    def recorded_phrase_ids(self) -> set[str]:
        return {c.phrase_id for c in self.clips() if c.phrase_id}

    # ------------------------------------------------------------------ summaries
    def stats(self) -> dict:
        """Totals for Home/Review/CLI: clips, minutes, per language and speaker, flagged clips and flag codes."""
        return summary.totals(self.name, self.clips())

    def split(self, seed: int = 0, eval_fraction: float = 0.1) -> tuple[list[Clip], list[Clip]]:
        """Deterministic train/eval split by phrase (same phrase never on both sides); see ``dataset_stats``."""
        return summary.split_clips(self.clips(), seed, eval_fraction)
