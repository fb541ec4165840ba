"""Training examples computed once and cached: prompt ids, labels and log-mel features per clip.

Why: the public recipe calls ``apply_transcription_request`` on raw audio in the collator at every step, so
the GPU waits for WAV encoding, resampling and a mel transform. We build each clip's example exactly the way
inference builds its prompt, once per (clip, text, language, processor), store it under
``$VOXSTUDIO_HOME/cache/features/`` and memory-map it during training; the collator only pads and stacks.

An example is ``prompt + transcript + EOS`` with labels −100 over the prompt. Clips longer than 30 s
give k feature chunks and 375·k audio tokens; the feature batch therefore counts chunks, not examples.

Two prompts, both exactly what inference sends (mistral-common's transcription request):

- hinted: ``<s>[INST][BEGIN_AUDIO][AUDIO]…[/INST]lang:xx[TRANSCRIBE]`` — ``lang:xx`` is plain text tokens,
  ``[TRANSCRIBE]`` one control token;
- auto (no language): ``<s>[INST][BEGIN_AUDIO][AUDIO]…[/INST][TRANSCRIBE]`` — the same control token right after
  ``[/INST]``, no ``lang:`` text at all. The target is the transcript + EOS in both, as mistral-common itself
  encodes a transcription training example with and without a language.

Both encodings of every training clip are cached (they share one feature file). Each epoch,
``RunConfig.auto_language_fraction`` of the clips (:func:`auto_language_ids`: drawn per seed and epoch, so the
same draw after a resume and in every process) are served the auto way and the rest hinted; over the epochs
every clip is trained in both modes, which is what makes each clip transcribe right with and without the hint
(a fixed subset teaches each clip only one of the two).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from voxstudio import workspace
from voxstudio.atomicfile import write_atomic
from voxstudio.inference import build_prompt
from voxstudio.languages import base_code
from voxstudio.training.collator import IGNORE_INDEX
from voxstudio.training.selection import ClipRef  # the clip identity lives with the selection (no torch)

CACHE_SUBDIR = "features"
FORMAT_VERSION = "1"  # bump when the example layout changes


def processor_fingerprint(processor) -> str:
    """Hash of everything in the processor that changes prompts or features (vocabulary, mel settings)."""
    tok = processor.tokenizer
    vocab = tok.get_vocab()
    h = hashlib.sha1()
    h.update(FORMAT_VERSION.encode())
    h.update(processor.feature_extractor.to_json_string().encode())
    h.update(json.dumps(sorted(vocab.items(), key=lambda kv: kv[1])[:100000], ensure_ascii=False).encode())
    h.update(f"{tok.eos_token_id}/{tok.pad_token_id}".encode())
    return h.hexdigest()[:16]


def auto_language_ids(clip_ids, fraction: float, seed: int = 0, epoch: int = 0) -> set[str]:
    """The clips served without the language hint in ``epoch``: ``round(fraction × n)`` of them, those whose
    sha1(seed, epoch, clip id) ranks lowest. Deterministic per seed and epoch (the same draw on resume and in
    every process); a different draw each epoch, so every clip meets both modes."""
    ids = list(dict.fromkeys(clip_ids))
    count = min(len(ids), math.floor(max(0.0, float(fraction)) * len(ids) + 0.5))
    ranked = sorted(ids, key=lambda cid: hashlib.sha1(f"{int(seed)}:{int(epoch)}:{cid}".encode()).hexdigest())
    return set(ranked[:count])


def clip_key(ref: ClipRef, fingerprint: str, auto: bool = False) -> str:
    """Cache key of one example: clip id, audio bytes (size + mtime), text, language, processor, and whether it
    is encoded without the hint (hinted keys are what they were before auto mode existed)."""
    st = os.stat(ref.path)
    raw = json.dumps([ref.clip_id, ref.text, ref.language, st.st_size, int(st.st_mtime_ns), fingerprint]
                     + (["auto"] if auto else []))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


def make_example(processor, audio: np.ndarray, text: str, language: str | None, auto: bool = False) -> dict:
    """Prompt (as inference builds it) + transcript tokens + EOS; labels −100 over the prompt.

    The prompt takes the base language (a ``pt-br`` clip is prompted ``lang:pt``, as Voxtral knows it); with
    ``auto`` (or no language) it carries no hint, as inference prompts "auto".
    """
    prompt = build_prompt(processor, audio, None if auto or not language else base_code(language))
    prompt_ids = prompt["input_ids"][0].tolist()
    target = processor.tokenizer.encode(text.strip(), add_special_tokens=False) + [processor.tokenizer.eos_token_id]
    return {
        "input_ids": prompt_ids + target,
        "labels": [IGNORE_INDEX] * len(prompt_ids) + target,
        "input_features": prompt["input_features"].numpy().astype(np.float32),  # (k, mel, frames)
    }


def _save(folder: Path, key: str, example: dict, features_of: str | None = None) -> None:
    """Write features (.npy) then ids (.json) atomically; the .json's presence marks a complete entry. With
    ``features_of`` the example reuses that entry's features (same audio, other prompt) instead of a copy."""
    folder.mkdir(parents=True, exist_ok=True)
    if features_of is None:
        buf = io.BytesIO()
        np.save(buf, example["input_features"])
        write_atomic(folder / f"{key}.npy", buf.getvalue())
    meta = {"input_ids": example["input_ids"], "labels": example["labels"],
            "n_chunks": int(example["input_features"].shape[0])}
    if features_of is not None:
        meta["features"] = features_of
    write_atomic(folder / f"{key}.json", json.dumps(meta).encode("utf-8"))


class FeatureSet(torch.utils.data.Dataset):
    """Cached examples of a list of clips; items memory-map their features (cheap to index).

    With an auto fraction, each clip has a hinted and an auto example; :meth:`set_epoch` picks which one each
    clip serves in that epoch (:class:`AutoLanguageEpochs` calls it at every epoch start)."""

    def __init__(self, folder: Path, keys: list[str], refs: list[ClipRef], auto_keys: list[str] | None = None,
                 fraction: float = 0.0, seed: int = 0):
        self.folder = Path(folder)
        self.keys = keys
        self.refs = refs
        self.meta = [json.loads((self.folder / f"{k}.json").read_text(encoding="utf-8")) for k in keys]
        self.auto_keys = auto_keys or []
        self.auto_meta = [json.loads((self.folder / f"{k}.json").read_text(encoding="utf-8")) for k in self.auto_keys]
        self.fraction, self.seed = fraction, seed
        self.auto: set[str] = set()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> set[str]:
        if self.auto_keys:
            self.auto = auto_language_ids([r.clip_id for r in self.refs], self.fraction, self.seed, epoch)
        return self.auto

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> dict:
        auto = self.refs[i].clip_id in self.auto
        key, meta = (self.auto_keys[i], self.auto_meta[i]) if auto else (self.keys[i], self.meta[i])
        return {
            "input_ids": meta["input_ids"],
            "labels": meta["labels"],
            "input_features": np.load(self.folder / f"{meta.get('features', key)}.npy", mmap_mode="r"),
        }

    @property
    def lengths(self) -> list[int]:
        return [len(m["input_ids"]) for m in self.meta]


class AutoLanguageEpochs(TrainerCallback):
    """Redraws which clips go without the language hint at the start of every epoch (resumes included)."""

    def __init__(self, train_set: FeatureSet):
        self.train_set = train_set

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.train_set.set_epoch(int(state.epoch or 0))
        return control


def build_features(processor, refs: list[ClipRef], cache_root: Path | None = None, log=None,
                   auto_fraction: float = 0.0, seed: int = 0) -> FeatureSet:
    """Examples for ``refs``, computing only those not cached yet (keyed per clip and processor); with
    ``auto_fraction`` also each clip's auto example (no language hint), which shares the hinted one's features."""
    from voxstudio.data.audio import load_audio

    fp = processor_fingerprint(processor)
    folder = Path(cache_root or workspace.cache_dir() / CACHE_SUBDIR) / fp
    keys, auto_keys = [], []
    made = 0
    for ref in refs:
        key = clip_key(ref, fp)
        audio = None
        if not (folder / f"{key}.json").exists():
            audio = load_audio(ref.path)
            _save(folder, key, make_example(processor, audio, ref.text, ref.language))
            made += 1
        keys.append(key)
        if auto_fraction > 0:
            auto_key = clip_key(ref, fp, auto=True)
            if not (folder / f"{auto_key}.json").exists():
                example = make_example(processor, load_audio(ref.path) if audio is None else audio, ref.text,
                                       ref.language, auto=True)
                _save(folder, auto_key, example, features_of=key)
            auto_keys.append(auto_key)
    if log:
        per_epoch = len(auto_language_ids([r.clip_id for r in refs], auto_fraction)) if auto_fraction > 0 else 0
        log(f"features: {len(refs)} clips ({made} computed, {len(refs) - made} from cache) in {folder}; "
            f"{per_epoch} per epoch without the language hint (a new draw each epoch)")
    return FeatureSet(folder, keys, refs, auto_keys, auto_fraction, seed)
