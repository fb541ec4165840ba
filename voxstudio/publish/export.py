"""Export a finished run as exactly the folder that would be pushed to the Hub (training side).

* LoRA run, ``merge=False``: the adapter as trained (``adapter_config.json`` + ``adapter_model.safetensors``)
  and the processor files, so the adapter loads on its base model with ``PeftModel.from_pretrained``.
* LoRA run, ``merge=True``: the adapter merged into the base weights (``merge_and_unload``), saved in the
  base model's dtype as sharded safetensors, plus the processor: a plain ``VoxtralForConditionalGeneration``.
* Full fine-tune: the trained model in the base dtype plus the processor.

Never optimizer/scheduler states, RNG states, trainer state or intermediate checkpoints: only the files of
``output/`` that a user loads. Every export carries its ``README.md`` model card. The folder is built aside
and renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import tempfile
from pathlib import Path

from voxstudio import models
from voxstudio.publish import card
from voxstudio.runs import runfolder

# Files of a run's output/ that are published; anything else (training state) is never copied.
PUBLISHED = ("*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
             "adapter_config.json", "processor_config.json", "preprocessor_config.json", "tokenizer*.json",
             "special_tokens_map.json", "chat_template.*", "tekken.json", "*.model", "VOXSTUDIO_TINY")
# The processor (tokenizer + feature extractor) files, copied byte for byte: loading and re-saving a Mistral
# tokenizer would write tokenizer.json instead of tekken.json, which apply_transcription_request needs.
PROCESSOR = ("processor_config.json", "preprocessor_config.json", "tekken.json", "tokenizer*.json",
             "special_tokens_map.json", "chat_template.*", "*.model")
NEVER = ("optimizer*", "scheduler*", "rng_state*", "trainer_state.json", "training_args.bin", "*.pt", "*.pth",
         "*.ckpt", "*.bin", "checkpoint-*")
DEFAULT_SHARD = "2GB"


def _publishable(name: str) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in PUBLISHED) and not any(fnmatch.fnmatch(name, p) for p in NEVER)


def resolve_run(run: str | Path) -> Path:
    """A run folder from a run name (in the workspace) or a path."""
    path = Path(run)
    if path.is_dir() and (path / runfolder.CONFIG).exists():
        return path.resolve()
    folder = runfolder.run_dir(str(run))
    if not (folder / runfolder.CONFIG).exists():
        raise FileNotFoundError(f"No run named {str(run)!r}: see `voxstudio runs` for the runs you have.")
    return folder


def check_finished(run_dir: Path) -> dict:
    """The run's config, if it finished with weights to publish; else a clear ValueError."""
    state = runfolder.read_status(run_dir).get("state") or "unknown"
    if not runfolder.finished(run_dir):
        raise ValueError(f"Run {run_dir.name!r} has no finished model to export (state: {state}); "
                         "wait until it has succeeded.")
    return runfolder.read_json(run_dir / runfolder.CONFIG, {}) or {}


def artifact_for(method: str, merge: bool) -> str:
    if method == "full":
        if merge:
            raise ValueError("This run fine-tuned all weights: there is no adapter to merge; export without --merge.")
        return "full"
    return "merged" if merge else "adapter"


def export_run(run: str | Path, out_dir: str | Path, merge: bool = False, *, repo_id: str | None = None,
               dataset_repo: str | None = None, max_shard_size: str = DEFAULT_SHARD,
               licence: str | None = None) -> Path:
    """Write the folder to push for ``run`` into ``out_dir`` (which must not exist or be empty); the card states
    ``licence`` (the user's choice; without one it says none was chosen)."""
    run_dir = resolve_run(run)
    cfg = check_finished(run_dir)
    artifact = artifact_for(cfg.get("method", "lora"), merge)
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not empty: choose a new folder for the export.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        source = run_dir / runfolder.OUTPUT
        if artifact == "adapter":
            dtype = _copy_published(source, tmp)
            _copy_processor(source, cfg.get("base_model", ""), tmp)
            _point_adapter_at_hub_base(tmp, cfg.get("base_model", ""))
        elif artifact == "merged":
            dtype = _merge(source, cfg, tmp, max_shard_size)
        else:
            dtype = _full(source, cfg, tmp, max_shard_size)
        text = card.render_model_card(run_dir, artifact=artifact, repo_id=repo_id, dataset_repo=dataset_repo,
                                      dtype=dtype, license=licence)
        (tmp / "README.md").write_text(text, encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def list_upload(folder: str | Path) -> list[tuple[str, int]]:
    """(relative path, size in bytes) of every file that a push of ``folder`` uploads, sorted."""
    folder = Path(folder)
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


# ---- the three artifacts -------------------------------------------------------------------------

def _copy_published(source: Path, dest: Path) -> str | None:
    for path in sorted(source.iterdir()):
        if path.is_file() and _publishable(path.name):
            shutil.copy2(path, dest / path.name)
    return _saved_dtype(dest)


def _saved_dtype(folder: Path) -> str | None:
    config = runfolder.read_json(folder / "config.json", {}) or {}
    return config.get("dtype") or config.get("torch_dtype") or (config.get("text_config") or {}).get("dtype")


def _point_adapter_at_hub_base(folder: Path, base_model: str) -> None:
    """A published adapter names its Hub base model, never a local path of the machine it was trained on."""
    path = folder / "adapter_config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if models.is_hub_id(base_model) and data.get("base_model_name_or_path") != base_model:
        data["base_model_name_or_path"] = base_model
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _base_dtype(source: str):
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(source)
    dtype = getattr(config, "dtype", None) or getattr(getattr(config, "text_config", None), "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype.replace("torch.", ""), None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _processor_files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.iterdir()) if p.is_file() and any(fnmatch.fnmatch(p.name, pat)
                                                                      for pat in PROCESSOR)]


def _copy_processor(output: Path, base: str, dest: Path) -> None:
    """The processor files from the run's output, or else from the base model (local folder or Hub cache)."""
    files = _processor_files(output)
    if not any(p.name in ("tekken.json", "processor_config.json") for p in files):
        from voxstudio.training.tiny import resolve_model

        base = resolve_model(base)
        folder = Path(base)
        if not folder.is_dir():
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(base, allow_patterns=list(PROCESSOR)))
        files = _processor_files(folder)
    if not files:
        raise ValueError(f"No processor (tokenizer) files found in {output} or in the base model {base}.")
    for path in files:
        shutil.copy2(path, dest / path.name)


def _save_model(model, output: Path, base: str, dest: Path, max_shard_size: str) -> str:
    model.save_pretrained(dest, max_shard_size=max_shard_size)
    for path in list(dest.iterdir()):
        if path.is_file() and not _publishable(path.name):
            path.unlink()
    _copy_processor(output, base, dest)
    return str(next(p.dtype for p in model.parameters())).replace("torch.", "")


def _merge(source: Path, cfg: dict, dest: Path, max_shard_size: str) -> str:
    from peft import PeftModel
    from transformers import VoxtralForConditionalGeneration

    from voxstudio.training.tiny import resolve_model

    base = resolve_model(cfg.get("base_model", ""))
    dtype = _base_dtype(base)
    model = VoxtralForConditionalGeneration.from_pretrained(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    merged = merged.to(dtype)
    return _save_model(merged, source, cfg.get("base_model", ""), dest, max_shard_size)


def _full(source: Path, cfg: dict, dest: Path, max_shard_size: str) -> str:
    from voxstudio.training.tiny import resolve_model

    base = resolve_model(cfg.get("base_model", ""))
    dtype = _base_dtype(base)
    if str(dtype).replace("torch.", "") == (_saved_dtype(source) or "float32"):
        copied = _copy_published(source, dest) or str(dtype).replace("torch.", "")
        _copy_processor(source, cfg.get("base_model", ""), dest)
        return copied
    from transformers import VoxtralForConditionalGeneration

    model = VoxtralForConditionalGeneration.from_pretrained(str(source), dtype=dtype)
    return _save_model(model, source, cfg.get("base_model", ""), dest, max_shard_size)
