"""Checkpoints and outputs that survive a kill at any point (stdlib only).

The Trainer writes ``checkpoint-N/`` file by file (weights, optimizer, scheduler, RNG, trainer state), so a
run killed mid-save leaves a folder that looks like a checkpoint but cannot be resumed. We mark a checkpoint
complete only after the Trainer has finished it (``on_save``: an atomically written marker, folder fsynced),
and resume from the newest *complete* one; incomplete ones are removed when the trainer starts again.

Model folders (``output/``, the best checkpoint) are replaced by :func:`swap_in`: the new folder is written
aside, the old one is renamed away, the new one renamed in, then the old one removed. A kill at any point
leaves the old or the new model in place (:func:`recover` finishes or undoes a half-done swap at start).

Resuming a full fine-tune goes through :func:`resuming_trainer`: the Trainer's own loader does not map the
saved Hub key layout back to the loaded names, so it restored nothing (every key "missing").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from voxstudio.atomicfile import fsync_dir, write_atomic

PREFIX = "checkpoint-"
COMPLETE = "voxstudio-complete.json"
META = "voxstudio-best.json"  # inside a saved model folder: what it is (step, WER, rows)
TRAINER_STATE = "trainer_state.json"
CHECKPOINT_RE = re.compile(rf"^{PREFIX}(\d+)$")
TMP_SUFFIX = ".tmp"
OLD_SUFFIX = ".old"


def step_of(folder: Path) -> int | None:
    m = CHECKPOINT_RE.match(Path(folder).name)
    return int(m.group(1)) if m else None


def checkpoints(ckpt_dir: Path) -> list[Path]:
    """Every ``checkpoint-N`` folder, oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and step_of(p) is not None]
    return sorted(found, key=step_of)


def mark_complete(folder: Path) -> None:
    """Called once the Trainer has written every file of ``folder``: from now on it may be resumed from."""
    folder = Path(folder)
    fsync_dir(folder)
    write_atomic(folder / COMPLETE, json.dumps({"step": step_of(folder), "at": time.time()}).encode())
    fsync_dir(folder)
    fsync_dir(folder.parent)


def is_complete(folder: Path, legacy: bool = False) -> bool:
    """A checkpoint we marked complete; for runs from before markers (``legacy``), one with a trainer state."""
    folder = Path(folder)
    if (folder / COMPLETE).is_file():
        return True
    return legacy and (folder / TRAINER_STATE).is_file()


def latest_complete(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint a resume can start from (None: start from step 0)."""
    found = checkpoints(ckpt_dir)
    legacy = not any((p / COMPLETE).is_file() for p in found)
    complete = [p for p in found if is_complete(p, legacy)]
    return complete[-1] if complete else None


def remove_incomplete(ckpt_dir: Path, log=print) -> list[str]:
    """Remove checkpoint folders a kill left half-written; returns their names."""
    found = checkpoints(ckpt_dir)
    legacy = not any((p / COMPLETE).is_file() for p in found)
    removed = []
    for folder in found:
        if not is_complete(folder, legacy):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        fsync_dir(ckpt_dir)
        log(f"removed incomplete checkpoint(s) left by a kill: {', '.join(removed)}")
    return removed


def staging(folder: Path) -> Path:
    """Where the next version of model folder ``folder`` is written before :func:`swap_in`."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + TMP_SUFFIX)
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def swap_in(new: Path, folder: Path) -> None:
    """Replace model folder ``folder`` by the complete folder ``new``; a kill leaves the old or the new one."""
    new, folder = Path(new), Path(folder)
    old = folder.with_name(folder.name + OLD_SUFFIX)
    fsync_dir(new)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(new, folder)
    fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def recover(folder: Path, log=print) -> None:
    """At start: finish or undo a swap a kill interrupted, and drop half-written staging folders."""
    folder = Path(folder)
    old = folder.with_name(folder.name + OLD_SUFFIX)
    tmp = folder.with_name(folder.name + TMP_SUFFIX)
    if old.exists():
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)  # the new one was already in place
        else:
            os.replace(old, folder)  # killed between the two renames: the old model comes back
            log(f"restored {folder.name}/ from before an interrupted update")
    if tmp.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    if folder.parent.exists():
        fsync_dir(folder.parent)


# ----- resume that really restores the weights (transformers imported only when called)
def load_full_weights(model, folder: str | Path, log=print) -> None:
    """A full-model checkpoint's weights into ``model``, through ``from_pretrained`` (which maps the saved Hub
    layout, ``language_model.model.layers…``, to the loaded names). The Trainer's own loader does not map keys:
    it loaded nothing and resumed from the base weights with step N's optimizer."""
    from transformers import VoxtralForConditionalGeneration

    saved = VoxtralForConditionalGeneration.from_pretrained(str(folder), dtype=next(model.parameters()).dtype)
    missing, unexpected = model.load_state_dict(saved.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(f"checkpoint {folder} does not match the model (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}): resume cannot restore its weights")
    log(f"restored {len(saved.state_dict())} weight tensors from {Path(folder).name}")


def resuming_trainer(trainer_cls, method: str, log=print):
    """``Trainer`` whose resume restores full fine-tuned weights correctly (adapters load as they are)."""
    if method != "full":
        return trainer_cls

    class ResumingTrainer(trainer_cls):
        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            if self.is_fsdp_enabled:  # FSDP's own file (pytorch_model_fsdp.bin) is keyed by the model's names
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            load_full_weights(model if model is not None else self.model, resume_from_checkpoint, log)

    return ResumingTrainer
