"""One memory and time model for a run: what it needs, where it fits, how long it takes. Stdlib only.

The Train page, preflight (``runs.preflight``: refuses a run that cannot fit), the Home page's hint and the
README quote this module, and the trainer loads its weights in ``config.load_dtype``, the dtype counted here.

Parameters come from the model's widths (``training.modelspec``; Voxtral Mini 4.676 B and Small 24.262 B, each
with a 0.637 B Whisper-style audio encoder). Memory, per GPU (in RAM on a CPU), in bytes:

- weights: every parameter in ``config.load_dtype``. LoRA loads the frozen base in the run's precision (bf16 on a
  bf16 GPU, fp16 on an older one, fp32 on CPU). A full fine-tune keeps fp32 weights — the master copy that
  mixed precision computes from in bf16/fp16 (fp16 weights cannot be trained under the loss scaler) — unless
  precision ``bf16`` is asked for explicitly: then weights, gradients and optimizer states are pure bf16.
- gradients: one per trainable parameter, in its dtype; AdamW: two states per trainable parameter in the
  parameter's dtype (torch's AdamW). Full fp32: 4 + 4 + 8 = 16 bytes per trainable parameter, frozen ones 4
  (no separate master copy: the fp32 weights are it); pure bf16: 2 + 2 + 4 = 8. LoRA adapters are fp32 (peft
  upcasts them): 16 bytes per adapter parameter, the frozen base only its weights.
- data parallel (``gpus`` > 1) adds DDP's gradient buckets (one more copy of the gradients); FSDP divides
  weights, gradients and optimizer states by ``gpus`` and gathers one layer at a time.
- activations of one micro-batch: ``375 · windows`` audio tokens (every clip is padded to 30 s windows) plus
  text tokens, through every text layer (or, with gradient checkpointing, each layer's input plus one layer
  recomputed); the logits and their fp32 loss copies (vocabulary 131,072); the frozen encoder keeps nothing for
  backward (it runs without autograd), only one layer's transient activations.
- overhead: the CUDA context and allocator slack.

Time: FLOPs per sample (forward 2·N·tokens; backward ×1 for input gradients, ×1 more for the weights of a full
fine-tune; one more forward with gradient checkpointing) over the device's throughput, plus per-step overhead,
loading, features and the WER evaluations. It is an estimate until measured: the trainer replaces it with the
measured seconds per step (``RunCallback._eta``) once the first steps have run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from voxstudio.data.audio import WINDOW_S
from voxstudio.training.config import RunConfig, load_dtype, resolve_precision, total_steps
from voxstudio.training.modelspec import FRAMES_PER_WINDOW, ModelSpec, spec_for

GIB = 1024**3
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
AUDIO_TOKENS_PER_WINDOW = 375  # 1500 encoder frames, 4 per projector token
PROMPT_TOKENS = 8  # <s>[INST][BEGIN_AUDIO] … [/INST]lang:xx[TRANSCRIBE] and </s>, besides the audio tokens
TOKENS_PER_SPEECH_S = 4  # transcript tokens per second of dense speech (≈ 2.8 words/s × 1.4 tokens/word)
LOGIT_BYTES = 14  # per token and vocabulary entry: bf16 logits 2 + fp32 copy 4 + log-softmax 4 + its gradient 4
CUDA_CONTEXT = 1 * GIB
SLACK = 0.05  # allocator fragmentation, on top of everything counted
PROCESS_RAM = int(1.5 * GIB)  # python + torch + transformers in RAM (CPU runs)
GPU_SIZES_GIB = (16, 24, 40, 48, 80, 141)  # common single-GPU sizes, for "a GPU with at least … GB"
MFU = 0.3  # share of a GPU's peak 16-bit tensor throughput a training step reaches
CPU_FLOPS_PER_CORE = 20e9  # effective fp32 FLOP/s of one core in a training step (assumed, AVX2-class)
STEP_OVERHEAD_S = {"gpu": 0.05, "cpu": 0.08}  # per optimizer step (measured with the tiny model, idle 2 cores)
DECODE_S_PER_TOKEN = {"gpu": 0.025, "cpu": 0.02}  # generation floor per token (launch/python overhead)
BANDWIDTH = {"gpu": 1.5e12, "cpu": 2e10}  # bytes/s for reading the weights once per generated token
LOAD_S = {"gpu": 15.0, "cpu": 5.0}  # imports, processor, CUDA start; plus the weights at DISK_BYTES_PER_S
DISK_BYTES_PER_S = 1e9
FEATURE_S_PER_CLIP = 0.1


def lora_params(cfg: RunConfig, spec: ModelSpec) -> int:
    """Adapter parameters: r × (in + out) per targeted projection of every text layer (+ the projector)."""
    dims = spec.module_dims()
    n = spec.layers * sum(cfg.lora_r * sum(dims[t]) for t in cfg.lora_targets if t in dims)
    if cfg.lora_projector:
        n += cfg.lora_r * (4 * spec.audio_hidden + spec.hidden) + cfg.lora_r * 2 * spec.hidden
    return n


def text_tokens(clip_s: float) -> int:
    """Prompt plus transcript tokens of a clip of ``clip_s`` seconds of dense speech."""
    return PROMPT_TOKENS + math.ceil(TOKENS_PER_SPEECH_S * max(0.0, clip_s))


def windows(clip_s: float) -> int:
    return max(1, math.ceil(max(0.0, clip_s) / WINDOW_S))


@dataclass(frozen=True)
class Memory:
    """Bytes one GPU (or the RAM of a CPU run) needs, by part."""

    dtype: str
    trainable: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    @property
    def gib(self) -> float:
        return self.total / GIB


def memory(cfg: RunConfig, spec: ModelSpec, *, cuda: bool = True, bf16_ok: bool = True,
           clip_s: float = WINDOW_S) -> Memory:
    """What ``cfg`` needs per device for its longest clip of ``clip_s`` seconds (see the module docstring)."""
    dtype = load_dtype(cfg, cuda, bf16_ok)
    w = DTYPE_BYTES[dtype]
    if cfg.method == "lora":
        trainable = lora_params(cfg, spec)
        weights, grads, optim = spec.params * w + trainable * 4, trainable * 4, trainable * 8
    else:
        trainable = spec.text_params + spec.projector_params + (0 if cfg.freeze_audio_tower else spec.audio_params)
        weights, grads, optim = spec.params * w, trainable * w, trainable * 2 * w
    n = max(1, cfg.gpus)
    if cfg.sharding == "fsdp" and n > 1:  # gathered in 16 bits: the root unit (embedding + head), two layers
        gathered = 2 * (2 * spec.vocab * spec.hidden + 2 * (spec.text_params // spec.layers))
        weights, grads, optim = weights // n + gathered, grads // n, optim // n
    elif n > 1:
        grads *= 2  # DDP's gradient buckets
    # activations: 16-bit compute saves 2 bytes per element, mixed precision over fp32 weights ~3, pure fp32 4
    compute16 = resolve_precision(cfg, cuda, bf16_ok) != "fp32"
    a = (2 if w == 2 else 3) if compute16 else 4
    h, q, kv, i = spec.hidden, spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim, spec.intermediate
    per_token_layer = 4 * h + 3 * q + 3 * kv + 4 * i  # norms in/out, q k v, rotated q k, attention out, SwiGLU
    if cfg.method == "lora" and cfg.lora_dropout > 0:  # each adapter's dropout output and mask, its r-wide middle
        dims = spec.module_dims()
        per_token_layer += sum(dims[t][0] * 3 // 2 + cfg.lora_r for t in cfg.lora_targets if t in dims)
    tokens = cfg.batch_size * (AUDIO_TOKENS_PER_WINDOW * windows(clip_s) + text_tokens(clip_s))
    if cfg.gradient_checkpointing:
        text = spec.layers * tokens * h * a + 2 * tokens * per_token_layer * a
    else:
        text = spec.layers * tokens * per_token_layer * a
    logits = tokens * spec.vocab * (LOGIT_BYTES if compute16 else 12)
    frames = cfg.batch_size * windows(clip_s) * FRAMES_PER_WINDOW
    audio_layer = frames * (8 * spec.audio_hidden + 2 * spec.audio_ffn) * a
    if cfg.method == "full" and not cfg.freeze_audio_tower:  # a trained encoder keeps its activations
        audio = spec.audio_layers * (frames * spec.audio_hidden * a if cfg.gradient_checkpointing else audio_layer)
    else:
        audio = audio_layer  # frozen: one layer's transient forward, nothing kept for backward
    projector = cfg.batch_size * windows(clip_s) * AUDIO_TOKENS_PER_WINDOW * (4 * spec.audio_hidden + 2 * h) * a
    acts = text + logits + audio + projector
    counted = weights + grads + optim + acts
    overhead = int(counted * SLACK) + (CUDA_CONTEXT if cuda else PROCESS_RAM)
    return Memory(dtype, trainable, int(weights), int(grads), int(optim), int(acts), overhead)


# ----- time -----
def sample_flops(cfg: RunConfig, spec: ModelSpec, clip_s: float) -> float:
    """Training FLOPs of one sample (the frozen encoder is counted in :func:`encoder_flops`, once per clip)."""
    t = AUDIO_TOKENS_PER_WINDOW * windows(clip_s) + text_tokens(clip_s)
    matmul = spec.text_params - spec.vocab * spec.hidden * (0 if spec.tied else 1)  # the embedding is a lookup
    forward = 2 * matmul * t + 4 * spec.layers * t * t * spec.heads * spec.head_dim
    passes = (2 if cfg.method == "lora" else 3) + (1 if cfg.gradient_checkpointing else 0)
    flops = forward * passes
    if cfg.method == "full" and not cfg.freeze_audio_tower:
        flops += encoder_flops(spec, clip_s) * passes
    return flops


def encoder_flops(spec: ModelSpec, clip_s: float) -> float:
    f = FRAMES_PER_WINDOW * windows(clip_s)
    return 2 * spec.audio_params * f + 4 * spec.audio_layers * f * FRAMES_PER_WINDOW * spec.audio_hidden


@dataclass(frozen=True)
class Device:
    """Where a run trains: the largest GPU (memory in bytes, peak 16-bit TFLOP/s) or the CPU and its RAM."""

    kind: str  # "gpu" | "cpu"
    memory: int  # bytes: one GPU's memory, or the machine's RAM
    count: int = 1
    bf16: bool = True
    tflops: float = 100.0
    cores: int = 1
    name: str = ""
    available: int = 0  # bytes of RAM free now (CPU)
    load: float = 0.0  # the 1-minute load average: a busy CPU trains slower

    @property
    def cuda(self) -> bool:
        return self.kind == "gpu"

    @property
    def slowdown(self) -> float:
        """How much slower than idle a CPU run goes while the machine is busy (1 on a GPU)."""
        return 1.0 if self.cuda else 1.0 + self.load / max(1, self.cores)


def device_of(hw) -> Device:
    """A :class:`Device` from ``runs.hardware.Hardware`` (GPUs from nvidia-smi, RAM from /proc/meminfo)."""
    if hw.gpus:
        best = max(hw.gpus, key=lambda g: g.memory_total_mib)
        return Device("gpu", best.memory_total_mib * 1024**2, len(hw.gpus), best.bf16, best.tflops,
                      hw.cpu_count, best.name)
    return Device("cpu", hw.ram_total_mib * 1024**2, 1, False, 0.0, hw.cpu_count, "CPU",
                  hw.ram_available_mib * 1024**2, os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0)


def seconds(cfg: RunConfig, spec: ModelSpec, device: Device, n_train: int, n_eval: int, mean_s: float,
            weight_bytes: int) -> float:
    """Wall-clock seconds of the whole run: loading, features, baseline and every WER evaluation, the steps."""
    kind = device.kind
    speed = device.tflops * 1e12 * MFU if device.cuda else max(1, device.cores) * CPU_FLOPS_PER_CORE
    per_step = cfg.batch_size * cfg.grad_accum * sample_flops(cfg, spec, mean_s) / speed + STEP_OVERHEAD_S[kind]
    steps = total_steps(cfg, n_train)
    frozen = cfg.method == "lora" or cfg.freeze_audio_tower  # run once per clip, then cached (training.encoder)
    encoder = (n_train + n_eval) * encoder_flops(spec, mean_s) / speed if frozen else 0.0
    t = AUDIO_TOKENS_PER_WINDOW * windows(mean_s) + text_tokens(mean_s)
    new = cfg.max_new_tokens if cfg.is_tiny else min(cfg.max_new_tokens, text_tokens(mean_s) - PROMPT_TOKENS + 1)
    per_token = max(DECODE_S_PER_TOKEN[kind], weight_bytes / max(1, cfg.gpus) / BANDWIDTH[kind])
    per_clip = 2 * spec.params * t / speed + new * per_token
    evals = 1 + steps // cfg.eval_every + (1 if steps % cfg.eval_every else 0)  # baseline, every N, the last
    evaluating = evals * min(n_eval, cfg.max_eval_utterances) * per_clip / max(1, cfg.gpus if device.cuda else 1)
    loading = LOAD_S[kind] + weight_bytes / DISK_BYTES_PER_S + FEATURE_S_PER_CLIP * (n_train + n_eval)
    return (loading + encoder + evaluating + steps * per_step) * device.slowdown


# ----- the plan the Train page shows and preflight checks -----
def method_phrase(cfg: RunConfig) -> str:
    return "Full fine-tuning" if cfg.method == "full" else "LoRA fine-tuning"


def _fits(cfg, spec, device, clip_s) -> tuple[bool, Memory]:
    m = memory(cfg, spec, cuda=device.cuda, bf16_ok=device.bf16, clip_s=clip_s)
    return m.total <= device.memory, m


def alternatives(cfg: RunConfig, spec: ModelSpec, device: Device, clip_s: float) -> list[str]:
    """Settings that would fit ``device``, each with its need, most similar first."""
    tries: list[tuple] = []  # (what to change, the config it gives[, a note])
    if not cfg.gradient_checkpointing:
        tries.append(("turn on gradient checkpointing", cfg.replace(gradient_checkpointing=True)))
    if cfg.batch_size > 1:
        tries.append((f"batch size 1 with gradient accumulation {cfg.batch_size * cfg.grad_accum}",
                      cfg.replace(batch_size=1, grad_accum=cfg.batch_size * cfg.grad_accum)))
    if cfg.method == "full" and load_dtype(cfg, device.cuda, device.bf16) == "fp32" and device.cuda and device.bf16:
        tries.append(("precision bf16", cfg.replace(precision="bf16"), "; pure bf16 weights and optimizer states"))
    if cfg.method == "full":
        tries.append(("use LoRA", cfg.replace(method="lora", gradient_checkpointing=True)))
        if device.count > 1 and cfg.sharding != "fsdp":
            tries.append((f"shard it with FSDP over the {device.count} GPUs (--fsdp --gpus {device.count})",
                          cfg.replace(sharding="fsdp", gpus=device.count)))
    out = []
    for text, alt, *note in tries:
        ok, m = _fits(alt, spec, device, clip_s)
        if ok:
            out.append(f"{text} (~{m.gib:.0f} GiB{''.join(note)})")
    return out


def bigger_gpu(cfg: RunConfig, spec: ModelSpec, clip_s: float) -> str:
    """'a GPU with at least 80 GB' for ``cfg``, or the FSDP sharding it needs when no single GPU holds it."""
    for size in GPU_SIZES_GIB:
        if memory(cfg, spec, clip_s=clip_s).total <= size * GIB:
            pure = cfg.replace(precision="bf16")
            if cfg.method == "full" and load_dtype(cfg, True, True) == "fp32":  # name the pure-bf16 size too
                smaller = next((g for g in GPU_SIZES_GIB if memory(pure, spec, clip_s=clip_s).total <= g * GIB), 0)
                if smaller and smaller < size:
                    return f"a GPU with at least {size} GB ({smaller} GB with precision bf16)"
            return f"a GPU with at least {size} GB"
    big = GPU_SIZES_GIB[-2]
    for n in (2, 4, 8, 16):
        per = memory(cfg.replace(sharding="fsdp", gpus=n), spec, clip_s=clip_s).total
        if per <= big * GIB:
            return (f"no single GPU holds it: shard it over {n} GPUs of {big} GB (--fsdp --gpus {n}, "
                    f"~{per / GIB:.0f} GiB each)")
    return "no single GPU holds it: shard it over more than 16 GPUs"


def fit_sentence(cfg: RunConfig, spec: ModelSpec, device: Device, need: int, dtype: str, clip_s: float) -> str:
    """Why ``cfg`` does not fit ``device`` (``need`` bytes), naming the settings that would."""
    ways = alternatives(cfg, spec, device, clip_s)
    ways.append(bigger_gpu(cfg, spec, clip_s) if device.cuda else f"a GPU machine ({bigger_gpu(cfg, spec, clip_s)})")
    where = "this GPU has" if device.cuda else "this machine has"
    unit = "of GPU memory" if device.cuda else "of RAM"
    return (f"{method_phrase(cfg)} of {spec.label} needs ~{need / GIB:.0f} GiB {unit} (batch {cfg.batch_size}, "
            f"{dtype} weights); {where} {device.memory / GIB:.0f} GiB: {', or '.join(ways)}.")


def plan(cfg: RunConfig, clips: list, device: Device) -> dict:
    """Steps, seconds, memory of ``cfg`` on the dataset's ``clips`` (objects with ``duration_s``) and ``device``.

    ``problem``: the refusal sentence when it cannot fit (GPU memory; RAM on a CPU); ``warning``: a CPU run that
    fits, with its time; ``measured`` is False: the time is an estimate until the trainer measures its steps.
    """
    from voxstudio.training.selection import select

    sel = select(clips, cfg.languages, cfg.eval_fraction, cfg.seed, cfg.max_eval_utterances)
    n_train, n_eval = max(1, len(sel.train)), len(sel.held)
    lengths = [float(getattr(c, "duration_s", 0) or 0) for c in [*sel.train, *sel.held]] or [WINDOW_S / 3]
    mean_s, clip_s = sum(lengths) / len(lengths), max(lengths)
    spec = spec_for(cfg.base_model)
    out = {"steps": total_steps(cfg, n_train), "device": device.kind, "have_gib": device.memory / GIB,
           "spec": spec, "memory": None, "need_gib": None, "dtype": None, "fits": True, "seconds": None,
           "problem": None, "warning": None, "measured": False}
    if spec is None:  # a model whose widths cannot be read: no memory claim, no refusal
        return out
    run = cfg.replace(gpus=max(1, min(cfg.gpus, device.count))) if device.cuda else cfg  # the trainer's clamp
    m = memory(run, spec, cuda=device.cuda, bf16_ok=device.bf16, clip_s=clip_s)
    need = m.total * (1 if device.cuda else max(1, cfg.gpus))  # CPU processes share the RAM
    out.update(memory=m, need_gib=need / GIB, dtype=m.dtype, fits=not device.memory or need <= device.memory,
               seconds=round(seconds(run, spec, device, n_train, n_eval, mean_s, m.weights)))
    if not out["fits"]:
        out["problem"] = fit_sentence(run, spec, device, need, m.dtype, clip_s)
    elif not device.cuda and not cfg.is_tiny:
        tight = f" (only {device.available / GIB:.0f} GiB free now)" if need > device.available > 0 else ""
        out["warning"] = (f"No GPU: this run trains {spec.label} on the CPU, which takes about "
                          f"{duration(out['seconds'])} (an estimate until the first steps are measured) and "
                          f"~{need / GIB:.0f} GiB of RAM{tight}. Use a GPU machine, or the tiny model to check "
                          "the pipeline.")
    return out


def duration(s: float) -> str:
    """'40 s', '12 min', '3.5 h', '4.2 days'."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h" if s < 48 * 3600 else f"{s / 86400:.1f} days"
