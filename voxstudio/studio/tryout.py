"""What the Try and Publish pages need to know about finished runs, and base-vs-fine-tuned transcription.

UI-safe: torch/transformers are imported only when a model is actually loaded (through
``voxstudio.inference``, the same module the demo Space and the CLI use), never at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import workspace
from voxstudio.runs import runfolder

AUTO = "auto"
# Voxtral's transcription languages (the select box offers these plus "auto").
LANGUAGES = ("en", "es", "fr", "pt", "hi", "de", "nl", "it")
TINY = "tiny"
ADAPTER_FILE = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class RunModels:
    """Where a finished run's models are: the base it started from and its fine-tuned output."""

    run: str
    base_model: str  # as configured: a Hub id, a local folder or "tiny"
    output: Path  # the fine-tuned adapter (LoRA) or full model
    is_adapter: bool
    languages: list[str] = field(default_factory=list)
    dataset: str = ""


@dataclass(frozen=True)
class Transcript:
    """One model's answer to one clip, with what it cost."""

    text: str
    seconds: float
    stopped_by_eos: bool = True


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir())


def finished_runs() -> list[str]:
    """Runs that succeeded and left a loadable model in ``output/`` (newest first)."""
    found = []
    for folder in workspace.runs_dir().iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if runfolder.read_status(folder).get("state") != "succeeded":
            continue
        if _has_weights(folder / runfolder.OUTPUT):
            found.append((folder.stat().st_mtime, folder.name))
    return [name for _, name in sorted(found, reverse=True)]


def run_models(run: str) -> RunModels:
    """The base and fine-tuned models of ``run``; a clear error when the run is not finished."""
    folder = runfolder.run_dir(run)
    if not folder.is_dir():
        raise FileNotFoundError(f"There is no run named {run!r}.")
    output = folder / runfolder.OUTPUT
    if not _has_weights(output):
        raise FileNotFoundError(f"Run {run!r} has no trained model yet (it has not finished successfully).")
    config = runfolder.read_json(folder / runfolder.CONFIG, {}) or {}
    return RunModels(
        run=run,
        base_model=str(config.get("base_model") or ""),
        output=output,
        is_adapter=(output / ADAPTER_FILE).is_file(),
        languages=list(config.get("languages") or []),
        dataset=str(config.get("dataset") or ""),
    )


def language_choices(models: RunModels | None = None) -> list[str]:
    """"auto" first, then the run's trained languages, then Voxtral's other languages."""
    trained = list(models.languages) if models else []
    return [AUTO] + trained + [code for code in LANGUAGES if code not in trained]


def is_tiny(models: RunModels) -> bool:
    """Whether the run started from the random-weight tiny model (its transcripts are not speech recognition)."""
    return models.base_model == TINY


def resolve_base(base_model: str) -> str:
    """'tiny' -> the locally built tiny model folder; Hub ids and folders unchanged."""
    if base_model == TINY:
        from voxstudio.training import tiny

        return str(tiny.resolve_model(TINY))
    return base_model


def load_base(models: RunModels):
    """The base model's transcriber (what the run started from)."""
    from voxstudio import inference

    return inference.load_transcriber(resolve_base(models.base_model))


def load_finetuned(models: RunModels):
    """The fine-tuned transcriber; raises when the weights cannot load (no silent fallback to the base)."""
    from voxstudio import inference

    if models.is_adapter:
        return inference.load_transcriber(str(models.output), base_model=resolve_base(models.base_model))
    return inference.load_transcriber(str(models.output))


def clip_samples(data: bytes, name: str | None = None):
    """Uploaded or recorded bytes -> float32 mono 16 kHz samples (AudioError with a sentence if unusable)."""
    from voxstudio.data import audio

    return audio.load_audio(data, name=name)


def transcribe(transcriber, samples, language: str = AUTO) -> Transcript:
    """Run one transcriber on 16 kHz samples; ``"auto"`` lets the model pick the language."""
    started = time.perf_counter()
    result = transcriber.transcribe(samples, sampling_rate=16000, language=None if language == AUTO else language)
    return Transcript(
        text=result.text,
        seconds=time.perf_counter() - started,
        stopped_by_eos=bool(getattr(result, "stopped_by_eos", True)),
    )
