"""Releasing a finished run from the Publish page: stage the exact folder to push, push it (and the dataset),
then deploy the demo Space. UI-safe: export (torch) and huggingface_hub are imported only when used.

Why a staging folder: the user must see the very files and sizes that will be uploaded before anything
leaves the machine, and a push that was cut off can be re-run from the same folder. Staged exports live in
``$VOXSTUDIO_HOME/cache/exports/`` and never contain a token.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import workspace
from voxstudio.models import SMALL_MODELS, is_hub_id
from voxstudio.runs import models as runmodels
from voxstudio.runs import runfolder

EXPORTS_DIR = "exports"
ARTIFACTS = {
    "adapter": "LoRA adapter only (small; loads on top of the base model)",
    "merged": "Merged full model (adapter folded into the base weights; loads on its own)",
    "full": "Full fine-tuned model",
}


@dataclass(frozen=True)
class Staged:
    """An export ready to push: where it is and what it holds."""

    run: str
    artifact: str
    repo_id: str
    dataset_repo: str | None
    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def artifact_choices(run: str) -> list[str]:
    """What a run can be published as: a LoRA run as adapter or merged model; a full run as itself."""
    models = runmodels.run_models(run)
    return ["adapter", "merged"] if models.is_adapter else ["full"]


def default_repo_name(run: str, artifact: str) -> str:
    """A repo name suggestion: the run name, marked when it is the merged variant."""
    return f"{run}-merged" if artifact == "merged" else run


def stage(run: str | Path, artifact: str, repo_id: str, dataset_repo: str | None = None, *,
          folder: Path | None = None) -> Staged:
    """Export ``run`` (a run name, or a run folder for the CLI) as ``artifact`` into ``folder``, by default its
    staging folder (replacing an older staging of the same run). The Publish page and ``voxstudio publish``
    both stage and push through here."""
    from voxstudio.publish import export

    run_dir = export.resolve_run(run)
    method = export.check_finished(run_dir).get("method", "lora")
    if export.artifact_for(method, artifact == "merged") != artifact:
        choices = ["full"] if method == "full" else ["adapter", "merged"]
        raise ValueError(f"Run {run_dir.name!r} cannot be published as {artifact!r}; choose one of "
                         f"{', '.join(choices)}.")
    if folder is None:
        folder = workspace.cache_dir() / EXPORTS_DIR / f"{workspace.check_slug(run_dir.name, 'run name')}-{artifact}"
    if folder.exists():
        shutil.rmtree(folder)
    export.export_run(run_dir, folder, merge=artifact == "merged", repo_id=repo_id, dataset_repo=dataset_repo)
    return Staged(run_dir.name, artifact, repo_id, dataset_repo, folder, export.list_upload(folder))


def publish(staged: Staged, token: str, *, private: bool = True, dataset: str | None = None,
            progress=None) -> dict:
    """Push the dataset (when ``dataset`` is given, first, so the card's link exists) and then the model.

    Returns {"model": PushResult, "dataset": PushResult | None}. Errors are voxstudio.publish.hub.HubError sentences.
    """
    from voxstudio.publish import hub

    report = progress or (lambda fraction, text: None)
    pushed_dataset = None
    if dataset:
        if not staged.dataset_repo:
            raise ValueError("Choose a dataset repo name before pushing the dataset.")
        pushed_dataset = hub.push_dataset(dataset, staged.dataset_repo, token, private=private,
                                          progress=lambda f, text: report(0.4 * f, text))
    model = hub.push_folder(staged.folder, staged.repo_id, token, private=private,
                            message=f"Upload {staged.artifact} of voxstudio run {staged.run}",
                            progress=lambda f, text: report((0.4 if dataset else 0.0) + (0.6 if dataset else 1.0) * f,
                                                            text))
    return {"model": model, "dataset": pushed_dataset}


def demo_base_model(run: str, artifact: str) -> str | None:
    """BASE_MODEL_ID for the demo: the Hub base of an adapter; None for merged/full models.

    An adapter trained on a local or built-in base cannot be loaded by a Space: say so and suggest merging.
    """
    if artifact != "adapter":
        return None
    base = runmodels.run_models(run).base_model
    if not is_hub_id(base):
        raise ValueError(f"This adapter's base model ({base!r}) is not on the Hub, so a Space could not load it. "
                         "Publish the merged model instead and deploy the demo for that.")
    return base


def suggested_hardware(run: str) -> str:
    """cpu-basic for the tiny test model; a GPU for a real Voxtral (ZeroGPU is free with PRO)."""
    base = runmodels.run_models(run).base_model
    return "cpu-basic" if base in SMALL_MODELS else "zero-a10g"


def run_summary(run: str) -> dict:
    """What the Publish page shows about a run before pushing: method, base, WER before/after."""
    models = runmodels.run_models(run)
    results = runfolder.read_json(runfolder.run_dir(run) / runfolder.EVAL_RESULTS, {}) or {}
    return {
        "base_model": models.base_model,
        "method": "LoRA" if models.is_adapter else "full fine-tune",
        "dataset": models.dataset,
        "baseline_wer": (results.get("baseline") or {}).get("wer"),
        "finetuned_wer": (results.get("finetuned") or {}).get("wer"),
    }


def token_from_environment() -> str:
    """HF_TOKEN from the environment ("" when unset); the Publish page never stores it anywhere."""
    return os.environ.get("HF_TOKEN", "").strip()


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover
