"""GPU check: a random Voxtral-Mini at real size, LoRA and full fine-tuning steps, and generation, in one run.

What it builds: Voxtral-Mini-3B's layout and widths (audio encoder 1280 wide, text model 3072 wide, 131,072-token
vocabulary) with random weights, and a real-vocabulary processor: mistral-common's ``tekken_240911.json``
(131,072 tokens) converted into a Voxtral-style v7 tekken file — Voxtral's special tokens and the audio section,
as ``voxstudio.training.tiny`` writes its own. Examples are what the trainer trains on
(``training.features.make_example``: the inference prompt with one 30 s audio chunk = 375 audio tokens, a
transcript, EOS; ``training.collator`` pads them), from synthetic audio. Nothing is downloaded.

What it prints, for LoRA (the default LoRA of ``RunConfig``: r 16 on q/k/v/o of the text model, bf16 base
weights) and full fine-tuning (audio encoder frozen; fp32 master weights like the trainer) at each batch size:
step time (forward, backward, grad-norm clip, AdamW step; after warm-up steps), tokens/s (real, unpadded decoder
tokens), TFLOP/s and MFU, peak memory, and the audio encoder's forward time alone (no grad) with its share of the
step; then greedy generation of the same utterances one at a time vs in
one left-padded batch (utterances/s, every utterance forced to ``--new-tokens`` new tokens).

Model FLOPs per step (MFU = model FLOPs / step time / peak; recomputation by gradient checkpointing is not
counted, so MFU is a lower bound of hardware use when it is on). Forward FLOPs of each part:
  encoder   F_enc  = chunks · (2·(P_conv1·3000 + (P_conv2 + P_layers)·1500) + 4·n_enc·1500²·d_enc)
  projector F_proj = 2·P_proj · 375·chunks
  text      F_text = 2·(P_layers + P_lm_head)·T + 4·n_dec·d_attn·Σ L_i²        (T = Σ L_i real tokens)
(the embedding lookups cost nothing; attention counted in full, not causal-halved; no bias/norm terms). The
backward pass costs 2× forward for trainable weights (input and weight gradients), ≈ 1× for frozen weights on
the gradient path (input gradients only), nothing before the first trainable weight:
  full (encoder frozen) = F_enc + 3·(F_proj + F_text)                      ≈ 6·trainable-path params·tokens
  LoRA (encoder, projector frozen) = F_enc + F_proj + 2·F_text + 6·P_lora·T  (2·forward + backward through text)
Peak: 989 TFLOP/s dense bf16 for H100/H200 (``bench/train_throughput.PEAK_TFLOPS``), ``--peak-tflops`` otherwise.

Time: on one H100/H200 at the defaults (full depth 32+30 layers, batch sizes 1,4,8, 8 timed steps after 2
warm-up ones, 8 utterances × 64 new tokens) it should take about 2–3 minutes (~30 s to start CUDA and build
the bf16 and fp32 models, ~60 s of training steps, ~30 s of generation); the ceiling is 5 minutes. On CPU
(``--device cpu --layers 2``: real widths, 2+2 layers) it is a pipeline check, not a measurement: every model is
fp32 and nothing autocasts (a CPU without AVX-512 BF16 emulates bf16 matmuls at a small fraction of its fp32
speed), and the full fine-tune also freezes the input embeddings (fp32 AdamW over them would not fit 24 GiB);
a LoRA step of batch 1 takes ~17 s on 2 threads (5.4 GiB), the whole check ~2.5 minutes.

    .venv/bin/python bench/gpu.py [--layers N] [--device cuda] [--batch-sizes 1,4,8] [--steps 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENCODER_LAYERS, DECODER_LAYERS = 32, 30  # Voxtral-Mini's depth; --layers keeps this ratio
FRAMES, POSITIONS, AUDIO_TOKENS = 3000, 1500, 375  # per 30 s chunk: mel frames, encoder positions, text tokens
WARMUP_STEPS = 2
SENTENCES = [  # transcripts of the synthetic clips (their token counts vary, as real transcripts do)
    "turn on the kitchen lights and set the living room to twenty one degrees",
    "remind me to call the dentist tomorrow morning at nine",
    "quelle est la météo prévue pour ce week-end à Lyon",
    "play the next episode of the podcast I was listening to yesterday evening",
    "añade leche, huevos y pan a la lista de la compra",
    "what time does the last train to the airport leave tonight",
    "schalte bitte das Licht im Flur aus",
    "read me the three most recent messages from my sister",
]
TRAIN_COLUMNS = ["method", "batch", "step ms", "tokens/s", "TFLOP/s", "MFU", "peak GiB", "encoder ms",
                 "encoder share"]
GEN_COLUMNS = ["generation", "utterances", "new tokens", "seconds", "utt/s", "tokens/s"]


# ----- tokenizer and model -----
def voxtral_tekken(source: Path) -> dict:
    """mistral-common's tekken (v3, no special-token list) as a Voxtral v7 tekken with the audio section."""
    from voxstudio.training.tiny import AUDIO_SECTION, SPECIAL_IDS

    data = json.loads(source.read_text(encoding="utf-8"))
    n_special = data["config"]["default_num_special_tokens"]
    data["config"]["version"] = "v7"
    data["special_tokens"] = [{"rank": i, "token_str": SPECIAL_IDS.get(i, f"<SPECIAL_{i}>"), "is_control": True}
                              for i in range(n_special)]
    data["audio"] = AUDIO_SECTION
    data.pop("image", None)
    data.setdefault("version", 1)
    data.setdefault("type", "Tekken")
    return data


def build_processor(folder: Path):
    import mistral_common
    from transformers import VoxtralProcessor, WhisperFeatureExtractor
    from transformers.tokenization_mistral_common import MistralCommonBackend

    source = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"
    path = Path(folder) / "tekken.json"
    path.write_text(json.dumps(voxtral_tekken(source)), encoding="utf-8")
    return VoxtralProcessor(WhisperFeatureExtractor(feature_size=128), MistralCommonBackend(tokenizer_path=str(path)))


def depths(layers: int | None) -> tuple[int, int]:
    """(encoder, decoder) layers: Voxtral-Mini's 32:30, or ``layers`` decoder layers at that ratio."""
    if layers is None:
        return ENCODER_LAYERS, DECODER_LAYERS
    return max(1, round(layers * ENCODER_LAYERS / DECODER_LAYERS)), layers


def voxtral_mini_config(layers: int | None):
    from transformers import VoxtralConfig

    from voxstudio.training.tiny import AUDIO_TOKEN_ID

    cfg = VoxtralConfig(audio_token_id=AUDIO_TOKEN_ID, projector_hidden_act="gelu")  # defaults: Voxtral-Mini widths
    cfg.audio_config.num_hidden_layers, cfg.text_config.num_hidden_layers = depths(layers)
    cfg.text_config.bos_token_id, cfg.text_config.eos_token_id, cfg.text_config.pad_token_id = 1, 2, 11
    cfg.use_cache = cfg.text_config.use_cache = False  # training steps (generation passes use_cache=True)
    return cfg


def build_model(cfg, device, dtype):
    """Random weights, created directly on ``device`` in ``dtype`` (seconds on a GPU, no host copy)."""
    import torch
    from transformers import VoxtralForConditionalGeneration

    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = VoxtralForConditionalGeneration(cfg)
    finally:
        torch.set_default_dtype(default)
    model.generation_config.bos_token_id, model.generation_config.eos_token_id = 1, 2
    model.generation_config.pad_token_id = 11
    return model


def part_sizes(model) -> dict:
    """Parameter counts and widths the FLOP formulas use (taken from the model itself)."""
    core = model.model
    tower, text = core.audio_tower, core.language_model
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    tcfg = model.config.text_config
    return {
        "conv1": n(tower.conv1), "conv2": n(tower.conv2), "encoder_layers": n(tower.layers),
        "projector": n(core.multi_modal_projector), "text_layers": n(text.layers), "lm_head": n(model.lm_head),
        "embeddings": n(text.embed_tokens) + n(tower.embed_positions), "total": n(model),
        "n_enc": model.config.audio_config.num_hidden_layers, "d_enc": model.config.audio_config.hidden_size,
        "n_dec": tcfg.num_hidden_layers, "d_attn": tcfg.num_attention_heads * tcfg.head_dim,
    }


def step_flops(sizes: dict, method: str, chunks: int, lengths: list[int], lora_params: int = 0) -> float:
    """Model FLOPs of one training step (see the module docstring)."""
    s = sizes
    f_enc = chunks * (2 * (s["conv1"] * FRAMES + (s["conv2"] + s["encoder_layers"]) * POSITIONS)
                      + 4 * s["n_enc"] * POSITIONS ** 2 * s["d_enc"])
    f_proj = 2 * s["projector"] * AUDIO_TOKENS * chunks
    tokens = sum(lengths)
    f_text = 2 * (s["text_layers"] + s["lm_head"]) * tokens + 4 * s["n_dec"] * s["d_attn"] * sum(x * x for x in lengths)
    if method == "full":
        return f_enc + 3 * (f_proj + f_text)
    return f_enc + f_proj + 2 * f_text + 6 * lora_params * tokens


# ----- data -----
def synthetic_audio(seconds: float, seed: int):
    """Speech-like noise: a few harmonics under a syllable-rate envelope, plus a little noise (16 kHz float32)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 110 + 40 * rng.random()
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.random() * 6.28) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.1 * voice * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def examples(processor, n: int) -> list[dict]:
    """``n`` training examples built as the trainer builds them (one 30 s chunk each: clips of 3–12 s)."""
    from voxstudio.training.features import make_example

    return [make_example(processor, synthetic_audio(3 + (i * 7) % 10, i), SENTENCES[i % len(SENTENCES)], "en")
            for i in range(n)]


def generation_prompts(processor, n: int) -> list[dict]:
    """Inference prompts of ``n`` utterances; every fourth is 40 s (2 chunks), so prompt lengths differ."""
    from voxstudio.inference import build_prompt

    return [build_prompt(processor, synthetic_audio(40.0 if i % 4 == 3 else 4 + i % 6, 100 + i), "en")
            for i in range(n)]


def left_padded(prompts: list[dict], pad_id: int) -> dict:
    import torch

    width = max(p["input_ids"].shape[1] for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        size = p["input_ids"].shape[1]
        ids[i, width - size:] = p["input_ids"][0]
        mask[i, width - size:] = 1
    return {"input_ids": ids, "attention_mask": mask,
            "input_features": torch.cat([p["input_features"] for p in prompts], dim=0)}


# ----- measurements -----
class Device:
    def __init__(self, name: str):
        import torch

        self.torch = torch
        self.device = torch.device(name)
        self.cuda = self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats(self.device)

    def peak_gib(self) -> float:
        if self.cuda:
            return self.torch.cuda.max_memory_allocated(self.device) / 2**30
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB: the process's max RSS

    def autocast(self):
        """bf16 autocast on a GPU; plain fp32 on a CPU, whose models are fp32 (``main``): a CPU without AVX-512
        BF16 emulates bf16 matmuls at a small fraction of its fp32 speed, and the CPU run is a pipeline check,
        not a measurement."""
        if not self.cuda:
            return contextlib.nullcontext()
        return self.torch.autocast(self.device.type, dtype=self.torch.bfloat16)

    def free(self) -> None:
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()


def to_device(batch: dict, dev: Device, dtype) -> dict:
    out = {k: v.to(dev.device) for k, v in batch.items()}
    out["input_features"] = out["input_features"].to(dtype)
    return out


def timed(dev: Device, fn, repeats: int) -> float:
    """Mean seconds of ``fn()`` over ``repeats`` calls (device synchronised around them)."""
    dev.sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    dev.sync()
    return (time.perf_counter() - t) / repeats


def train_rows(method: str, model, sizes: dict, batches: dict, dev: Device, steps: int, warmup: int,
               peak_tflops: float | None, checkpointing: bool) -> list[dict]:
    """Step time, throughput, MFU, memory and encoder share of ``method`` at each batch size."""
    torch = dev.torch
    lora_params = 0
    if method == "lora":
        from peft import get_peft_model

        from voxstudio.training.config import RunConfig, to_lora_config

        for p in model.parameters():
            p.requires_grad_(False)
        model = get_peft_model(model, to_lora_config(RunConfig(dataset="bench")))
        lora_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        for p in model.model.audio_tower.parameters():
            p.requires_grad_(False)
        if not dev.cuda:  # fp32 AdamW over the 0.40 B-row embedding table too would not fit a 24 GiB machine
            model.get_input_embeddings().weight.requires_grad_(False)
    if checkpointing:  # as the trainer does (non-reentrant)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    tower = model.get_base_model().model.audio_tower if method == "lora" else model.model.audio_tower
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, fused=dev.cuda)
    rows = []
    for bs, (batch, lengths) in batches.items():
        row = {"method": method, "batch": bs, "trainable": sum(p.numel() for p in params)}
        dev.reset_peak()
        inputs = to_device(batch, dev, next(tower.parameters()).dtype)

        def step(inputs=inputs):
            with dev.autocast():
                loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        def encoder(inputs=inputs):
            with torch.no_grad(), dev.autocast():
                tower(inputs["input_features"])

        try:
            if warmup:
                timed(dev, step, warmup)
            step_s = timed(dev, step, steps)
            encoder_s = timed(dev, encoder, max(1, steps))
        except torch.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            dev.free()
            rows.append({**row, "oom": True})
            continue
        flops = step_flops(sizes, method, inputs["input_features"].shape[0], lengths, lora_params)
        row.update(step_s=step_s, tokens_per_s=sum(lengths) / step_s, tflops=flops / step_s / 1e12,
                   mfu=flops / step_s / (peak_tflops * 1e12) if peak_tflops else None, peak_gib=dev.peak_gib(),
                   encoder_s=encoder_s, encoder_share=encoder_s / step_s, step_flops=flops, tokens=sum(lengths))
        rows.append(row)
        progress(f"{method} batch {bs}: step {step_s:.2f} s, encoder {encoder_s:.2f} s")
    optimizer.zero_grad(set_to_none=True)
    if checkpointing:
        model.activation_checkpointing_disable()
    if method == "lora":
        model.unload()  # the adapters out again: the caller's model is the plain base model
    return rows


def generation_rows(model, prompts: list[dict], pad_id: int, dev: Device, new_tokens: int, dtype) -> list[dict]:
    """The same utterances generated one at a time, then in one left-padded batch."""
    torch = dev.torch
    model.eval()
    fixed = {"do_sample": False, "pad_token_id": pad_id, "use_cache": True}  # KV cache: the encoder runs once

    def generate(batch, n_new):
        with torch.no_grad(), dev.autocast():
            out = model.generate(**to_device(batch, dev, dtype), **{**fixed, "max_new_tokens": n_new,
                                                                    "min_new_tokens": n_new})
        return out.shape

    generate(left_padded(prompts[:1], pad_id), 2)  # warm-up
    single = [left_padded([p], pad_id) for p in prompts]
    dev.sync()
    t = time.perf_counter()
    for b in single:
        generate(b, new_tokens)
    dev.sync()
    one = time.perf_counter() - t
    batch = left_padded(prompts, pad_id)
    dev.sync()
    t = time.perf_counter()
    shape = generate(batch, new_tokens)
    dev.sync()
    batched = time.perf_counter() - t
    assert shape[0] == len(prompts) and shape[1] == batch["input_ids"].shape[1] + new_tokens, shape
    n = len(prompts)
    return [{"generation": mode, "utterances": n, "new_tokens": new_tokens, "seconds": s, "utt_per_s": n / s,
             "tokens_per_s": n * new_tokens / s} for mode, s in (("one at a time", one), ("batched", batched))]


# ----- report -----
def progress(line: str) -> None:
    print(f"  … {line}", flush=True)


def fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def print_table(columns: list[str], cells: list[list[str]]) -> None:
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def train_cells(r: dict) -> list[str]:
    if r.get("oom"):
        return [r["method"], str(r["batch"])] + ["OOM"] * (len(TRAIN_COLUMNS) - 2)
    mfu = "n/a" if r["mfu"] is None else f"{r['mfu']:.1%}"
    return [r["method"], str(r["batch"]), fmt(r["step_s"] * 1000, ".1f"), fmt(r["tokens_per_s"], ".0f"),
            fmt(r["tflops"], ".2f"), mfu, fmt(r["peak_gib"], ".2f"), fmt(r["encoder_s"] * 1000, ".1f"),
            f"{r['encoder_share']:.0%}"]


def gen_cells(r: dict) -> list[str]:
    return [r["generation"], str(r["utterances"]), str(r["new_tokens"]), fmt(r["seconds"], ".2f"),
            fmt(r["utt_per_s"], ".2f"), fmt(r["tokens_per_s"], ".1f")]


def peak_for(dev: Device, given: float | None) -> float | None:
    if given is not None or not dev.cuda:
        return given
    from train_throughput import PEAK_TFLOPS

    name = dev.torch.cuda.get_device_name(dev.device)
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=None,
                        help="decoder layers (encoder layers keep Voxtral's 32:30); default: full depth on a GPU, "
                             "2 on CPU")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,4,8; CPU: 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per row (default 8; CPU: 1)")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"untimed steps before them (default {WARMUP_STEPS}; CPU: 0)")
    parser.add_argument("--methods", default="lora,full", help="comma-separated: lora, full")
    parser.add_argument("--utterances", type=int, default=None, help="generation utterances (default: largest batch)")
    parser.add_argument("--new-tokens", type=int, default=None, help="new tokens per utterance (default 64; CPU: 4)")
    parser.add_argument("--no-gradient-checkpointing", action="store_true",
                        help="keep every activation (the trainer checkpoints them by default)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s for MFU")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    args = parser.parse_args(argv)

    import torch

    dev = Device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cpu = not dev.cuda
    layers = args.layers if args.layers is not None else (2 if cpu else None)
    sizes_bs = [int(x) for x in (args.batch_sizes or ("1" if cpu else "1,4,8")).split(",")]
    steps = args.steps if args.steps is not None else (1 if cpu else 8)
    warmup = args.warmup if args.warmup is not None else (0 if cpu else WARMUP_STEPS)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if set(methods) - {"lora", "full"}:
        parser.error("--methods takes lora and/or full")
    n_utt = args.utterances or max(sizes_bs)
    new_tokens = args.new_tokens or (4 if cpu else 64)
    peak = peak_for(dev, args.peak_tflops)
    base_dtype = torch.float32 if cpu else torch.bfloat16  # LoRA's frozen base and generation's model
    full_dtype = torch.float32  # master weights, like the trainer
    t_start = time.perf_counter()

    from voxstudio.training.collator import VoxtralCollator

    processor = build_processor(Path(tempfile.mkdtemp(prefix="vox-gpu-bench-")))
    pad_id = processor.tokenizer.pad_token_id
    pool = examples(processor, max(sizes_bs))
    collate = VoxtralCollator(pad_token_id=pad_id)
    batches = {bs: (collate(pool[:bs]), [len(e["input_ids"]) for e in pool[:bs]]) for bs in sizes_bs}
    prompts = generation_prompts(processor, n_utt)
    progress(f"processor ({len(processor.tokenizer)} tokens) and {len(pool) + n_utt} examples: "
             f"{time.perf_counter() - t_start:.0f} s")
    cfg = voxtral_mini_config(layers)
    enc, dec = depths(layers)
    name = dev.torch.cuda.get_device_name(dev.device) if dev.cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; Voxtral-Mini widths, {enc} encoder + {dec} decoder layers, vocabulary "
          f"{len(processor.tokenizer)}; batch sizes "
          f"{sizes_bs}, {steps} timed steps after {warmup} warm-up; gradient checkpointing "
          f"{'off' if args.no_gradient_checkpointing else 'on'}; peak {fmt(peak, '.0f')} TFLOP/s")
    if cpu:
        print("CPU pipeline check: fp32 models, no bf16 autocast; full fine-tune with frozen input embeddings")

    rows = []
    model = build_model(cfg, dev.device, base_dtype)  # LoRA's base, then generation's model
    sizes = part_sizes(model)
    print(f"parameters: {sizes['total'] / 1e9:.3f} B (text layers {sizes['text_layers'] / 1e9:.3f} B, lm head "
          f"{sizes['lm_head'] / 1e9:.3f} B, encoder layers {sizes['encoder_layers'] / 1e9:.3f} B); built in "
          f"{time.perf_counter() - t_start:.0f} s")
    checkpointing = not args.no_gradient_checkpointing
    if "lora" in methods:
        rows += train_rows("lora", model, sizes, batches, dev, steps, warmup, peak, checkpointing)
    gen = generation_rows(model, prompts, pad_id, dev, new_tokens, base_dtype)
    progress(f"generation: {gen[0]['seconds']:.2f} s one at a time, {gen[1]['seconds']:.2f} s batched")
    del model
    dev.free()
    if "full" in methods:
        model = build_model(cfg, dev.device, full_dtype)
        rows += train_rows("full", model, sizes, batches, dev, steps, warmup, peak, checkpointing)
        del model
        dev.free()

    print()
    print_table(TRAIN_COLUMNS, [train_cells(r) for r in rows])
    print()
    print_table(GEN_COLUMNS, [gen_cells(r) for r in gen])
    print()
    if len(gen) == 2:
        print(f"batched generation: {gen[1]['utt_per_s'] / gen[0]['utt_per_s']:.2f}x the utterances/s of one at a time")
    total = time.perf_counter() - t_start
    print(f"total {total:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "device": name, "layers": {"encoder": enc, "decoder": dec}, "parameters": sizes,
            "peak_tflops": peak, "steps": steps, "warmup_steps": warmup, "train": rows, "generate": gen,
            "gradient_checkpointing": not args.no_gradient_checkpointing, "seconds": total,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
