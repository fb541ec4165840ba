"""Generation-based WER/CER of a model on a run's clips: used by the trainer (baseline, every N steps,
final) and by ``voxstudio evaluate --run RUN`` / the Evaluate page.

Transcription goes through ``voxstudio.inference`` — the same prompt and decoding a user gets — so
"before" and "after" numbers measure what the Try page and the demo Space will do.
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


def transcribe_clips(transcriber, refs: list[ClipRef], max_new_tokens: int, should_stop=None) -> list[dict]:
    """One row per clip: reference, hypothesis, WER, CER, whether generation stopped by EOS."""
    rows = []
    for ref in refs:
        if should_stop is not None and should_stop():
            raise Interrupted()
        out = transcriber.transcribe(ref.path, language=ref.language, max_new_tokens=max_new_tokens,
                                     should_stop=should_stop)
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


def eval_results(baseline: list[dict], finetuned: list[dict] | None, note: str = "") -> dict:
    """The run folder's eval_results.json document (baseline vs fine-tuned, per utterance)."""
    tuned = {r["clip_id"]: r for r in finetuned or []}
    utterances = []
    for b in baseline:
        f = tuned.get(b["clip_id"])
        utterances.append({
            "clip_id": b["clip_id"], "reference": b["reference"], "language": b["language"],
            "baseline": b["hypothesis"], "finetuned": f["hypothesis"] if f else None,
            "baseline_wer": b["wer"], "finetuned_wer": f["wer"] if f else None,
            "baseline_cer": b["cer"], "finetuned_cer": f["cer"] if f else None,
            "audio_path": b["audio_path"],
        })
    return {
        "baseline": summarize(baseline) if baseline else None,
        "finetuned": summarize(finetuned) if finetuned else None,
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
    return {"run": cfg.run_name, "split": split, "note": note if split == "eval" else "", **summarize(rows),
            "utterances": rows}


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
        print(f"{result['run']} ({result['split']}, {result['n']} clips): WER {scoring.percent(result['wer'])}  "
              f"CER {scoring.percent(result['cer'])}")
        for r in result["utterances"]:
            print(f"  {scoring.percent(r['wer']):>6}  {r['reference']!r} → {r['hypothesis']!r}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
