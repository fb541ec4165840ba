"""The per-model table the memory and time model reads: widths of each Voxtral, and parameter counts from them.

Stdlib only. Voxtral = a Llama/Mistral text model + a Whisper-large-v3-style audio encoder (32 layers, d 1280,
1500 frames per 30 s window) + a projector (4 stacked frames, 5120 → hidden → hidden, no biases). The widths
are the Hub configs' (``text_config`` / ``audio_config``); the counts they give are transformers' own
(``tests/test_estimate.py`` builds the models on the meta device): Voxtral Mini 4,676,271,104 (text 4.014 B,
untied 131,072-token embedding and head), Voxtral Small 24,261,800,960 (text 23.572 B), each with a
636,968,960-parameter encoder; ``tiny`` is ``training.tiny``'s TEXT/AUDIO (162,048).
"""

from __future__ import annotations

from dataclasses import dataclass

from voxstudio.models import DEFAULT_BASE_MODEL, TINY, VOXTRAL_SMALL, looks_like_path

FRAMES_PER_WINDOW = 1500  # encoder positions: one 30 s window


@dataclass(frozen=True)
class ModelSpec:
    """Widths of a Voxtral: a Llama/Mistral text model, a Whisper-style encoder, a two-linear projector."""

    label: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    audio_layers: int = 32
    audio_hidden: int = 1280
    audio_ffn: int = 5120
    mel_bins: int = 128
    tied: bool = False

    @property
    def text_params(self) -> int:
        h, q, kv = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim
        layer = 2 * h * q + 2 * h * kv + 3 * h * self.intermediate + 2 * h  # q, o, k, v, gate/up/down, 2 norms
        return self.layers * layer + self.vocab * h * (1 if self.tied else 2) + h

    @property
    def audio_params(self) -> int:
        d, f = self.audio_hidden, self.audio_ffn
        layer = 4 * d * d + 3 * d + 2 * d * f + f + d + 4 * d  # q k v o (k without bias), fc1 fc2, 2 layer norms
        stem = self.mel_bins * d * 3 + d + d * d * 3 + d + FRAMES_PER_WINDOW * d  # 2 convolutions, positions
        return self.audio_layers * layer + stem + 2 * d

    @property
    def projector_params(self) -> int:
        return 4 * self.audio_hidden * self.hidden + self.hidden * self.hidden  # 4 frames stacked → hidden → hidden

    @property
    def params(self) -> int:
        return self.text_params + self.audio_params + self.projector_params

    def module_dims(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each LoRA-targetable projection of one text layer."""
        h, q, kv, i = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}


# Hub configs of mistralai/Voxtral-Mini-3B-2507 and -Small-24B-2507; tiny = training.tiny's TEXT/AUDIO.
MODELS = {
    DEFAULT_BASE_MODEL: ModelSpec("Voxtral Mini", 30, 3072, 32, 8, 128, 8192, 131072),
    VOXTRAL_SMALL: ModelSpec("Voxtral Small", 40, 5120, 32, 8, 128, 32768, 131072),
    TINY: ModelSpec("the tiny model", 2, 64, 4, 2, 16, 128, 356, audio_layers=1, audio_hidden=16, audio_ffn=64),
}


def spec_from_config(data: dict, label: str) -> ModelSpec:
    """A :class:`ModelSpec` from a Voxtral ``config.json`` (``text_config`` / ``audio_config``)."""
    t, a = data.get("text_config") or {}, data.get("audio_config") or {}
    heads = int(t["num_attention_heads"])
    return ModelSpec(label, int(t["num_hidden_layers"]), int(t["hidden_size"]), heads,
                     int(t.get("num_key_value_heads") or heads), int(t.get("head_dim") or t["hidden_size"] // heads),
                     int(t["intermediate_size"]), int(t["vocab_size"]), int(a.get("num_hidden_layers", 32)),
                     int(a.get("hidden_size", 1280)), int(a.get("intermediate_size", 5120)),
                     int(a.get("num_mel_bins", 128)), bool(t.get("tie_word_embeddings", False)))


def spec_for(model: str) -> ModelSpec | None:
    """The widths of ``model``: the table, else its config.json (a local folder or the Hub cache), else None."""
    if model in MODELS:
        return MODELS[model]
    import json
    from pathlib import Path

    path = Path(model).expanduser() / "config.json"
    if not looks_like_path(model) and not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(model, "config.json")
            path = Path(found) if isinstance(found, str) else path
        except Exception:  # noqa: BLE001 - no cache, no hub library: the widths are unknown
            return None
    try:
        return spec_from_config(json.loads(path.read_text(encoding="utf-8")), model)
    except (OSError, ValueError, KeyError, TypeError):
        return None
