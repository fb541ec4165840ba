"""Did you read the prompt? Each saved take is transcribed in the background and flagged when what the model heard
is too far from the phrase ("you said … — re-record?").

Which model (:func:`setting`): ``VOXSTUDIO_PROMPT_CHECK_MODEL`` when set (a Hub id, a folder, ``tiny`` for pipeline
tests, or ``off``); otherwise the default base model, but only on a machine with a GPU that already has it in the
Hugging Face cache. Anywhere else the check is off, and the Record page says so (a 3B model on a CPU would take
longer per take than the take itself).

How: one daemon thread per process and model (:func:`checker`) with a queue; the thread imports
``voxstudio.inference`` (torch) the first time it has work, so importing this module — and the pages — stays
torch-free. The verdict is the CER between the prompt and the transcript (``training.scoring``, the normaliser of
every other score) against a per-language limit (:func:`limit`); results are appended to the dataset's
``prompt_checks.jsonl`` (one row per clip: clip_id, phrase_id, heard, cer, limit, flagged, model) so they outlive
the page, and the Record page's phrase list marks a flagged take ⚠.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from voxstudio import languages, models
from voxstudio.data import rowlog

ENV = "VOXSTUDIO_PROMPT_CHECK_MODEL"
CHECKS_FILE = "prompt_checks.jsonl"
# CER above which a take is flagged. A wrong sentence scores 0.6–1.0; a right one read to the base model
# 0.02–0.15 in the languages Voxtral transcribes, more elsewhere (it still hears the words, spelled off).
CER_LIMIT = 0.4
CER_LIMIT_OTHER = 0.6  # languages outside Voxtral's transcription list (languages.TRANSCRIPTION_LANGUAGES)


def limit(language: str | None) -> float:
    """The CER limit for takes in ``language``."""
    code = languages.base_code(language) if language else ""
    return CER_LIMIT if code in languages.TRANSCRIPTION_LANGUAGES else CER_LIMIT_OTHER


@dataclass(frozen=True)
class Setting:
    """Which model checks takes (``model`` None: the check is off, and ``reason`` says why)."""

    model: str | None
    reason: str


def setting() -> Setting:
    """The prompt check's model on this machine, or why the check is off (see the module docstring)."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() in ("off", "0", "no", "false"):
        return Setting(None, f"The check that you read the prompt is off ({ENV}={chosen}).")
    if chosen:
        return Setting(chosen, f"Each take is transcribed by {chosen} to check you read the prompt.")
    from voxstudio.runs import hardware, preflight

    if not hardware.detect().gpus:
        return Setting(None, "The check that you read the prompt is off: it needs a GPU, and this machine has "
                             "none (listen to each take instead).")
    base = models.DEFAULT_BASE_MODEL
    try:
        cached = preflight.in_hub_cache(base)
    except Exception:  # noqa: BLE001 - no hub library or a broken cache: simply off
        cached = False
    if not cached:
        return Setting(None, f"The check that you read the prompt is off: {base} is not downloaded yet "
                             f"(`hf download {base}`, or set {ENV}).")
    return Setting(base, f"Each take is transcribed by {base} on the GPU to check you read the prompt.")


def judge(prompt: str, heard: str, language: str | None) -> dict:
    """The verdict on one take: CER of ``heard`` against ``prompt``, the limit, flagged, and the sentence."""
    from voxstudio.training import scoring

    cer = round(scoring.cer(prompt, heard, languages.base_code(language) if language else None), 3)
    lim = limit(language)
    flagged = cer > lim
    return {"heard": heard, "cer": cer, "limit": lim, "flagged": flagged,
            "message": (f"You said “{heard.strip() or '…'}” — that is not the phrase (CER {cer:.0%}). Re-record?"
                        if flagged else "")}


def results(dataset_path: Path) -> dict[str, dict]:
    """clip_id → the latest check of that clip in this dataset."""
    return {row["clip_id"]: row for row in rowlog.read_rows(Path(dataset_path) / CHECKS_FILE) if "clip_id" in row}


class Checker:
    """A background transcriber for one model: :meth:`submit` takes, :meth:`state` reports them."""

    def __init__(self, model: str, transcribe=None) -> None:
        self.model = model
        self._transcribe = transcribe  # (audio_path, language) -> text; None: load the model on first use
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], dict] = {}
        self.error = ""
        self._thread = threading.Thread(target=self._run, name=f"prompt-check-{model}", daemon=True)
        self._thread.start()

    def submit(self, dataset_path: Path, clip_id: str, audio_path: Path, prompt: str, language: str | None,
               phrase_id: str | None = None) -> None:
        key = (str(dataset_path), clip_id)
        with self._lock:
            self._state[key] = {"state": "pending"}
        self._jobs.put((Path(dataset_path), clip_id, Path(audio_path), prompt, language, phrase_id))

    def state(self, dataset_path: Path, clip_id: str) -> dict | None:
        """``{"state": "pending"}``, a finished check (``state: "done"`` + :func:`judge`'s fields), an error, or
        None for a clip this process never checked (then look in :func:`results`)."""
        with self._lock:
            return self._state.get((str(dataset_path), clip_id))

    def wait(self, timeout_s: float = 120.0) -> bool:
        """Block until the queue is empty (tests); False on time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._jobs.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ the thread
    def _load(self):
        from voxstudio import inference  # torch: imported here, in the checker's thread, on first use
        from voxstudio.runs.models import resolve_base

        transcriber = inference.load_transcriber(resolve_base(self.model))

        def transcribe(path: Path, language: str | None) -> str:
            return transcriber.transcribe(str(path), language=languages.base_code(language) if language else None).text

        return transcribe

    def _run(self) -> None:
        while True:
            dataset_path, clip_id, audio_path, prompt, language, phrase_id = self._jobs.get()
            key = (str(dataset_path), clip_id)
            try:
                if self._transcribe is None:
                    self._transcribe = self._load()
                heard = self._transcribe(audio_path, language)
                verdict = {**judge(prompt, heard, language), "clip_id": clip_id, "phrase_id": phrase_id,
                           "model": self.model, "checked_at": round(time.time(), 3)}
                with contextlib.suppress(OSError):  # the verdict still shows in this session
                    rowlog.append(dataset_path / CHECKS_FILE, [verdict])
                with self._lock:
                    self._state[key] = {"state": "done", **verdict}
            except Exception as exc:  # noqa: BLE001 - a failed check must never break recording
                self.error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self._state[key] = {"state": "error", "message": f"The prompt check failed: {self.error}"}
            finally:
                self._jobs.task_done()


_CHECKERS: dict[str, Checker] = {}
_CHECKERS_LOCK = threading.Lock()


def checker(model: str) -> Checker:
    """The process-wide checker of ``model`` (started on first use, shared by every browser session)."""
    with _CHECKERS_LOCK:
        if model not in _CHECKERS:
            _CHECKERS[model] = Checker(model)
        return _CHECKERS[model]


def submit_take(ds, clip, model: str | None) -> None:
    """Queue one saved take of ``ds`` (``model`` None: the check is off, nothing happens)."""
    if model and clip is not None:
        checker(model).submit(ds.path, clip.clip_id, ds.audio_path(clip), clip.text, clip.language, clip.phrase_id)


def status(ds, clip_id: str, model: str | None, saved: dict | None = None) -> dict | None:
    """The check of one clip: this process's (pending, done, error), else the saved one, else None."""
    live = checker(model).state(ds.path, clip_id) if model else None
    if live is not None:
        return live
    saved = results(ds.path) if saved is None else saved
    row = saved.get(clip_id)
    return {"state": "done", **row} if row else None
