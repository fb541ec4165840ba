"""Generation-based WER/CER of a model on a run's clips: used by the trainer (baseline, every N steps,
final) and by ``voxstudio evaluate --run RUN`` / the Evaluate page.

Transcription goes through ``voxstudio.inference`` — the same prompt and decoding a user gets — so
"before" and "after" numbers measure what the Try page and the demo Space will do.

Two prompt modes are measured: hinted (each clip's own ``lang:xx``, what training mostly prompts and what the
Try page, the CLI and the Space default to for a one-language run) and auto (no hint: the model detects the
language). The trainer's baseline and final evaluation and ``voxstudio evaluate`` report both; the WER every N
steps during training (which picks the best checkpoint) is hinted only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from voxstudio.runs import runfolder
from voxstudio.runs.rundata import select_clips
from voxstudio.training import scoring
from voxstudio.training.config import RunConfig
from voxstudio.training.selection import ClipRef


class Interrupted(Exception):
    """Raised between batches of utterances when the run was asked to stop."""


# Clips per generate call when evaluating (and 30 s chunks per call: a batch's audio). 8 fits Voxtral Mini's
# evaluation next to its training state on one GPU; bench/eval_batching.py measures the gain.
EVAL_BATCH_SIZE = 8


def budget(duration_s: float, language: str | None, max_new_tokens: int = 0) -> int:
    """A clip's generation budget: ``inference.max_new_tokens_for`` its duration, capped by the run's
    ``max_new_tokens`` when that is set (> 0)."""
    from voxstudio.inference import max_new_tokens_for

    rule = max_new_tokens_for(duration_s, language)
    return min(rule, max_new_tokens) if max_new_tokens and max_new_tokens > 0 else rule


def batches(refs: list[ClipRef], batch_size: int = EVAL_BATCH_SIZE) -> list[list[int]]:
    """Indices of ``refs`` in generate batches: shortest first (a batch's rows need similar budgets), at most
    ``batch_size`` clips and ``batch_size`` 30 s chunks each (one long clip still goes alone)."""
    from voxstudio.data.audio import WINDOW_S

    seconds = [_seconds(ref.path) for ref in refs]
    groups: list[list[int]] = []
    chunks = 0
    for i in sorted(range(len(refs)), key=lambda i: seconds[i]):
        k = max(1, math.ceil(seconds[i] / WINDOW_S)) if math.isfinite(seconds[i]) else batch_size  # unknown: alone
        if groups and len(groups[-1]) < batch_size and chunks + k <= batch_size:
            groups[-1].append(i)
            chunks += k
        else:
            groups.append([i])
            chunks = k
    return groups


def _seconds(path: str) -> float:
    """A clip's duration from its header (ordering only: budgets come from the decoded audio)."""
    import soundfile as sf

    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, OSError, ValueError):  # unreadable header: order it last, decoding will tell
        return float("inf")


def transcribe_clips(transcriber, refs: list[ClipRef], max_new_tokens: int = 0, should_stop=None,
                     auto: bool = False, batch_size: int = EVAL_BATCH_SIZE) -> list[dict]:
    """One row per clip (in ``refs`` order): reference, hypothesis, WER, CER, whether generation stopped by EOS
    (False = cut off at the clip's budget, see :func:`budget`). Prompted with each clip's language, or with no
    hint at all when ``auto`` (scored against the clip's language either way).

    Clips go ``batch_size`` at a time through ``Transcriber.transcribe_batch`` (the same tokens as one at a time);
    a stop request is checked between batches (and between generated tokens)."""
    from voxstudio.inference import SAMPLING_RATE, load_audio_array

    rows: list[dict | None] = [None] * len(refs)
    for group in batches(refs, batch_size):
        if should_stop is not None and should_stop():
            raise Interrupted()
        languages = [None if auto else refs[i].language for i in group]
        waves = [load_audio_array(refs[i].path) for i in group]
        budgets = [budget(w.size / SAMPLING_RATE, lang, max_new_tokens) for w, lang in zip(waves, languages)]
        outs = transcriber.transcribe_batch(waves, languages, max_new_tokens=budgets, should_stop=should_stop)
        if should_stop is not None and should_stop():
            raise Interrupted()
        for i, out in zip(group, outs):
            ref = refs[i]
            rows[i] = {
                "clip_id": ref.clip_id, "reference": ref.text, "hypothesis": out.text, "language": ref.language,
                "wer": scoring.wer(ref.text, out.text, ref.language),
                "cer": scoring.cer(ref.text, out.text, ref.language),
                "stopped_by_eos": out.stopped_by_eos, "audio_path": ref.path,
            }
    return rows


def summarize(rows: list[dict]) -> dict:
    s = scoring.corpus_scores([r["reference"] for r in rows], [r["hypothesis"] for r in rows],
                              [r["language"] for r in rows])
    # n_cut_off: transcripts that hit their token budget before EOS (scored as they are, so WER counts the cut)
    return {"wer": s["wer"], "cer": s["cer"], "n": s["n"],
            "n_cut_off": sum(not r.get("stopped_by_eos", True) for r in rows)}


def eval_results(baseline: list[dict], finetuned: list[dict] | None, note: str = "", *,
                 baseline_auto: list[dict] | None = None, finetuned_auto: list[dict] | None = None) -> dict:
    """The run folder's eval_results.json document (baseline vs fine-tuned, per utterance).

    ``baseline`` / ``finetuned`` are the hinted rows (each clip's ``lang:xx``); ``*_auto`` the same clips with no
    hint, reported under ``"auto"`` (``{"baseline", "finetuned"}``) and per utterance as ``baseline_auto`` /
    ``finetuned_auto`` (+ ``_wer``)."""
    tuned = {r["clip_id"]: r for r in finetuned or []}
    base_auto = {r["clip_id"]: r for r in baseline_auto or []}
    tuned_auto = {r["clip_id"]: r for r in finetuned_auto or []}
    utterances = []
    for b in baseline:
        f, ba, fa = tuned.get(b["clip_id"]), base_auto.get(b["clip_id"]), tuned_auto.get(b["clip_id"])
        utterances.append({
            "clip_id": b["clip_id"], "reference": b["reference"], "language": b["language"],
            "baseline": b["hypothesis"], "finetuned": f["hypothesis"] if f else None,
            "baseline_wer": b["wer"], "finetuned_wer": f["wer"] if f else None,
            "baseline_cer": b["cer"], "finetuned_cer": f["cer"] if f else None,
            "baseline_auto": ba["hypothesis"] if ba else None, "finetuned_auto": fa["hypothesis"] if fa else None,
            "baseline_auto_wer": ba["wer"] if ba else None, "finetuned_auto_wer": fa["wer"] if fa else None,
            "baseline_cut_off": not b.get("stopped_by_eos", True),
            "finetuned_cut_off": not f.get("stopped_by_eos", True) if f else None,
            "audio_path": b["audio_path"],
        })
    return {
        "baseline": summarize(baseline) if baseline else None,
        "finetuned": summarize(finetuned) if finetuned else None,
        "auto": {"baseline": summarize(baseline_auto) if baseline_auto else None,
                 "finetuned": summarize(finetuned_auto) if finetuned_auto else None},
        "note": note,
        "utterances": utterances,
    }


def free_memory() -> None:
    """Collect what was dropped and hand the GPU's cached blocks back (before the next model is loaded)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def hintless_rows(model: str, base_model: str | None, refs: list[ClipRef], max_new_tokens: int, *, device=None,
                  dtype=None, should_stop=None) -> list[dict]:
    """``refs`` transcribed without the language hint by ``model`` (a folder or Hub id; an adapter on
    ``base_model``), loaded through ``inference`` as the Try page and the Space load it, and freed afterwards."""
    from voxstudio.inference import load_transcriber

    transcriber = load_transcriber(model, base_model=base_model, device=device, dtype=dtype)
    try:
        return transcribe_clips(transcriber, refs, max_new_tokens, should_stop=should_stop, auto=True)
    finally:
        del transcriber
        free_memory()


def evaluate_run(run_dir: Path, split: str = "eval", device=None) -> dict:
    """WER/CER of a finished run's output model on its eval (or train) clips."""
    from voxstudio.inference import load_transcriber
    from voxstudio.training.tiny import resolve_model

    run_dir = Path(run_dir)
    if split not in ("eval", "train"):
        raise ValueError("split must be 'eval' or 'train'")
    cfg = RunConfig.load(run_dir / runfolder.CONFIG)
    output = run_dir / runfolder.OUTPUT
    if not runfolder.finished(run_dir):
        raise FileNotFoundError(f"run '{cfg.run_name}' has no trained model yet (no {output}); train it first")
    train, held, note = select_clips(cfg, run_dir)
    refs = held if split == "eval" else train[: cfg.max_eval_utterances]
    transcriber = load_transcriber(str(output), base_model=resolve_model(cfg.base_model), device=device)
    rows = transcribe_clips(transcriber, refs, cfg.max_new_tokens)
    auto_rows = transcribe_clips(transcriber, refs, cfg.max_new_tokens, auto=True)
    return {"run": cfg.run_name, "split": split, "note": note if split == "eval" else "", **summarize(rows),
            "utterances": rows, "auto": {**summarize(auto_rows), "utterances": auto_rows}}


def _cut(summary: dict) -> str:
    text = scoring.cut_off(summary)
    return f" ({text})" if text else ""


def _cut_row(row: dict) -> str:
    return "" if row.get("stopped_by_eos", True) else "  [cut off at the token limit]"


def report_lines(result: dict) -> list[str]:
    """``evaluate_run``'s result as text: hinted and auto rates, then every utterance in both modes."""
    auto = result.get("auto") or {}
    lines = [f"{result['run']} ({result['split']}, {result['n']} clips): WER {scoring.percent(result['wer'])}  "
             f"CER {scoring.percent(result['cer'])} with the language hint{_cut(result)}; "
             f"WER {scoring.percent(auto.get('wer'))}  CER {scoring.percent(auto.get('cer'))} "
             f"without (auto){_cut(auto)}"
             + (f"  [{result['note']}]" if result.get("note") else "")]
    by_clip = {r["clip_id"]: r for r in auto.get("utterances") or []}
    for r in result["utterances"]:
        a = by_clip.get(r["clip_id"]) or {}
        lines.append(f"  {scoring.percent(r['wer']):>6}  {r['reference']!r} → {r['hypothesis']!r}{_cut_row(r)}")
        if a:
            lines.append(f"  {scoring.percent(a['wer']):>6}  {'(auto)':>{len(repr(r['reference']))}} → "
                         f"{a['hypothesis']!r}{_cut_row(a)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxstudio.training.evaluate")
    parser.add_argument("--run", required=True)
    parser.add_argument("--split", choices=("eval", "train"), default="eval")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = evaluate_run(runfolder.run_dir(args.run), args.split)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print("\n".join(report_lines(result)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
