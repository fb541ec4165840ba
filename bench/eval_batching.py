"""Evaluation throughput: batched generation (``Transcriber.transcribe_batch``) vs one clip at a time.

Same tiny Voxtral, same 16 real clips (every language and length of the shared speech set, 1–24 s), same
budgets (``inference.max_new_tokens_for`` each clip's duration), in one process, both through
``voxstudio.training.evaluate.transcribe_clips`` — the path the trainer's WER and ``voxstudio evaluate`` take:

  (a) batched — ``batch_size`` clips per ``generate`` call (left-padded prompts, shortest clips together);
  (b) one     — ``batch_size=1``: one ``generate`` call per clip, as evaluation ran before.

The two must give identical rows (checked). Prints utterances/s and generated tokens/s of each, the ratio, and
the time spent building prompts + log-mel features (per clip in both paths: it does not batch). The random tiny
model rarely says EOS, so each clip generates (nearly) its whole budget. Usage:
``python bench/eval_batching.py [--batch-size 8] [--rounds 2] [--clips DIR]``.
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

N_CLIPS = 16


def load_refs(folder: Path):
    """16 clips spread over the sorted manifest: English and French commands, LJ Speech, FLEURS (5 languages)."""
    from voxstudio.training.selection import ClipRef

    rows = sorted((json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()),
                  key=lambda r: r["audio_path"])
    step = max(1, len(rows) // N_CLIPS)
    rows = rows[::step][:N_CLIPS]
    return [ClipRef(f"c{i:02d}", str(folder / r["audio_path"]), r["text"], r["language"]) for i, r in enumerate(rows)]


def timed(fn, sync):
    """(result, wall seconds, CPU seconds of this process): on a shared machine the CPU time is the steadier one."""
    sync()
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sync()
    return out, time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=None, help="clips per generate call (default: evaluate's)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best of each path is reported")
    parser.add_argument("--clips", type=Path, default=Path("/work/shared/speech/clips"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vox-bench-"))
    os.environ["VOXSTUDIO_HOME"] = str(work / "home")

    import torch

    from voxstudio.inference import build_prompt, load_audio_array, load_transcriber
    from voxstudio.training import evaluate
    from voxstudio.training.tiny import build_tiny

    batch_size = args.batch_size or evaluate.EVAL_BATCH_SIZE
    refs = load_refs(args.clips)
    transcriber = load_transcriber(str(build_tiny(work / "tiny")))
    sync = torch.cuda.synchronize if transcriber.device.type == "cuda" else (lambda: None)
    device = (torch.cuda.get_device_name() if transcriber.device.type == "cuda"
              else f"CPU ({torch.get_num_threads()} threads)")
    seconds = [load_audio_array(r.path).size / 16000 for r in refs]
    budgets = [evaluate.budget(s, r.language) for s, r in zip(seconds, refs)]
    print(f"device: {device}; {len(refs)} clips ({min(seconds):.1f}–{max(seconds):.1f} s, "
          f"{len({r.language for r in refs})} languages), budgets {min(budgets)}–{max(budgets)} tokens "
          f"(sum {sum(budgets)}); batch size {batch_size}; best of {args.rounds} alternating rounds")

    evaluate.transcribe_clips(transcriber, refs[:2], 4, batch_size=2)  # warm-up (first-call allocations)
    _, prep, prep_cpu = timed(
        lambda: [build_prompt(transcriber.processor, load_audio_array(r.path), r.language) for r in refs], sync)
    results: dict[str, list[tuple[float, float]]] = {"batched": [], "one": []}
    rows: dict[str, list[dict]] = {}
    for _ in range(args.rounds):  # alternate, keep each path's best round: load from other processes is noise
        for name, size in (("batched", batch_size), ("one", 1)):
            rows[name], wall, cpu = timed(
                lambda size=size: evaluate.transcribe_clips(transcriber, refs, 0, batch_size=size), sync)
            results[name].append((wall, cpu))
    if rows["batched"] != rows["one"]:
        print("ERROR: batched rows differ from one-at-a-time rows", file=sys.stderr)
        return 1
    tokens = sum(b if not r["stopped_by_eos"] else 0 for b, r in zip(budgets, rows["one"]))
    cut = sum(not r["stopped_by_eos"] for r in rows["one"])
    best = {k: min(w for w, _ in v) for k, v in results.items()}
    cpu = {k: min(c for _, c in v) for k, v in results.items()}
    for name in ("batched", "one"):
        print(f"({'a' if name == 'batched' else 'b'}) {name:7}: {len(refs) / best[name]:6.2f} utterances/s  "
              f"{best[name]:6.2f} s wall, {cpu[name]:6.2f} s CPU  "
              f"(rounds: {', '.join(f'{w:.2f}' for w, _ in results[name])} s)")
    print(f"prompts + features alone: {prep:.2f} s wall, {prep_cpu:.2f} s CPU for {len(refs)} clips (per clip in both "
          f"paths: a log-mel of a whole 30 s window each); "
          f"{cut}/{len(refs)} clips ran to their budget ({tokens} tokens), identical rows in both paths")
    print(f"speed-up: {best['one'] / best['batched']:.2f}x utterances/s (wall); "
          f"{cpu['one'] / cpu['batched']:.2f}x in CPU time per utterance; "
          f"{(cpu['one'] - prep_cpu) / max(cpu['batched'] - prep_cpu, 1e-9):.2f}x in CPU time without the prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
