"""Releasing a finished run from the Publish page: stage the exact folders to push, push them (the dataset
first, then the model), then deploy the demo Space. UI-safe: export (torch), huggingface_hub and pyarrow are
imported only when used.

Why staging folders: the user must see the very files and sizes that will be uploaded (every recording
included) and read both cards before anything leaves the machine, and a push that was cut off can be re-run
from the same folders. Staged exports live in ``$VOXSTUDIO_HOME/cache/exports/`` and never contain a token.

Publishing asks what it must before the first push, and refuses with one sentence otherwise: a licence for
the model and one for the data (``publish.licences``, no default), the speaker's consent to publish the
recordings (``data.consent``), and no demo Space for an adapter whose base no Space can load.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from voxstudio import workspace
from voxstudio.data import consent
from voxstudio.models import SMALL_MODELS, TINY, is_hub_id
from voxstudio.publish import licences
from voxstudio.runs import models as runmodels
from voxstudio.runs import runfolder
from voxstudio.training import scoring

EXPORTS_DIR = "exports"
PLACEHOLDER_NAMESPACE = "your-name"  # what the Publish page stages under before anyone has signed in
ARTIFACTS = {
    "adapter": "LoRA adapter only (small; loads on top of the base model)",
    "merged": "Merged full model (adapter folded into the base weights; loads on its own)",
    "full": "Full fine-tuned model",
}


@dataclass(frozen=True)
class Staged:
    """An export ready to push (and the dataset folder pushed with it): where they are and what they hold."""

    run: str
    artifact: str
    repo_id: str
    dataset_repo: str | None
    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)
    licence: str | None = None
    dataset: str | None = None  # the dataset's name, when it is pushed too
    dataset_folder: Path | None = None
    dataset_files: list[tuple[str, int]] = field(default_factory=list)
    data_licence: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(size for _, _, size in upload_list(self))


class Recording(NamedTuple):
    """One recording that leaves the machine inside a dataset file: ``audio/<clip_id>.wav``, its bytes, the
    uploaded file that carries it and its transcript."""

    path: str
    size: int
    file: str
    text: str


def artifact_choices(run: str) -> list[str]:
    """What a run can be published as: a LoRA run as adapter or merged model; a full run as itself."""
    models = runmodels.run_models(run)
    return ["adapter", "merged"] if models.is_adapter else ["full"]


def default_repo_name(run: str, artifact: str) -> str:
    """A repo name suggestion: the run name, marked when it is the merged variant."""
    return f"{run}-merged" if artifact == "merged" else run


def stage(run: str | Path, artifact: str, repo_id: str, dataset_repo: str | None = None, *,
          licence: str | None = None, data_licence: str | None = None, private: bool = True,
          folder: Path | None = None, dataset_folder: Path | None = None) -> Staged:
    """Export ``run`` (a run name, or a run folder for the CLI) as ``artifact`` into ``folder``, by default its
    staging folder (replacing an older staging of the same run), with its card under ``licence``; with a
    ``dataset_repo``, also the run's dataset as it is pushed (under ``data_licence``) into ``dataset_folder``
    (default: beside ``folder``). Refuses, before exporting anything, a missing licence or (for the dataset)
    a missing consent to publish with this visibility. The Publish page and ``voxstudio publish`` both stage
    and push through here."""
    from voxstudio.publish import export

    licence = licences.check(licence, "model")
    run_dir = export.resolve_run(run)
    cfg = export.check_finished(run_dir)
    method = cfg.get("method", "lora")
    if export.artifact_for(method, artifact == "merged") != artifact:
        choices = ["full"] if method == "full" else ["adapter", "merged"]
        raise ValueError(f"Run {run_dir.name!r} cannot be published as {artifact!r}; choose one of "
                         f"{', '.join(choices)}.")
    dataset = None
    if dataset_repo:
        dataset = run_dataset(run_dir.name, cfg)
        check_dataset_publishable(dataset, data_licence, private=private)
    if folder is None:
        folder = workspace.cache_dir() / EXPORTS_DIR / f"{workspace.check_slug(run_dir.name, 'run name')}-{artifact}"
    if folder.exists():
        shutil.rmtree(folder)
    export.export_run(run_dir, folder, merge=artifact == "merged", repo_id=repo_id, dataset_repo=dataset_repo,
                      licence=licence)
    staged = Staged(run_dir.name, artifact, repo_id, dataset_repo, folder, export.list_upload(folder), licence)
    if dataset is None:
        return staged
    dataset_folder = dataset_folder or folder.with_name(f"{folder.name}-dataset")
    _stage_dataset(dataset, dataset_repo, data_licence, dataset_folder, run_dir)
    return replace(staged, dataset=dataset, dataset_folder=dataset_folder, data_licence=data_licence,
                   dataset_files=export.list_upload(dataset_folder))


def _stage_dataset(dataset: str, dataset_repo: str, data_licence: str, folder: Path, run_dir: Path) -> None:
    """The dataset folder exactly as it is pushed (parquet files carrying the recordings, and the card): the
    run's own frozen clips (``runs.rundata``; the dataset as it is now for a run made before clip lists)."""
    from voxstudio.publish import hub

    if folder.exists():
        shutil.rmtree(folder)
    hub.dataset_folder(dataset, folder, dataset_repo, licence=data_licence, run_dir=run_dir)


def run_dataset(run: str, cfg: dict | None = None) -> str:
    """The name of the dataset a run trained on; a ValueError when its config names none."""
    cfg = cfg if cfg is not None else runfolder.read_json(runfolder.run_dir(run) / runfolder.CONFIG, {}) or {}
    if not cfg.get("dataset"):
        raise ValueError(f"Run {run!r} does not name its dataset; push one with "
                         "`voxstudio push-dataset NAME --repo REPO --licence LICENCE`.")
    return cfg["dataset"]


def check_dataset_publishable(dataset: str, data_licence: str | None, *, private: bool) -> None:
    """One sentence when the dataset may not be pushed: no data licence chosen, or no consent to publish."""
    from voxstudio.publish import hub

    hub.check_can_publish_dataset(dataset, data_licence, private=private)


def upload_list(staged: Staged) -> list[tuple[str, str, int]]:
    """(repo, path, bytes) of every file a push of ``staged`` uploads: the model export, then the dataset's
    files (its card and the parquet files that carry the recordings; see :func:`recordings`)."""
    rows = [(staged.repo_id, path, size) for path, size in staged.files]
    if staged.dataset_folder is not None:
        rows += [(staged.dataset_repo, path, size) for path, size in staged.dataset_files]
    return rows


def recordings(staged: Staged) -> list[Recording]:
    """Every recording that the dataset push uploads, read back from the staged parquet files themselves
    (so the list is what leaves the machine): ``audio/<clip_id>.wav`` with its bytes, its file and its text."""
    if staged.dataset_folder is None:
        return []
    import pyarrow.parquet as pq

    from voxstudio.data.dataset import AUDIO_DIR

    out = []
    for path, _ in staged.dataset_files:
        if not path.endswith(".parquet"):
            continue
        table = pq.read_table(staged.dataset_folder / path, columns=["audio", "text"]).to_pylist()
        out += [Recording(f"{AUDIO_DIR}/{row['audio']['path']}", len(row["audio"]["bytes"] or b""), path,
                          row["text"]) for row in table]
    return out


def cards(staged: Staged) -> dict[str, str | None]:
    """The cards exactly as they will arrive on the Hub: {"model": README.md text, "dataset": text or None}."""
    dataset = staged.dataset_folder / "README.md" if staged.dataset_folder is not None else None
    return {"model": (staged.folder / "README.md").read_text(encoding="utf-8"),
            "dataset": dataset.read_text(encoding="utf-8") if dataset is not None else None}


def split_card(text: str) -> tuple[str, str]:
    """(YAML front matter, Markdown body) of a card, for showing it the way the Hub does."""
    import re

    m = re.match(r"^---\s*\n(.*?\n)---\s*\n", text, re.S)
    return (m.group(1), text[m.end():]) if m else ("", text)


def dataset_speaker(dataset: str) -> str:
    """Who the dataset says its speaker is ("A and B" for several), to prefill the consent question."""
    from voxstudio.data.dataset import Dataset

    return " and ".join(s for s in Dataset.open(dataset).info.get("speakers") or [] if s)


def consent_question(dataset: str, speaker: str, *, public: bool) -> tuple[str, str | None]:
    """The statement the speaker is asked to agree to before their recordings are pushed with this visibility,
    and when exactly that statement was agreed to before (None: never; the box starts unticked)."""
    from voxstudio.data.dataset import Dataset

    statement = consent.statement(dataset, speaker, public=public)
    stored = consent.stored(Dataset.open(dataset).info)
    agreed = stored is not None and stored["statement"] == statement
    return statement, (stored.get("given_at") or "earlier") if agreed else None


def give_consent(dataset: str, speaker: str, *, public: bool) -> dict:
    """Record in dataset.json the speaker's consent to publish ``dataset`` with this visibility."""
    from voxstudio.data.dataset import Dataset

    return Dataset.open(dataset).consent_to_publish(speaker, public=public)


def publish(staged: Staged, token: str, *, private: bool = True, progress=None) -> dict:
    """Push the staged dataset (when there is one, first, so the model card's link exists), then the model.

    The dataset is refused (ValueError, before anything is uploaded) without its licence or the speaker's consent
    to publish with this visibility. Returns {"model": PushResult, "dataset": PushResult | None}. Hub failures are
    voxstudio.publish.hub.HubError sentences.
    """
    from voxstudio.publish import hub

    licences.check(staged.licence, "model")
    report = progress or (lambda fraction, text: None)
    pushed_dataset = None
    share = 0.4 if staged.dataset_folder is not None else 0.0
    if staged.dataset_folder is not None:
        check_dataset_publishable(staged.dataset, staged.data_licence, private=private)
        pushed_dataset = hub.push_folder(staged.dataset_folder, staged.dataset_repo, token, private=private,
                                         repo_type="dataset",
                                         message=f"Upload dataset {staged.dataset} with voxstudio",
                                         progress=lambda f, text: report(share * f, text))
    model = hub.push_folder(staged.folder, staged.repo_id, token, private=private,
                            message=f"Upload {staged.artifact} of voxstudio run {staged.run}",
                            progress=lambda f, text: report(share + (1 - share) * f, text))
    return {"model": model, "dataset": pushed_dataset}


def demo_base_model(run: str, artifact: str) -> str | None:
    """BASE_MODEL_ID for the demo: the Hub base of an adapter; None for merged/full models.

    An adapter trained on a local or built-in base cannot be loaded by a Space: say so and suggest merging.
    """
    if artifact != "adapter":
        return None
    base = runmodels.run_models(run).base_model
    if not is_hub_id(base):
        where = ("voxstudio's built-in tiny test model" if base == TINY
                 else f"{base!r}, which is not a model on the Hub")
        raise ValueError(f"No demo Space can load this adapter: its base model is {where}, and a Space can only "
                         "download bases from the Hub; publish the merged model instead and deploy the demo for "
                         "that.")
    return base


def space_refusal(run: str, artifact: str) -> str | None:
    """The sentence saying why no demo Space can run this published artifact, or None when one can."""
    try:
        demo_base_model(run, artifact)
    except ValueError as exc:
        return str(exc)
    return None


def suggested_hardware(run: str) -> str:
    """cpu-basic for the tiny test model; a GPU for a real Voxtral (ZeroGPU is free with PRO)."""
    base = runmodels.run_models(run).base_model
    return "cpu-basic" if base in SMALL_MODELS else "zero-a10g"


def run_summary(run: str) -> dict:
    """What the Publish page shows about a run before pushing: method, base, WER before/after, ``claims``
    (``training.scoring.Outcome``: what the WER rests on and whether the model is worse than its base)."""
    models = runmodels.run_models(run)
    results = runfolder.read_json(runfolder.run_dir(run) / runfolder.EVAL_RESULTS, {}) or {}
    return {
        "base_model": models.base_model,
        "method": "LoRA" if models.is_adapter else "full fine-tune",
        "dataset": models.dataset,
        "baseline_wer": (results.get("baseline") or {}).get("wer"),
        "finetuned_wer": (results.get("finetuned") or {}).get("wer"),
        "claims": scoring.outcome(results),  # clips the WER rests on, how the output was chosen, worse than base
    }


def token_from_environment() -> str:
    """HF_TOKEN from the environment ("" when unset); the Publish page never stores it anywhere. A hosted studio
    never offers the server's token to its visitors: "" there (each person brings their own, ``hosting``)."""
    from voxstudio import hosting

    return "" if hosting.is_hosted() else os.environ.get("HF_TOKEN", "").strip()


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover
