"""Base-vs-fine-tuned transcription for the Try page and `voxstudio transcribe` (run models: ``runs.models``).

UI-safe: torch/transformers are imported only when a model is actually loaded (through
``voxstudio.inference``, the same module the demo Space and the CLI use), never at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from voxstudio.languages import AUTO, TRANSCRIPTION_LANGUAGES
from voxstudio.runs.models import RunModels


@dataclass(frozen=True)
class Transcript:
    """One model's answer to one clip, with what it cost."""

    text: str
    seconds: float
    stopped_by_eos: bool = True  # False: cut off at ``max_new_tokens`` (the clip's budget) before the model finished
    max_new_tokens: int | None = None


def language_choices(models: RunModels | None = None) -> list[str]:
    """"auto" first, then the run's trained languages (with its default), then Voxtral's other languages."""
    trained = list(models.languages) if models else []
    default = models.default_language if models else AUTO
    if default not in trained and default != AUTO:
        trained.insert(0, default)
    return [AUTO] + trained + [code for code in TRANSCRIPTION_LANGUAGES if code not in trained]


def default_language(models: RunModels | None = None) -> str:
    """The choice preselected for a run: its one trained language (what training prompted), else "auto"."""
    return models.default_language if models else AUTO


def clip_samples(data: bytes, name: str | None = None):
    """Uploaded or recorded bytes -> float32 mono 16 kHz samples (AudioError with a sentence if unusable)."""
    from voxstudio.data import audio

    return audio.load_audio(data, name=name)


def transcribe(transcriber, samples, language: str = AUTO) -> Transcript:
    """Run one transcriber on 16 kHz samples; ``"auto"`` lets the model pick the language."""
    from voxstudio.data.audio import SAMPLE_RATE
    from voxstudio.inference import max_new_tokens_for  # the one budget rule (CLI, evaluation, Space too)

    started = time.perf_counter()
    hint = None if language == AUTO else language
    limit = max_new_tokens_for(len(samples) / SAMPLE_RATE, hint)
    result = transcriber.transcribe(samples, sampling_rate=SAMPLE_RATE, language=hint, max_new_tokens=limit)
    return Transcript(
        text=result.text,
        seconds=time.perf_counter() - started,
        stopped_by_eos=bool(getattr(result, "stopped_by_eos", True)),
        max_new_tokens=limit,
    )


@dataclass
class Loaded:
    """A model the Try page keeps loaded (``st.cache_resource``): its transcriber, what loading it took, and
    how many transcriptions it has served (0: it was loaded for the one about to run)."""

    transcriber: object
    load_seconds: float
    uses: int = 0


def load_bound_s(models: RunModels) -> int:
    """The honest upper bound the page quotes for a first load: the tiny test model builds in seconds; a real
    Voxtral reads ~9 GB of weights (more if it still has to download)."""
    from voxstudio.runs.models import is_tiny

    return 30 if is_tiny(models) else 180


def load_timed(loader, models: RunModels) -> Loaded:
    """``loader(models)`` (``runs.models.load_base`` / ``load_finetuned``) with the seconds it took."""
    started = time.perf_counter()
    transcriber = loader(models)
    return Loaded(transcriber, time.perf_counter() - started)


def timing_line(load_seconds: float | None, transcribe_seconds: float) -> str:
    """"loaded in 3.2 s · transcribed in 0.4 s" or "already loaded · transcribed in 0.4 s"."""
    loaded = "already loaded" if load_seconds is None else f"loaded in {load_seconds:.1f} s"
    return f"{loaded} · transcribed in {transcribe_seconds:.2f} s"
