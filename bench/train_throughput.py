"""Training throughput: voxstudio's cached data path vs the public recipe's per-step processing.

Same tiny Voxtral, same 32 real clips, same hyperparameters and Trainer, in one process:

  (a) ours   — prompt ids + log-mel features computed once (voxstudio.training.features), collator pads/stacks;
  (b) recipe — the collator calls ``apply_transcription_request`` on raw audio every step (as the HF audio
               course and VoxFactory do): WAV encode, decode, resample, mel transform, tokenise, each step.

Prints samples/s of each, the ratio, and the share of step time spent waiting for data (dataset item +
collate, measured around the calls; dataloader workers = 0 as in our config). With CUDA it also prints
peak memory and a rough MFU. Usage: ``python bench/train_throughput.py [--steps 40] [--clips DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_CLIPS = 32
WARMUP_STEPS = 3
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}  # dense bf16


class Timer:
    def __init__(self):
        self.seconds = 0.0
        self.active = False

    def wrap(self, fn):
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                if self.active:
                    self.seconds += time.perf_counter() - t
        return timed


def load_rows(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    rows = sorted((r for r in rows if r["duration_s"] <= 30), key=lambda r: r["audio_path"])[:N_CLIPS]
    for r in rows:
        r["path"] = str(folder / r["audio_path"])
    return rows


def recipe_dataset_and_collator(processor, rows, torch):
    """The public recipe: raw audio per item, prompt + features built in the collator at every step."""
    from voxstudio.data.audio import load_audio

    class RawAudio(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):  # like datasets' Audio column: decode on access
            return {"audio": load_audio(rows[i]["path"]), "text": rows[i]["text"], "language": rows[i]["language"]}

    def collate(items):
        prompt = processor.apply_transcription_request(
            language=[x["language"] for x in items], audio=[x["audio"] for x in items], model_id="voxtral",
            sampling_rate=16000, format=["wav"] * len(items))
        eos, pad = processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id
        ids, labels = [], []
        for row, p in zip(items, prompt["input_ids"]):
            p = p[prompt["attention_mask"][len(ids)].bool()].tolist()
            target = processor.tokenizer.encode(row["text"], add_special_tokens=False) + [eos]
            ids.append(p + target)
            labels.append([-100] * len(p) + target)
        width = max(map(len, ids))
        return {
            "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
            "labels": torch.tensor([x + [-100] * (width - len(x)) for x in labels]),
            "input_features": prompt["input_features"],
        }

    return RawAudio(), collate


def run(name, model_dir, dataset, collator, cfg, steps, out_dir, torch, grouped):
    from transformers import Trainer, TrainerCallback, VoxtralForConditionalGeneration

    from voxstudio.training.config import to_training_arguments

    timer = Timer()

    class Timed(torch.utils.data.Dataset):
        def __len__(self):
            return len(dataset)

        @timer.wrap
        def __getitem__(self, i):
            return dataset[i]

    collate = timer.wrap(collator)
    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == WARMUP_STEPS:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                marks["start"], timer.active = time.perf_counter(), True

        def on_train_end(self, args, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            marks["end"] = time.perf_counter()

    torch.manual_seed(cfg.seed)
    model = VoxtralForConditionalGeneration.from_pretrained(model_dir)
    for p in model.model.audio_tower.parameters():
        p.requires_grad_(False)
    args = to_training_arguments(
        cfg, out_dir / name, report_to="none", max_steps=steps + WARMUP_STEPS, save_strategy="no",
        logging_steps=10_000, train_sampling_strategy="group_by_length" if grouped else "random")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(model=model, args=args, train_dataset=Timed(), data_collator=collate, callbacks=[Clock()])
    trainer.train()
    seconds = marks["end"] - marks["start"]
    samples = steps * cfg.batch_size * cfg.grad_accum
    result = {"samples_per_s": samples / seconds, "step_s": seconds / steps, "data_s_per_step": timer.seconds / steps,
              "data_share": timer.seconds / seconds}
    if torch.cuda.is_available():
        result["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 1e9
        n_params = sum(p.numel() for p in model.parameters())
        tokens = 400 * cfg.batch_size  # ≈ 375 audio + prompt/text tokens per 30 s example
        flops = 6 * n_params * tokens * steps
        name_gpu = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name_gpu), None)
        result["mfu"] = flops / seconds / (peak * 1e12) if peak else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40, help="timed optimizer steps per path")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best of each path is reported")
    parser.add_argument("--clips", type=Path, default=Path("/work/shared/speech/clips"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vox-bench-"))
    os.environ["VOXSTUDIO_HOME"] = str(work / "home")

    import torch
    from transformers import AutoProcessor

    from voxstudio.training.collator import VoxtralCollator
    from voxstudio.training.config import new_config
    from voxstudio.training.features import ClipRef, build_features
    from voxstudio.training.tiny import build_tiny

    rows = load_rows(args.clips)
    model_dir = build_tiny(work / "tiny")
    processor = AutoProcessor.from_pretrained(model_dir)
    cfg = new_config(run_name="bench", dataset="bench", base_model="tiny")
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {device}; {len(rows)} clips, {sum(r['duration_s'] for r in rows) / 60:.1f} min; "
          f"batch {cfg.batch_size}, lr {cfg.learning_rate}, {args.steps} timed steps after {WARMUP_STEPS} warm-up, "
          f"best of {args.rounds} alternating rounds")

    t = time.perf_counter()
    refs = [ClipRef(f"c{i:03d}", r["path"], r["text"], r["language"]) for i, r in enumerate(rows)]
    features = build_features(processor, refs)
    print(f"(a) one-off feature cache build: {time.perf_counter() - t:.1f} s for {len(refs)} clips")
    raw, collate = recipe_dataset_and_collator(processor, rows, torch)
    ours_collator = VoxtralCollator(pad_token_id=processor.tokenizer.pad_token_id)
    results: dict[str, list[dict]] = {"ours": [], "recipe": []}
    for _ in range(args.rounds):  # alternate, keep each path's best round: load from other processes is noise
        results["ours"].append(run("ours", model_dir, features, ours_collator, cfg, args.steps, work, torch, True))
        results["recipe"].append(run("recipe", model_dir, raw, collate, cfg, args.steps, work, torch, False))
    ours, recipe = (max(results[k], key=lambda r: r["samples_per_s"]) for k in ("ours", "recipe"))

    for name, r in (("(a) ours  ", ours), ("(b) recipe", recipe)):
        extra = ""
        if "peak_mem_gb" in r:
            extra = f"  peak {r['peak_mem_gb']:.2f} GB" + (f"  MFU {r['mfu']:.2%}" if r.get("mfu") is not None else "")
        print(f"{name}: {r['samples_per_s']:7.1f} samples/s  step {r['step_s'] * 1000:7.1f} ms  "
              f"data {r['data_s_per_step'] * 1000:7.1f} ms/step ({r['data_share']:.0%} of step time){extra}")
    print(f"whole step speed-up: {ours['samples_per_s'] / recipe['samples_per_s']:.2f}x; "
          f"data path speed-up: {recipe['data_s_per_step'] / max(ours['data_s_per_step'], 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
