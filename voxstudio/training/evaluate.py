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
import sys
from pathlib import Path

from voxstudio.runs import runfolder
from voxstudio.runs.rundata import select_clips
from voxstudio.training import scoring
from voxstudio.training.config import RunConfig
from voxstudio.training.selection import ClipRef


class Interrupted(Exception):
    """Raised between utterances when the run was asked to stop."""


def transcribe_clips(transcriber, refs: list[ClipRef], max_new_tokens: int, should_stop=None,
                     auto: bool = False) -> list[dict]:
    """One row per clip: reference, hypothesis, WER, CER, whether generation stopped by EOS. Prompted with each
    clip's language, or with no hint at all when ``auto`` (scored against the clip's language either way)."""
    rows = []
    for ref in refs:
        if should_stop is not None and should_stop():
            raise Interrupted()
        out = transcriber.transcribe(ref.path, language=None if auto else ref.language,
                                     max_new_tokens=max_new_tokens, should_stop=should_stop)
        if should_stop is not None and should_stop():
            raise Interrupted()
        rows.append({
            "clip_id": ref.clip_id, "reference": ref.text, "hypothesis": out.text, "language": ref.language,
            "wer": scoring.wer(ref.text, out.text, ref.language), "cer": scoring.cer(ref.text, out.text, ref.language),
            "stopped_by_eos": out.stopped_by_eos, "audio_path": ref.path,
        })
    return rows


def summarize(rows: list[dict]) -> dict:
    s = scoring.corpus_scores([r["reference"] for r in rows], [r["hypothesis"] for r in rows],
                              [r["language"] for r in rows])
    return {"wer": s["wer"], "cer": s["cer"], "n": s["n"]}


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


def report_lines(result: dict) -> list[str]:
    """``evaluate_run``'s result as text: hinted and auto rates, then every utterance in both modes."""
    auto = result.get("auto") or {}
    lines = [f"{result['run']} ({result['split']}, {result['n']} clips): WER {scoring.percent(result['wer'])}  "
             f"CER {scoring.percent(result['cer'])} with the language hint; WER {scoring.percent(auto.get('wer'))}  "
             f"CER {scoring.percent(auto.get('cer'))} without (auto)"
             + (f"  [{result['note']}]" if result.get("note") else "")]
    by_clip = {r["clip_id"]: r for r in auto.get("utterances") or []}
    for r in result["utterances"]:
        a = by_clip.get(r["clip_id"]) or {}
        lines.append(f"  {scoring.percent(r['wer']):>6}  {r['reference']!r} → {r['hypothesis']!r}")
        if a:
            lines.append(f"  {scoring.percent(a['wer']):>6}  {'(auto)':>{len(repr(r['reference']))}} → "
                         f"{a['hypothesis']!r}")
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
