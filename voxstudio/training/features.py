"""Training examples computed once and cached: prompt ids, labels and log-mel features per clip.

Why: the public recipe calls ``apply_transcription_request`` on raw audio in the collator at every step, so
the GPU waits for WAV encoding, resampling and a mel transform. We build each clip's example exactly the way
inference builds its prompt, once per (clip, text, language, processor), store it under
``$VOXSTUDIO_HOME/cache/features/`` and memory-map it during training; the collator only pads and stacks.

An example is ``prompt + transcript + EOS`` with labels −100 over the prompt. Clips longer than 30 s
give k feature chunks and 375·k audio tokens; the feature batch therefore counts chunks, not examples.
"""

from __future__ import annotations

import hashlib
import io
import json
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


def clip_key(ref: ClipRef, fingerprint: str) -> str:
    """Cache key of one example: clip id, audio bytes (size + mtime), text, language and processor."""
    st = os.stat(ref.path)
    raw = json.dumps([ref.clip_id, ref.text, ref.language, st.st_size, int(st.st_mtime_ns), fingerprint])
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


def make_example(processor, audio: np.ndarray, text: str, language: str | None) -> dict:
    """Prompt (as inference builds it) + transcript tokens + EOS; labels −100 over the prompt.

    The prompt takes the base language (a ``pt-br`` clip is prompted ``lang:pt``, as Voxtral knows it).
    """
    prompt = build_prompt(processor, audio, base_code(language) if language else None)
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


def build_features(processor, refs: list[ClipRef], cache_root: Path | None = None, log=None) -> FeatureSet:
    """Examples for ``refs``, computing only those not cached yet (keyed per clip and processor)."""
    from voxstudio.data.audio import load_audio

    fp = processor_fingerprint(processor)
    folder = Path(cache_root or workspace.cache_dir() / CACHE_SUBDIR) / fp
    keys = []
    made = 0
    for ref in refs:
        key = clip_key(ref, fp)
        if not (folder / f"{key}.json").exists():
            _save(folder, key, make_example(processor, load_audio(ref.path), ref.text, ref.language))
            made += 1
        keys.append(key)
    if log:
        log(f"features: {len(refs)} clips ({made} computed, {len(refs) - made} from cache) in {folder}")
    return FeatureSet(folder, keys, refs)
