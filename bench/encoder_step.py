"""Benchmark: a LoRA training step at Voxtral-Mini's real widths, the old path vs the frozen-encoder path.

Same random model (real widths: audio encoder 1280, text 3072, 131,072-token vocabulary; reduced depth keeping
Voxtral's 32:30 encoder:decoder ratio, ``--layers``), same examples, same LoRA (r 16 on q/k/v/o), in one
process (one copy of the model: the old path's rounds first, then the new path's):

  old — what training did: ``enable_input_require_grads`` (it hooks the audio tower's first convolution, so
        the backward pass runs through the frozen encoder) and the encoder again at every step;
  new — ``voxstudio.training.encoder.install``: the frozen tower + projector run under no_grad, each 30 s chunk
        once; steps after the first epoch read the cached audio embeddings.

Prints forward+backward seconds per step of each path (best of the rounds), the ratio (goal ≥ 1.4×), and checks
that both paths give the same loss and the same LoRA gradients.

    .venv/bin/python bench/encoder_step.py [--layers 2] [--batch 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="decoder layers (encoder layers keep the 32:30 ratio)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    from gpu import build_model, build_processor, examples, voxtral_mini_config
    from peft import get_peft_model

    from voxstudio.training import encoder
    from voxstudio.training.collator import VoxtralCollator
    from voxstudio.training.config import RunConfig, to_lora_config

    work = Path(tempfile.mkdtemp(prefix="encoder-bench-"))
    processor = build_processor(work)
    batch = VoxtralCollator(pad_token_id=11)(examples(processor, args.batch))

    model = build_model(voxtral_mini_config(args.layers), "cpu", torch.float32)  # one copy: ~6.6 GiB at 2+2
    for p in model.parameters():
        p.requires_grad_(False)
    model = get_peft_model(model, to_lora_config(RunConfig(dataset="bench")))
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()

    def step() -> tuple[float, float, dict]:
        t = time.perf_counter()
        out = model(**batch)
        out.loss.backward()
        seconds = time.perf_counter() - t
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad()
        return seconds, out.loss.item(), grads

    times, results = {"old": [], "new": []}, {}
    model.enable_input_require_grads()  # the old path (the Trainer also called this for checkpointing)
    for _ in range(args.rounds):
        seconds, loss, grads = step()
        times["old"].append(seconds)
        results["old"] = (loss, grads)
    model.disable_input_require_grads()
    encoder.install(model, work / "cache")
    step()  # the first epoch fills the encoder cache (not timed: it is paid once per clip)
    for _ in range(args.rounds):
        seconds, loss, grads = step()
        times["new"].append(seconds)
        results["new"] = (loss, grads)
    same_loss = abs(results["old"][0] - results["new"][0]) < 1e-4
    old_g, new_g = results["old"][1], results["new"][1]
    worst = max(float((old_g[k] - new_g[k]).norm() / old_g[k].norm().clamp_min(1e-30)) for k in old_g)
    same_grads = worst < 1e-3  # fp32 matmuls at real widths differ in the last bits between runs on a CPU
    old, new = min(times["old"]), min(times["new"])
    print(f"Voxtral-Mini widths, {args.layers} decoder layers, batch {args.batch}, LoRA r16 q/k/v/o, CPU")
    print(f"{'path':<6} {'step s (best)':>14} {'all rounds':>30}")
    for name in ("old", "new"):
        print(f"{name:<6} {min(times[name]):>14.2f} {', '.join(f'{s:.2f}' for s in times[name]):>30}")
    print(f"ratio old/new: {old / new:.2f}x (goal >= 1.4x); same loss: {same_loss}; "
          f"same LoRA grads: {same_grads} (largest relative difference {worst:.1e})")
    return 0 if same_loss and same_grads else 1


if __name__ == "__main__":
    sys.exit(main())
