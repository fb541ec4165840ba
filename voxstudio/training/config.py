"""One training run's settings: a validated dataclass, presets, and the ONE mapping to peft/transformers.

Stdlib only at import time (the Train page imports this); ``to_lora_config`` and ``to_training_arguments``
import peft/transformers lazily. A run folder's ``config.json`` is this dataclass frozen at start; it never
holds a token, so it is safe to show, copy and publish.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import languages as language_codes
from voxstudio import workspace
from voxstudio.models import DEFAULT_BASE_MODEL, TINY

METHODS = ("lora", "full")
SCHEDULERS = ("cosine", "linear", "constant_with_warmup")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
SHARDINGS = ("none", "fsdp")  # whole model per process (data parallel), or sharded over the `gpus` processes (FSDP2)
ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_TARGETS = ("gate_proj", "up_proj", "down_proj")
ALL_TARGETS = ATTENTION_TARGETS + MLP_TARGETS
PROJECTOR_TARGET = r"multi_modal_projector\.linear_[12]"
# Keys that must never land in a saved config, whatever a caller passes.
SECRET_KEYS = ("token", "hf_token", "api_key", "password")

# Settings that make the in-code tiny model memorize a few clips in a few hundred CPU steps (measured).
TINY_DEFAULTS = {
    "method": "full",
    "learning_rate": 3e-3,
    "batch_size": 4,
    "grad_accum": 1,
    "warmup_steps": 20,
    "max_steps": 300,
    "scheduler": "cosine",
    "max_grad_norm": 1.0,
    "gradient_checkpointing": False,
    "eval_every": 100,
    "max_new_tokens": 64,
    # The tiny model memorises each clip only in the prompt modes it saw; its pipeline proofs train hinted
    # only (tests/test_auto_mode.py trains it with the default fraction, redrawn each epoch).
    "auto_language_fraction": 0.0,
}

# Presets: optimizer steps per minute of training audio, bounded; more data needs fewer passes per clip.
PRESETS = {
    "quick": {"steps_per_minute": 10, "min_steps": 30, "max_steps": 300, "learning_rate": 2e-4, "eval_every": 50},
    "balanced": {"steps_per_minute": 25, "min_steps": 60, "max_steps": 1000, "learning_rate": 1e-4,
                 "eval_every": 100},
    "thorough": {"steps_per_minute": 60, "min_steps": 120, "max_steps": 3000, "learning_rate": 5e-5,
                 "eval_every": 200},
}

# Default share of training examples without the language hint (RunConfig.auto_language_fraction): most
# examples keep the hint the studio prompts by default, enough go hint-less that auto mode is learned too.
AUTO_LANGUAGE_FRACTION = 0.3


@dataclass
class RunConfig:
    """Everything a run needs besides the data itself. Validated by ``validate()``; frozen as config.json."""

    run_name: str = "run"
    dataset: str = ""
    base_model: str = DEFAULT_BASE_MODEL
    method: str = "lora"
    languages: list[str] = field(default_factory=list)  # empty = every language in the dataset
    epochs: float = 3.0
    max_steps: int = -1  # -1: derived from epochs
    learning_rate: float = 1e-4
    batch_size: int = 4
    grad_accum: int = 1
    warmup_steps: int = 10
    scheduler: str = "cosine"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lambda: list(ATTENTION_TARGETS))
    lora_projector: bool = False
    freeze_audio_tower: bool = True
    gradient_checkpointing: bool = True
    eval_fraction: float = 0.1
    eval_every: int = 100
    max_eval_utterances: int = 50
    early_stopping_patience: int = 0  # 0 = off; else evaluations without WER improvement before stopping
    seed: int = 0
    precision: str = "auto"
    max_grad_norm: float = 1.0
    max_new_tokens: int = 0  # cap on each clip's budget (inference.max_new_tokens_for its duration); 0 = no cap
    # Share of clips served WITHOUT the language hint each epoch (auto mode: ``[/INST][TRANSCRIBE]``, as
    # ``apply_transcription_request(language=None)``), redrawn per epoch by ``features.auto_language_ids``.
    auto_language_fraction: float = AUTO_LANGUAGE_FRACTION
    gpus: int = 1
    sharding: str = "none"  # SHARDINGS; "fsdp" needs gpus >= 2
    clip_list: str = ""  # the run folder's frozen clip list (runs.rundata); "": older run, reads the dataset

    def __post_init__(self):
        # One spelling per language (pt_BR, pt-BR → pt-br), as datasets store them; invalid entries are left
        # for errors() to report.
        if isinstance(self.languages, list):
            self.languages = [language_codes.tidy(x) for x in self.languages]

    # ----- validation -----
    def errors(self) -> dict[str, str]:
        """Per-field problems, as sentences a user can act on (empty when valid)."""
        e: dict[str, str] = {}
        if not workspace.is_slug(self.run_name):
            e["run_name"] = ("run name must be 1–64 lower-case letters, digits, '-', '_' or '.', "
                             "starting with a letter or digit")
        if not workspace.is_slug(self.dataset):
            e["dataset"] = "choose a dataset (its name is a lower-case slug such as 'my-voice')"
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            e["base_model"] = f"base model must be a Hub id (e.g. {DEFAULT_BASE_MODEL}), a local folder or '{TINY}'"
        if self.method not in METHODS:
            e["method"] = f"method must be one of {', '.join(METHODS)} (got {self.method!r})"
        if not isinstance(self.languages, list) or any(
                not language_codes.is_code(x) for x in self.languages):
            e["languages"] = "languages must be language codes such as 'en', 'fr' or 'pt-br' (empty = all)"
        _num(e, "epochs", self.epochs, lo=0, lo_open=True, hi=1000)
        if not _is_int(self.max_steps) or (self.max_steps != -1 and self.max_steps < 1):
            e["max_steps"] = "max steps must be a positive whole number, or -1 to derive it from epochs"
        _num(e, "learning_rate", self.learning_rate, lo=0, lo_open=True, hi=1.0)
        _int(e, "batch_size", self.batch_size, 1, 1024)
        _int(e, "grad_accum", self.grad_accum, 1, 1024)
        _int(e, "warmup_steps", self.warmup_steps, 0, 10**6)
        if self.scheduler not in SCHEDULERS:
            e["scheduler"] = f"scheduler must be one of {', '.join(SCHEDULERS)}"
        _int(e, "lora_r", self.lora_r, 1, 1024)
        _int(e, "lora_alpha", self.lora_alpha, 1, 4096)
        _num(e, "lora_dropout", self.lora_dropout, lo=0, hi=0.9)
        if (not isinstance(self.lora_targets, list) or not self.lora_targets
                or any(t not in ALL_TARGETS for t in self.lora_targets)):
            e["lora_targets"] = f"LoRA targets must be a non-empty subset of {', '.join(ALL_TARGETS)}"
        for name in ("lora_projector", "freeze_audio_tower", "gradient_checkpointing"):
            if not isinstance(getattr(self, name), bool):
                e[name] = f"{name.replace('_', ' ')} must be true or false"
        _num(e, "eval_fraction", self.eval_fraction, lo=0, hi=0.5)  # 0 = evaluate on training clips
        _int(e, "eval_every", self.eval_every, 1, 10**6)
        _int(e, "max_eval_utterances", self.max_eval_utterances, 1, 10**5)
        _int(e, "early_stopping_patience", self.early_stopping_patience, 0, 1000)
        _int(e, "seed", self.seed, 0, 2**32 - 1)
        if self.precision not in PRECISIONS:
            e["precision"] = f"precision must be one of {', '.join(PRECISIONS)}"
        _num(e, "max_grad_norm", self.max_grad_norm, lo=0, lo_open=True, hi=1000)
        _int(e, "max_new_tokens", self.max_new_tokens, 0, 4096)  # 0 = the duration rule alone
        _num(e, "auto_language_fraction", self.auto_language_fraction, lo=0, hi=1)
        _int(e, "gpus", self.gpus, 1, 64)
        if self.sharding not in SHARDINGS or (self.sharding == "fsdp" and self.gpus == 1):
            e["sharding"] = f"sharding must be one of {', '.join(SHARDINGS)}; 'fsdp' shards over 2 or more gpus"
        if not isinstance(self.clip_list, str) or (self.clip_list and not workspace.is_slug(self.clip_list)):
            e["clip_list"] = "clip list must be a file name in the run folder such as 'clips.json' (or empty)"
        return e

    def validate(self) -> RunConfig:
        """Raise ValueError listing every invalid field (one line each); return self when valid."""
        e = self.errors()
        if e:
            lines = "\n".join(f"- {k}: {v}" for k, v in e.items())
            raise ValueError(f"invalid run settings:\n{lines}")
        return self

    # ----- (de)serialisation -----
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from a dict; unknown keys are a clear error (a typo must not be silently ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown run setting(s): {', '.join(unknown)}")
        return cls(**{k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items()}).validate()

    def save(self, path: Path) -> Path:
        """Write the validated config as JSON atomically (never contains a token)."""
        from voxstudio.runs.runfolder import write_json_atomic

        self.validate()
        data = self.to_dict()
        for key in SECRET_KEYS:
            data.pop(key, None)
        write_json_atomic(Path(path), data)
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"no run config at {path}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"run config {path} is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @property
    def is_tiny(self) -> bool:
        return self.base_model == TINY


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(e: dict, name: str, v, lo: int, hi: int) -> None:
    if not _is_int(v) or not lo <= v <= hi:
        e[name] = f"{name.replace('_', ' ')} must be a whole number from {lo} to {hi} (got {v!r})"


def _num(e: dict, name: str, v, lo: float, hi: float, lo_open: bool = False) -> None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok:
        ok = (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        low = f"above {lo}" if lo_open else f"at least {lo}"
        e[name] = f"{name.replace('_', ' ')} must be a number {low} and at most {hi} (got {v!r})"


def new_config(**fields) -> RunConfig:
    """A config with tiny-model defaults applied when ``base_model='tiny'`` (explicit fields still win)."""
    base = dict(TINY_DEFAULTS) if fields.get("base_model") == TINY else {}
    base.update(fields)
    return RunConfig.from_dict(base)


# Full fine-tuning moves every weight of the text model: the same preset uses a tenth of LoRA's learning rate.
FULL_LR_FACTOR = 0.1


def method_learning_rate(method: str, lora_rate: float) -> float:
    """The learning rate a preset (given for LoRA) means for ``method``."""
    return lora_rate if method == "lora" else lora_rate * FULL_LR_FACTOR


def preset(name: str, minutes_of_audio: float, clips: int, method: str = "lora") -> dict:
    """Overrides for preset ``name`` sized to the data: optimizer steps grow with minutes of audio, bounded.

    Steps are also at least two passes over the clips so that small datasets are seen more than once; the
    learning rate is the method's (full fine-tuning: ``FULL_LR_FACTOR`` of LoRA's).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    by_minutes = math.ceil(max(0.0, float(minutes_of_audio)) * p["steps_per_minute"])
    two_passes = math.ceil(2 * max(0, int(clips)) / 4)
    steps = int(min(p["max_steps"], max(p["min_steps"], by_minutes, two_passes)))
    return {
        "max_steps": steps,
        "learning_rate": method_learning_rate(method, p["learning_rate"]),
        "warmup_steps": max(5, steps // 20),
        "eval_every": min(p["eval_every"], max(10, steps // 4)),
        "batch_size": 4,
        "grad_accum": 1,
    }


def total_steps(cfg: RunConfig, n_train: int) -> int:
    """Optimizer steps the run will take (max_steps, or epochs over ``n_train`` clips), per process."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_step = cfg.batch_size * cfg.grad_accum * max(1, cfg.gpus)
    return max(1, math.ceil(math.ceil(max(1, n_train) / per_step) * cfg.epochs))


# ----- mappings to peft / transformers (lazy imports) -----
def lora_target_regex(cfg: RunConfig) -> str:
    """Regex over module names: text-model projections only (never the audio encoder), projector optional."""
    targets = "|".join(t for t in ALL_TARGETS if t in cfg.lora_targets)
    regex = rf".*language_model\..*\.({targets})"
    if cfg.lora_projector:
        regex = rf"(?:{regex})|(?:.*{PROJECTOR_TARGET})"
    return regex


def to_lora_config(cfg: RunConfig):
    """peft ``LoraConfig`` for ``cfg`` (text-model-only targets)."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_target_regex(cfg),
        bias="none",
    )


def resolve_precision(cfg: RunConfig, cuda: bool, bf16_ok: bool) -> str:
    """'auto' → bf16 on a bf16-capable GPU, fp16 on an older GPU, fp32 on CPU."""
    if cfg.precision != "auto":
        return cfg.precision if cuda or cfg.precision == "fp32" else "fp32"
    if not cuda:
        return "fp32"
    return "bf16" if bf16_ok else "fp16"


def load_dtype(cfg: RunConfig, cuda: bool, bf16_ok: bool) -> str:
    """The dtype the trainer loads and ``training.estimate`` counts: LoRA the run's precision (frozen base); full fp32
    (mixed precision's master weights) unless precision 'bf16' is asked for (pure bf16, half the memory)."""
    precision = resolve_precision(cfg, cuda, bf16_ok)
    return precision if cfg.method == "lora" or (precision == "bf16" and cfg.precision == "bf16") else "fp32"


def to_training_arguments(cfg: RunConfig, output_dir: str | Path, *, report_to: str | list[str] = "trackio",
                          cuda: bool | None = None, bf16_ok: bool | None = None, **overrides):
    """transformers ``TrainingArguments`` for ``cfg`` — the ONE place this mapping lives."""
    from transformers import TrainingArguments

    if cuda is None or bf16_ok is None:
        import torch

        cuda = torch.cuda.is_available() if cuda is None else cuda
        bf16_ok = (cuda and torch.cuda.is_bf16_supported()) if bf16_ok is None else bf16_ok
    precision = resolve_precision(cfg, cuda, bf16_ok)
    # FSDP2: each encoder/decoder layer a shard unit (the model's _no_split_modules); full-state-dict checkpoints
    # (loadable like any model; what resume reads); full fine-tuning checkpoints activations FSDP's way (no extra
    # all-gather), LoRA transformers' way (peft 0.21 saves an empty adapter from a model with checkpoint wrappers)
    fsdp_ac = cfg.sharding == "fsdp" and cfg.method == "full" and cfg.gradient_checkpointing
    fsdp = {"version": 2, "auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "state_dict_type": "FULL_STATE_DICT",
            "activation_checkpointing": fsdp_ac} if cfg.sharding == "fsdp" else None
    kwargs = dict(
        output_dir=str(output_dir),
        run_name=cfg.run_name,
        project=cfg.dataset or "voxstudio",
        trackio_space_id=None,
        trackio_static_space_id=False,
        report_to=report_to,
        num_train_epochs=float(cfg.epochs),
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        warmup_steps=cfg.warmup_steps,
        lr_scheduler_type=cfg.scheduler,
        max_grad_norm=cfg.max_grad_norm,
        weight_decay=0.0,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        activation_checkpointing=cfg.gradient_checkpointing and not fsdp_ac,
        activation_checkpointing_kwargs=({"use_reentrant": False} if cfg.gradient_checkpointing and not fsdp_ac
                                         else None),
        fsdp=True if fsdp else None, fsdp_config=fsdp,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.eval_every,
        save_total_limit=2,
        eval_strategy="no",  # WER evaluation is generation-based and run by our own callback
        dataloader_num_workers=0,
        disable_tqdm=True,
        use_cpu=not cuda,
        ddp_backend="gloo" if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        ddp_find_unused_parameters=False,
        push_to_hub=False,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


# ----- CLI twin (memory and time: training.estimate) -----
def cli_command(cfg: RunConfig) -> str:
    """The ``voxstudio train ...`` command that starts the same run from a terminal."""
    model = cfg.base_model
    parts = ["voxstudio", "train", "--dataset", cfg.dataset, "--model", model, "--method", cfg.method,
             "--run", cfg.run_name]
    if cfg.max_steps > 0:
        parts += ["--max-steps", str(cfg.max_steps)]
    else:
        parts += ["--epochs", f"{cfg.epochs:g}"]
    parts += ["--lr", f"{cfg.learning_rate:g}", "--batch-size", str(cfg.batch_size)]
    if cfg.grad_accum != 1:
        parts += ["--grad-accum", str(cfg.grad_accum)]
    if cfg.method == "lora":
        parts += ["--lora-r", str(cfg.lora_r), "--lora-alpha", str(cfg.lora_alpha)]
    parts += ["--eval-every", str(cfg.eval_every), "--seed", str(cfg.seed)]
    if cfg.auto_language_fraction != AUTO_LANGUAGE_FRACTION:
        parts += ["--auto-language-fraction", f"{cfg.auto_language_fraction:g}"]
    if cfg.precision != "auto":
        parts += ["--precision", cfg.precision]
    if cfg.gpus != 1:
        parts += ["--gpus", str(cfg.gpus)]
    if cfg.sharding == "fsdp":
        parts += ["--fsdp"]
    return " ".join(shlex.quote(p) for p in parts)
