"""Checks before a run takes the queue (stdlib only at import): would it fail at once? Each problem is a sentence.

Checked before anything is written, so bad input leaves nothing behind, and a run that cannot start never
holds the queue: the dataset has enough usable clips in the run's languages (the trainer's own selection
rule, ``training.selection``), the base model can be loaded — the in-code ``tiny``, a local folder that
holds a model, a Hub id already in the local Hub cache, or a Hub id on a Hub this machine can reach — and the
run fits this machine's GPU (or RAM on a CPU) by ``training.estimate``, the one memory model.
"""

from __future__ import annotations

import os
from pathlib import Path

from voxstudio import hosting, models

MODEL_FILE = "config.json"


def preflight(cfg) -> list[str]:
    """Problems that would make the run ``cfg`` (a ``RunConfig``) fail at once; empty when it can start."""
    problems = dataset_problems(cfg)
    problem = model_problem(cfg.base_model)
    if problem:
        problems.append(problem)
    try:
        fit = hardware_fit(cfg)["problem"]
    except FileNotFoundError:  # no such dataset: said above
        fit = None
    if fit:
        problems.append(fit)
    return problems


def hardware_fit(cfg, hw=None, clips=None) -> dict:
    """``training.estimate.plan`` of ``cfg`` on this machine (``runs.hardware.detect()``) and its dataset's clips:
    ``problem`` refuses a run that cannot fit the GPU (or, on a CPU, the RAM); ``warning`` is a CPU run's time."""
    from voxstudio.data.dataset import Dataset
    from voxstudio.runs import hardware
    from voxstudio.training import estimate

    device = estimate.device_of(hw or hardware.detect())
    return estimate.plan(cfg, Dataset.open(cfg.dataset).clips() if clips is None else clips, device)


def dataset_problems(cfg) -> list[str]:
    from voxstudio.data import dataset as dataset_mod
    from voxstudio.training import selection

    if cfg.dataset not in dataset_mod.list_datasets():
        return [f"There is no dataset named '{cfg.dataset}' (see `voxstudio dataset list`)."]
    problem = selection.shortage(dataset_mod.Dataset.open(cfg.dataset).clips(), cfg.languages, cfg.dataset)
    return [problem] if problem else []


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def in_hub_cache(repo_id: str) -> bool:
    """Whether the Hub model ``repo_id`` is already downloaded into the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, MODEL_FILE)
    return isinstance(found, str) and Path(found).is_file()


def model_problem(model: str) -> str | None:
    """Why the base model ``model`` cannot be loaded here, or None when it can."""
    if models.is_tiny(model):
        return None
    if models.looks_like_path(model) or not models.is_hub_id(model):
        if not hosting.server_paths_allowed():  # a folder on the server could be anyone's model (or files)
            return (f"'{model}' is a folder on the server; this hosted studio trains from a Hub id such as "
                    f"{models.DEFAULT_BASE_MODEL} or 'tiny' only.")
        folder = Path(model).expanduser()
        if not folder.is_dir():
            return (f"There is no model folder at '{model}'. Give a Hub id such as {models.DEFAULT_BASE_MODEL}, "
                    "an existing folder, or 'tiny'.")
        if not (folder / MODEL_FILE).is_file():
            return f"The folder '{model}' holds no model ({MODEL_FILE} is missing): point at a downloaded model folder."
        return None
    if in_hub_cache(model):
        return None
    download = f"run `hf download {model}` once while online"
    if _offline():
        return (f"The base model {model} is not downloaded and this machine is offline (HF_HUB_OFFLINE=1): "
                f"{download}, or choose a local model folder.")
    return _hub_problem(model, download)


def _hub_problem(model: str, download: str) -> str | None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from voxstudio.publish.hub import endpoint

    api = HfApi(endpoint=endpoint(), token=hosting.server_hub_token() or False)
    try:
        exists = api.file_exists(model, MODEL_FILE)
    except GatedRepoError:
        return (f"The base model {model} is gated: accept its terms on the Hub and set HF_TOKEN to a token of "
                "that account (or download it with `hf download` and use the folder).")
    except RepositoryNotFoundError:
        exists = False
    except Exception as exc:  # noqa: BLE001 - network failures come as httpx and OS errors alike
        return (f"The base model {model} is not downloaded and the Hub ({endpoint()}) cannot be reached "
                f"({type(exc).__name__}): {download}, or choose a local model folder.")
    if not exists:
        return (f"There is no model {model} on the Hub ({endpoint()}): check the spelling, e.g. "
                f"{models.DEFAULT_BASE_MODEL}.")
    return None

