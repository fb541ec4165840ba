"""A finished run's models (stdlib only at import): where its base and fine-tuned weights are, and loading them.

Used by the Try and Publish pages, ``voxstudio transcribe`` and the release step. torch/transformers are
imported only when a model is actually loaded (through ``voxstudio.inference``, the module the demo Space uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import languages as language_codes
from voxstudio import workspace
from voxstudio.models import TINY
from voxstudio.runs import runfolder


@dataclass(frozen=True)
class RunModels:
    """Where a finished run's models are: the base it started from and its fine-tuned output."""

    run: str
    base_model: str  # as configured: a Hub id, a local folder or "tiny"
    output: Path  # the fine-tuned adapter (LoRA) or full model
    is_adapter: bool
    languages: list[str] = field(default_factory=list)  # what it was trained on (config, else its clips)
    dataset: str = ""

    @property
    def default_language(self) -> str:
        """What the Try page and ``voxstudio transcribe`` prompt by default: the run's one trained language
        (``languages.trained_default``), else "auto"."""
        return language_codes.trained_default(self.languages)


def finished_runs() -> list[str]:
    """Runs that succeeded and left a loadable model in ``output/`` (newest first)."""
    found = []
    for folder in workspace.runs_dir().iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if runfolder.finished(folder):
            found.append((folder.stat().st_mtime, folder.name))
    return [name for _, name in sorted(found, reverse=True)]


def run_models(run: str) -> RunModels:
    """The base and fine-tuned models of ``run``; a clear error when the run is not finished."""
    folder = runfolder.run_dir(run)
    if not folder.is_dir():
        raise FileNotFoundError(f"There is no run named {run!r}.")
    output = folder / runfolder.OUTPUT
    if not runfolder.finished(folder):
        raise FileNotFoundError(f"Run {run!r} has no trained model yet (it has not finished successfully).")
    config = runfolder.read_json(folder / runfolder.CONFIG, {}) or {}
    return RunModels(
        run=run,
        base_model=str(config.get("base_model") or ""),
        output=output,
        is_adapter=(output / runfolder.ADAPTER_CONFIG).is_file(),
        languages=trained_languages(folder, config),
        dataset=str(config.get("dataset") or ""),
    )


def trained_languages(folder: Path, config: dict) -> list[str]:
    """The languages a run trained on: its config's choice, else those of its frozen training clips (a config
    with no languages takes every language of the dataset)."""
    chosen = list(config.get("languages") or [])
    if chosen:
        return chosen
    from voxstudio.runs import rundata

    data = rundata.try_load(folder, config)
    if data is None:
        return []
    return sorted({language_codes.tidy(c.language) for c in data.train if c.language})


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
