"""Transcribe with a (fine-tuned) Voxtral: the ONE inference path shared by the Try page, the CLI, the
trainer's WER evaluation and the demo Space.

Self-contained on purpose (this file is copied into the Space): it depends only on transformers, peft,
soundfile, numpy and torch (soxr optional). Prompts are built exactly as training builds them
(``apply_transcription_request``), and fine-tuned weights that cannot be loaded raise — a silent fallback
to the base model would make every "after" number a lie.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from transformers import AutoProcessor, VoxtralForConditionalGeneration

# This file ships alone into the demo Space, so it keeps its own copies of a few rules owned elsewhere:
# SAMPLING_RATE (voxstudio.data.audio.SAMPLE_RATE), LANG_PREFIX_RE (voxstudio.languages.PREFIX_RE),
# prompt_language (voxstudio.languages.base_code), split_language (voxstudio.languages.split_prefix) and
# looks_like_path (voxstudio.models.looks_like_path). tests/test_rules.py fails when they drift apart.
SAMPLING_RATE = 16000
# The generation budget of a clip grows with its length (max_new_tokens_for): TOKENS_PER_SECOND·s + TOKENS_BASE.
TOKENS_PER_SECOND = 8.0
TOKENS_BASE = 16
MODEL_ID_FOR_PROMPT = "voxtral"  # only a label inside the transcription request; never fetched
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
LANG_PREFIX_RE = re.compile(r"^\s*lang:([a-z]{2,3})\s*", re.IGNORECASE)


class ModelLoadError(RuntimeError):
    """The requested model or adapter could not be loaded (message says which and what to do)."""


@dataclass
class TranscriptionResult:
    text: str
    n_tokens: int
    stopped_by_eos: bool
    seconds: float
    language: str | None = None  # the hint given, or the one the model announced with "lang:xx"
    token_ids: tuple[int, ...] = ()  # the generated ids before EOS (what decoding read)


def _resample(audio: np.ndarray, sr: int, target: int = SAMPLING_RATE) -> np.ndarray:
    if sr == target:
        return audio
    try:
        import soxr

        return soxr.resample(audio, sr, target).astype(np.float32)
    except ImportError:
        n = int(round(len(audio) * target / sr))
        x = np.linspace(0, len(audio) - 1, num=max(n, 1))
        return np.interp(x, np.arange(len(audio)), audio).astype(np.float32)


def load_audio_array(audio, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """Path or array → float32 mono at 16 kHz."""
    if isinstance(audio, (str, Path)):
        data, sr = sf.read(str(audio), dtype="float32", always_2d=True)
        data = data.mean(axis=1)
    else:
        data, sr = np.asarray(audio, dtype=np.float32), int(sampling_rate)
        if data.ndim == 2:
            data = data.mean(axis=1 if data.shape[1] <= 8 else 0)
    if data.size == 0:
        raise ValueError("the audio is empty")
    return _resample(np.ascontiguousarray(data, dtype=np.float32), sr)


def prompt_language(language: str | None) -> str | None:
    """The ISO 639-1 code the prompt takes: 'en-GB' / 'pt_BR' → 'en' / 'pt'; None or 'auto' → None."""
    if not language or language.lower() == "auto":
        return None
    return re.split(r"[-_]", language.strip())[0].lower()


def build_prompt(processor, audio: np.ndarray, language: str | None):
    """Prompt ``<s>[INST][BEGIN_AUDIO][AUDIO]×375·k[/INST]lang:xx[TRANSCRIBE]`` + features (k 30 s chunks)."""
    language = prompt_language(language)
    return processor.apply_transcription_request(
        language=language, audio=audio, model_id=MODEL_ID_FOR_PROMPT, sampling_rate=SAMPLING_RATE,
        format="wav",
    )


def max_new_tokens_for(duration_s: float, language: str | None = None) -> int:
    """How many new tokens a clip of ``duration_s`` seconds may generate: ``ceil(8 · seconds + 16)``.

    2 s → 32, 10 s → 96, 30 s → 256, 5 min → 2416 (30 s of the densest French below needs ~125 with EOS,
    ~130 cased and punctuated: the old fixed 128 cut it).
    Measured with Voxtral's own tokenizer (tekken_240911, 131k, through mistral_common) on the exact
    transcripts of the 110 real clips in tests/fixtures/speech and shared/speech (en 49, fr 43, de 6, es 5,
    pt 5, zh 2; 1–43 s): the densest clip per language ran at fr 4.0, en 3.9, de 3.9, zh 3.4, es 3.1, pt 3.0
    tokens/s (medians 2.1–2.7), 4.1 counting EOS; cased, punctuated output costs ~7 % more than those
    normalised transcripts, and one sentence in it/nl/hi (no clips) takes up to ~15 % more tokens than in
    French. 8 tokens/s is twice the densest rate; the 16 fixed tokens hold EOS, the ``lang:xx`` the model
    writes in auto mode (3 tokens) and a short clip's one long word or number. Every language measured fits
    the same rate, so ``language`` (None = auto) does not change the budget today; it is part of the
    signature so a language that needs more can get its own rate. Outputs that hit the budget are reported as
    cut off (``stopped_by_eos`` False): that count, not silence, is the sign the rule is too tight. The byte-level
    tokenizer of the tiny test model spends ~5 tokens per tekken token: its budgets fit short phrases only.
    """
    del language  # same rate for every measured language (see above)
    return int(math.ceil(TOKENS_PER_SECOND * max(float(duration_s), 0.0) + TOKENS_BASE))


def split_language(text: str) -> tuple[str | None, str]:
    """'lang:fr bonjour' → ('fr', 'bonjour'); text without a prefix is returned unchanged."""
    m = LANG_PREFIX_RE.match(text)
    if not m:
        return None, text.strip()
    return m.group(1).lower(), text[m.end():].strip()


class Transcriber:
    """A loaded model + processor on one device."""

    def __init__(self, model, processor, device: torch.device, source: str):
        self.model = model.eval()
        self.processor = processor
        self.device = device
        self.source = source
        self.dtype = next(model.parameters()).dtype
        gen = getattr(model, "generation_config", None)
        eos = getattr(gen, "eos_token_id", None) if gen is not None else None
        eos = eos if eos is not None else processor.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.pad_id = processor.tokenizer.pad_token_id

    @torch.inference_mode()
    def transcribe(self, audio, sampling_rate: int = SAMPLING_RATE, language: str | None = "en",
                   max_new_tokens: int | None = None, should_stop=None) -> TranscriptionResult:
        """Greedy transcription; ``language=None`` means "auto" (no language hint in the prompt).

        ``max_new_tokens``: None gives the clip's budget from its duration (:func:`max_new_tokens_for`).
        ``should_stop``: optional callable checked between generated tokens (a stop request ends early).
        """
        start = time.perf_counter()
        wave = load_audio_array(audio, sampling_rate)
        if max_new_tokens is None:
            max_new_tokens = max_new_tokens_for(wave.size / SAMPLING_RATE, language)
        inputs = build_prompt(self.processor, wave, language)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["input_features"] = inputs["input_features"].to(self.dtype)
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                  pad_token_id=self.pad_id, **self._stopping(should_stop))
        return self._result(out[0, inputs["input_ids"].shape[1]:].tolist(), max_new_tokens, language,
                            time.perf_counter() - start)

    @torch.inference_mode()
    def transcribe_batch(self, audios, languages=None, sampling_rate: int = SAMPLING_RATE, max_new_tokens=None,
                         should_stop=None) -> list[TranscriptionResult]:
        """Greedy transcription of several clips in one ``generate`` call: the tokens one at a time would give.

        ``languages``: one per clip, or one for all (None = auto). ``max_new_tokens``: None (each clip's budget
        from its duration), one int for all, or one per clip (int or None). Prompts differ in length (one
        375-token [AUDIO] run per 30 s chunk, the ``lang:xx`` prefix or none) and are LEFT-padded, so every
        row generates from its last prompt token; position ids follow the attention mask. The features of all
        chunks are concatenated in clip order: the model fills the [AUDIO] slots row by row. The batch runs
        to the largest budget (a row past its own budget counts as finished), then each clip keeps its tokens
        up to its own budget and its first EOS. ``seconds`` of each result is the whole batch's time.
        """
        start = time.perf_counter()
        n = len(audios)
        langs = list(languages) if isinstance(languages, (list, tuple)) else [languages] * n
        budgets = list(max_new_tokens) if isinstance(max_new_tokens, (list, tuple)) else [max_new_tokens] * n
        if len(langs) != n or len(budgets) != n:
            raise ValueError(f"{n} clips need {n} languages and budgets (got {len(langs)} and {len(budgets)})")
        if n == 0:
            return []
        prompts = []
        for i, (audio, language) in enumerate(zip(audios, langs)):
            wave = load_audio_array(audio, sampling_rate)
            if budgets[i] is None:
                budgets[i] = max_new_tokens_for(wave.size / SAMPLING_RATE, language)
            prompts.append(build_prompt(self.processor, wave, language))
        width = max(p["input_ids"].shape[1] for p in prompts)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, p in enumerate(prompts):
            length = p["input_ids"].shape[1]
            ids[i, width - length:] = p["input_ids"][0]
            mask[i, width - length:] = 1
        features = torch.cat([p["input_features"] for p in prompts]).to(self.device, self.dtype)
        limit = torch.tensor(budgets, device=self.device)
        out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                  input_features=features, max_new_tokens=max(budgets), do_sample=False,
                                  pad_token_id=self.pad_id,
                                  **self._stopping(should_stop, lambda input_ids: input_ids.shape[1] - width >= limit))
        seconds = time.perf_counter() - start
        return [self._result(out[i, width:].tolist()[:budgets[i]], budgets[i], langs[i], seconds) for i in range(n)]

    @staticmethod
    def _stopping(should_stop=None, row_done=None) -> dict:
        """``generate`` kwargs for a stop request (every row) and per-row ends (``row_done(input_ids)``)."""
        if should_stop is None and row_done is None:
            return {}
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                done = torch.full((input_ids.shape[0],), should_stop is not None and bool(should_stop()),
                                  dtype=torch.bool, device=input_ids.device)
                return done | row_done(input_ids) if row_done is not None else done

        return {"stopping_criteria": StoppingCriteriaList([_Stop()])}

    def _result(self, new: list[int], budget: int, language: str | None, seconds: float) -> TranscriptionResult:
        """Decode one clip's new tokens (up to its first EOS; a row of a batch may run on after it)."""
        end = next((i for i, t in enumerate(new) if t in self.eos_ids), None)
        stopped = end is not None
        new = new[:end] if stopped else new[:budget]
        raw = self.processor.tokenizer.decode(new, skip_special_tokens=True)
        announced, text = split_language(raw)
        return TranscriptionResult(text=text, n_tokens=len(new) + int(stopped), stopped_by_eos=stopped,
                                   seconds=seconds, language=prompt_language(language) or announced,
                                   token_ids=tuple(new))


def _pick_device(device) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _pick_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _where(model: str) -> str:
    return "folder" if Path(model).exists() else "Hub repo"


def _is_adapter(model: str) -> bool:
    """True when ``model`` (folder or Hub repo) holds a LoRA adapter rather than full weights."""
    if Path(model).is_dir():
        return (Path(model) / ADAPTER_CONFIG).exists()
    if Path(model).exists():
        raise ModelLoadError(f"{model} is a file; point at the model or adapter folder instead")
    try:
        from huggingface_hub import hf_hub_download

        hf_hub_download(model, ADAPTER_CONFIG)
        return True
    except Exception:  # noqa: BLE001 - absent file or unreachable Hub: try as a full model next
        return False


def looks_like_path(model: str) -> bool:
    """Hub ids are 'name' or 'owner/name'; anything else with slashes or a leading dot/tilde is a path."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _load_full(model: str, dtype: torch.dtype):
    if looks_like_path(model) and not Path(model).expanduser().exists():
        raise ModelLoadError(f"no model folder at {model}: check the path (it must hold config.json and weights)")
    try:
        loaded, info = VoxtralForConditionalGeneration.from_pretrained(model, dtype=dtype, output_loading_info=True)
    except OSError as exc:
        raise ModelLoadError(
            f"could not load the model {model!r} ({_where(model)}): {exc}. If you are offline, download it once "
            "or point at a local copy (a folder with config.json and model weights)."
        ) from exc
    missing = [k for k in info.get("missing_keys", []) if "lm_head" not in k]
    if missing:
        raise ModelLoadError(
            f"the weights in {model!r} do not match a Voxtral model ({len(missing)} missing, e.g. {missing[0]}); "
            "refusing to run with randomly initialised layers."
        )
    return loaded


def _check_adapter_loaded(peft_model, adapter: str) -> None:
    """Every saved adapter tensor must be present in the model with the same values."""
    from peft import get_peft_model_state_dict

    path = Path(adapter) / ADAPTER_WEIGHTS
    if not path.exists():
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(adapter, ADAPTER_WEIGHTS))
    from safetensors.torch import load_file

    saved = load_file(str(path))
    live = get_peft_model_state_dict(peft_model)
    if not saved or set(saved) != set(live):
        raise ModelLoadError(
            f"the adapter in {adapter!r} does not fit its base model: {len(set(saved) - set(live))} saved "
            f"tensor(s) have no place in the model. Check that the base model is the one it was trained on."
        )
    for key, value in saved.items():
        if not torch.equal(live[key].detach().cpu().to(value.dtype), value):
            raise ModelLoadError(f"adapter tensor {key} did not load from {adapter!r}")


def load_transcriber(model: str, base_model: str | None = None, device=None,
                     dtype: torch.dtype | None = None) -> Transcriber:
    """Load a full/merged model folder or Hub id, or a LoRA adapter (folder or repo) on its base model.

    ``base_model`` overrides the adapter's recorded base (useful when the base lives at another path).
    Raises ``ModelLoadError`` with a clear message when anything cannot be loaded.
    """
    model = str(model)
    dev = _pick_device(device)
    dtype = dtype or _pick_dtype(dev)
    if _is_adapter(model):
        from peft import PeftConfig, PeftModel

        try:
            peft_config = PeftConfig.from_pretrained(model)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"could not read the adapter config in {model!r}: {exc}") from exc
        base = base_model or peft_config.base_model_name_or_path
        if not base:
            raise ModelLoadError(f"the adapter {model!r} does not say which base model it needs; pass base_model")
        net = _load_full(base, dtype)
        try:
            net = PeftModel.from_pretrained(net, model)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"could not load the LoRA adapter {model!r} onto {base!r}: {exc}") from exc
        _check_adapter_loaded(net, model)
        # The adapter folder's own processor files would be read without the base config (and load the wrong
        # tokenizer class); the adapter never changes the tokenizer, so take it from the base.
        processor_source = base
    else:
        net = _load_full(model, dtype)
        processor_source = model
    try:
        processor = AutoProcessor.from_pretrained(processor_source)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"could not load the processor (tokenizer) from {processor_source!r}: {exc}") from exc
    return Transcriber(net.to(dev), processor, dev, model)
