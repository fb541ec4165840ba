"""The built-in ``tiny`` Voxtral: random weights and a byte-level tekken tokenizer, all built in code.

Why: CI and CPU users need the whole pipeline (features → training → generation → save/reload → publish)
to run in seconds with no download. The layout is the real Voxtral one (Whisper-style audio tower with a
30 s window, projector, Llama text model, tekken v7 tokenizer with Voxtral's special-token ids), only tiny.
Measured: it memorizes a handful of short real clips with *full* fine-tuning in a few hundred CPU steps.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

import torch
from transformers import (
    LlamaConfig,
    VoxtralConfig,
    VoxtralEncoderConfig,
    VoxtralForConditionalGeneration,
    VoxtralProcessor,
    WhisperFeatureExtractor,
)
from transformers.tokenization_mistral_common import MistralCommonBackend

from voxstudio import workspace
from voxstudio.data.audio import SAMPLE_RATE
from voxstudio.models import TINY as NAME  # the model name that means "build me in code"

CACHE_SUBDIR = "tiny-voxtral"
TOKENIZER_FILE = "tekken.json"
NUM_SPECIAL = 100
NUM_BYTES = 256
VOCAB_SIZE = NUM_SPECIAL + NUM_BYTES
# Voxtral's special-token ids (the rest are <SPECIAL_i> placeholders, as in the real file).
SPECIAL_IDS = {
    0: "<unk>", 1: "<s>", 2: "</s>", 3: "[INST]", 4: "[/INST]", 5: "[AVAILABLE_TOOLS]",
    6: "[/AVAILABLE_TOOLS]", 7: "[TOOL_RESULTS]", 8: "[/TOOL_RESULTS]", 9: "[TOOL_CALLS]", 10: "[IMG]",
    11: "<pad>", 12: "[IMG_BREAK]", 13: "[IMG_END]", 14: "[PREFIX]", 15: "[MIDDLE]", 16: "[SUFFIX]",
    17: "[SYSTEM_PROMPT]", 18: "[/SYSTEM_PROMPT]", 19: "[TOOL_CONTENT]", 24: "[AUDIO]", 25: "[BEGIN_AUDIO]",
    32: "[ARGS]", 33: "[CALL_ID]", 34: "[TRANSCRIBE]",
}
AUDIO_TOKEN_ID = 24
PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?"
    r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)
AUDIO_SECTION = {
    "sampling_rate": SAMPLE_RATE,
    "frame_rate": 12.5,
    "chunk_length_s": 30.0,
    "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
}
# Sizes (measured to learn fast on 2 CPU cores): text 64 wide × 2 layers, audio 16 wide × 1 layer.
TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16}
AUDIO = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}


def tekken_dict() -> dict:
    """The tiny tekken tokenizer file content: 256 byte tokens after 100 special tokens (v7, audio)."""
    specials = [
        {"rank": i, "token_str": SPECIAL_IDS.get(i, f"<SPECIAL_{i}>"), "is_control": True}
        for i in range(NUM_SPECIAL)
    ]
    vocab = [
        {"rank": b, "token_bytes": base64.b64encode(bytes([b])).decode("ascii"),
         "token_str": chr(b) if 32 <= b < 127 else None}
        for b in range(NUM_BYTES)
    ]
    return {
        "config": {"pattern": PATTERN, "num_vocab_tokens": NUM_BYTES, "default_vocab_size": VOCAB_SIZE,
                   "default_num_special_tokens": NUM_SPECIAL, "version": "v7"},
        "vocab": vocab,
        "special_tokens": specials,
        "version": 1,
        "type": "Tekken",
        "audio": AUDIO_SECTION,
    }


def tiny_config() -> VoxtralConfig:
    """A VoxtralConfig with the real layout (30 s audio window, audio token 24) but tiny widths."""
    audio = VoxtralEncoderConfig(
        **AUDIO, intermediate_size=4 * AUDIO["hidden_size"], max_source_positions=1500, num_mel_bins=128,
        vocab_size=VOCAB_SIZE,
    )
    text = LlamaConfig(
        **TEXT, vocab_size=VOCAB_SIZE, max_position_embeddings=2048, rope_theta=10000.0,
        bos_token_id=1, eos_token_id=2, pad_token_id=11, tie_word_embeddings=False,
    )
    return VoxtralConfig(audio_config=audio, text_config=text, audio_token_id=AUDIO_TOKEN_ID,
                         projector_hidden_act="gelu")


def build_processor(folder: Path) -> VoxtralProcessor:
    """Processor over the tokenizer file in ``folder`` (written if missing)."""
    folder = Path(folder)
    path = folder / TOKENIZER_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tekken_dict()), encoding="utf-8")
    tokenizer = MistralCommonBackend(tokenizer_path=str(path))
    return VoxtralProcessor(WhisperFeatureExtractor(feature_size=128), tokenizer)


def build_tiny(path: Path, seed: int = 0) -> Path:
    """Save a deterministic tiny model + processor into ``path`` (atomically: built aside, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = VoxtralForConditionalGeneration(tiny_config())
        model.generation_config.eos_token_id = 2
        model.generation_config.pad_token_id = 11
        model.generation_config.bos_token_id = 1
        model.save_pretrained(tmp)
        build_processor(tmp).save_pretrained(tmp)
        (tmp / "VOXSTUDIO_TINY").write_text("random-weight tiny Voxtral built by voxstudio.training.tiny\n")
        try:
            os.replace(tmp, path)
        except OSError:  # another process built it first
            if not (path / "config.json").exists():
                raise
    finally:
        torch.random.set_rng_state(state)
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return path


def tiny_path() -> Path:
    """``$VOXSTUDIO_HOME/cache/tiny-voxtral``, built on first use; loads like any local model folder."""
    path = workspace.cache_dir() / CACHE_SUBDIR
    if not (path / "config.json").exists():
        build_tiny(path)
    return path


def resolve_model(name: str) -> str:
    """'tiny' → the cached tiny folder; anything else unchanged (hub id or local path)."""
    return str(tiny_path()) if name == NAME else name
