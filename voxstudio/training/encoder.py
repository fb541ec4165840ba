"""The frozen audio encoder costs once: no autograd through it, and its outputs cached per 30 s chunk.

Why: Voxtral's audio tower (0.637 B parameters) is frozen by default, yet transformers hooks its first
convolution when gradient checkpointing or adapters are on (``enable_input_require_grads``), so every backward
pass ran through it; and every epoch ran it again on the same clips although its output never changes.

:func:`install` replaces the forward of the frozen part of the model — the audio tower, or the tower and the
projector together when the projector is frozen too (LoRA's default) — by one that runs under ``no_grad`` and
looks each chunk up in a cache keyed by the chunk's log-mel bytes and the frozen weights' fingerprint. The
cache lives in memory and on disk (``$VOXSTUDIO_HOME/cache/encoder/<fingerprint>/``), so epochs after the
first, evaluations and a resumed run skip the encoder. Chunks are independent in the encoder (each 30 s window
is its own sequence), so a cached chunk is exactly what the encoder would compute.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling

from voxstudio.atomicfile import write_atomic

CACHE_SUBDIR = "encoder"
TOWER, AUDIO = "tower", "audio"  # what is cached: the tower's output, or the projector's (audio embeddings)
MEMORY_CHUNKS = 4096  # chunks kept in memory (older ones are read back from disk)


def voxtral_core(model):
    """The ``VoxtralModel`` inside ``model`` (plain, or wrapped by peft)."""
    for module in model.modules():
        if hasattr(module, "audio_tower") and hasattr(module, "multi_modal_projector"):
            return module
    raise ValueError("not a Voxtral model: no audio_tower / multi_modal_projector found")


def frozen_stage(model) -> str | None:
    """What can be cached: AUDIO when tower and projector are frozen, TOWER when only the tower is, else None."""
    core = voxtral_core(model)
    if any(p.requires_grad for p in core.audio_tower.parameters()):
        return None
    return TOWER if any(p.requires_grad for p in core.multi_modal_projector.parameters()) else AUDIO


def fingerprint(model, stage: str, source: str = "") -> str:
    """Identifies the frozen weights (and dtype) whose outputs are cached: a changed base never reuses them."""
    core = voxtral_core(model)
    modules = [core.audio_tower] + ([core.multi_modal_projector] if stage == AUDIO else [])
    h = hashlib.sha1(f"{stage}|{source}".encode())
    with torch.no_grad():
        for module in modules:
            for name, p in module.named_parameters():
                h.update(f"{name}{tuple(p.shape)}{p.dtype}".encode())
                h.update(f"{float(p.float().sum()):.6e}/{float(p.float().abs().sum()):.6e}".encode())
    return h.hexdigest()[:16]


class EncoderCache:
    """Per-chunk outputs of the frozen encoder part, in memory and (if ``folder``) on disk."""

    def __init__(self, folder: Path | None, stage: str):
        self.folder = Path(folder) if folder else None
        self.stage = stage
        self.memory: dict[str, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(chunk: torch.Tensor) -> str:
        data = chunk.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def get(self, key: str) -> torch.Tensor | None:
        if key in self.memory:
            return self.memory[key]
        if self.folder and (path := self.folder / f"{key}.pt").is_file():
            try:
                value = torch.load(path, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, EOFError):
                return None  # unreadable (should not happen: writes are atomic): recompute
            self._remember(key, value)
            return value
        return None

    def put(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().to("cpu").contiguous()
        self._remember(key, value)
        if self.folder:
            buf = io.BytesIO()
            torch.save(value, buf)
            write_atomic(self.folder / f"{key}.pt", buf.getvalue())

    def _remember(self, key: str, value: torch.Tensor) -> None:
        if len(self.memory) >= MEMORY_CHUNKS:
            self.memory.pop(next(iter(self.memory)))
        self.memory[key] = value

    def run(self, compute, input_features: torch.Tensor) -> torch.Tensor:
        """Per-chunk outputs for ``input_features`` [chunks, mels, frames], computing only the missing ones."""
        keys = [self.key(chunk) for chunk in input_features]
        found = [self.get(k) for k in keys]
        missing = [i for i, v in enumerate(found) if v is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            with torch.no_grad():
                fresh = compute(input_features[missing])
            for i, value in zip(missing, fresh):
                self.put(keys[i], value)
                found[i] = value.detach()
        return torch.stack([v.to(input_features.device) for v in found])


def install(model, folder: Path | None = None, source: str = "") -> EncoderCache | None:
    """Make the frozen encoder part of ``model`` run without autograd and from the cache; None if nothing is frozen.

    Call after freezing/wrapping (LoRA) and before training. Outputs are bit-identical to the uncached model's
    (same weights, same chunks), gradients never enter the frozen part, and trainable parts (a LoRA'd or
    trainable projector, the language model) train as before.
    """
    stage = frozen_stage(model)
    if stage is None:
        return None
    core = voxtral_core(model)
    cache = EncoderCache(Path(folder) / fingerprint(model, stage, source) if folder else None, stage)
    tower, projector = core.audio_tower, core.multi_modal_projector
    tower_forward = tower.forward
    width = core.config.audio_config.intermediate_size

    if stage == TOWER:
        def cached_tower(input_features, *args, **kwargs):
            hidden = cache.run(lambda x: tower_forward(x, return_dict=True).last_hidden_state, input_features)
            return BaseModelOutput(last_hidden_state=hidden)

        tower.forward = cached_tower
    else:
        def compute(x):
            hidden = tower_forward(x, return_dict=True).last_hidden_state  # [chunks, 375, 4*d] after reshape
            embeds = projector(hidden.reshape(-1, width))
            return embeds.reshape(x.shape[0], -1, embeds.shape[-1])

        def cached_audio_features(input_features, **kwargs):
            embeds = cache.run(compute, input_features)
            return BaseModelOutputWithPooling(pooler_output=embeds.reshape(-1, embeds.shape[-1]))

        core.get_audio_features = cached_audio_features
    return cache
