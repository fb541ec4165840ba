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

``RunConfig.auto_language_fraction`` of the training clips (:func:`auto_language_ids`: per clip id and seed, so
the same clips every epoch and after a resume) are encoded the auto way, the rest hinted; the choice is part of
each example's cache key.
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


def auto_language_ids(clip_ids, fraction: float, seed: int = 0) -> set[str]:
    """The clips whose example is encoded without the language hint: ``round(fraction × n)`` of them, those
    whose sha1(seed, clip id) ranks lowest. Deterministic per clip id and seed (the same clips every epoch, on
    resume and in every process); a run's clip list is frozen, so its subset never changes."""
    ids = list(dict.fromkeys(clip_ids))
    count = min(len(ids), math.floor(max(0.0, float(fraction)) * len(ids) + 0.5))
    ranked = sorted(ids, key=lambda cid: hashlib.sha1(f"{int(seed)}:{cid}".encode()).hexdigest())
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


def _save(folder: Path, key: str, example: dict) -> None:
    """Write features (.npy) then ids (.json) atomically; the .json's presence marks a complete entry."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.save(buf, example["input_features"])
    write_atomic(folder / f"{key}.npy", buf.getvalue())
    meta = {"input_ids": example["input_ids"], "labels": example["labels"],
            "n_chunks": int(example["input_features"].shape[0])}
    write_atomic(folder / f"{key}.json", json.dumps(meta).encode("utf-8"))


class FeatureSet(torch.utils.data.Dataset):
    """Cached examples of a list of clips; items memory-map their features (cheap to index)."""

    def __init__(self, folder: Path, keys: list[str], refs: list[ClipRef]):
        self.folder = Path(folder)
        self.keys = keys
        self.refs = refs
        self.meta = [json.loads((self.folder / f"{k}.json").read_text(encoding="utf-8")) for k in keys]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> dict:
        meta = self.meta[i]
        return {
            "input_ids": meta["input_ids"],
            "labels": meta["labels"],
            "input_features": np.load(self.folder / f"{self.keys[i]}.npy", mmap_mode="r"),
        }

    @property
    def lengths(self) -> list[int]:
        return [len(m["input_ids"]) for m in self.meta]


def build_features(processor, refs: list[ClipRef], cache_root: Path | None = None, log=None,
                   auto_ids: set[str] | frozenset = frozenset()) -> FeatureSet:
    """Examples for ``refs``, computing only those not cached yet (keyed per clip and processor); clips in
    ``auto_ids`` (:func:`auto_language_ids`) are encoded without the language hint."""
    from voxstudio.data.audio import load_audio

    fp = processor_fingerprint(processor)
    folder = Path(cache_root or workspace.cache_dir() / CACHE_SUBDIR) / fp
    keys = []
    made = 0
    for ref in refs:
        auto = ref.clip_id in auto_ids
        key = clip_key(ref, fp, auto)
        if not (folder / f"{key}.json").exists():
            _save(folder, key, make_example(processor, load_audio(ref.path), ref.text, ref.language, auto))
            made += 1
        keys.append(key)
    if log:
        hint_less = sum(ref.clip_id in auto_ids for ref in refs)
        log(f"features: {len(refs)} clips ({made} computed, {len(refs) - made} from cache; {hint_less} without the "
            f"language hint) in {folder}")
    return FeatureSet(folder, keys, refs)
