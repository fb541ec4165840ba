"""`voxstudio train | runs | evaluate | transcribe`: the CLI twin of the Train, Evaluate and Try pages.

``train`` queues the run exactly like the Start button (same ``queue.submit``), then, unless ``--detach``,
streams train.log and exits with the outcome: 0 succeeded, 1 failed or crashed, 3 stopped (Ctrl-C stops
the run gracefully). Model code (torch, transformers) is imported only by ``evaluate`` and
``transcribe``, so ``runs`` answers instantly.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from voxstudio import languages, models
from voxstudio.runs import preflight, queue
from voxstudio.runs import status as runstatus
from voxstudio.training.config import AUTO_LANGUAGE_FRACTION, PRECISIONS
from voxstudio.training.scoring import percent

EXIT_CODES = {"succeeded": 0, "failed": 1, "crashed": 1, "stopped": 3}
# CLI flag -> RunConfig field (None values are left to the config's defaults, incl. the tiny defaults).
TRAIN_FIELDS = {
    "max_steps": "max_steps", "epochs": "epochs", "lr": "learning_rate", "batch_size": "batch_size",
    "grad_accum": "grad_accum", "lora_r": "lora_r", "lora_alpha": "lora_alpha", "eval_every": "eval_every",
    "seed": "seed", "gpus": "gpus", "method": "method", "auto_language_fraction": "auto_language_fraction",
    "precision": "precision",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="fine-tune a model on a dataset (queued like the Start button)")
    p.add_argument("--dataset", required=True, help="dataset name (see `voxstudio dataset list`)")
    p.add_argument("--model", default=None,
                   help=f"base model: Hub id (default {models.DEFAULT_BASE_MODEL}), local folder, or '{models.TINY}'")
    p.add_argument("--method", choices=("lora", "full"), help="LoRA adapters or full fine-tuning")
    p.add_argument("--run", required=True, help="a new run name (lower-case slug)")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--grad-accum", type=int)
    p.add_argument("--lora-r", type=int)
    p.add_argument("--lora-alpha", type=int)
    p.add_argument("--eval-every", type=int, help="evaluate WER every N steps")
    p.add_argument("--seed", type=int)
    p.add_argument("--auto-language-fraction", type=float,
                   help="share of training clips encoded without the language hint (auto mode), 0..1 "
                        f"(default {AUTO_LANGUAGE_FRACTION:g})")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="auto (default): LoRA loads the base in bf16 (fp16 on older GPUs, fp32 on CPU), a full "
                        "fine-tune keeps fp32 weights computed in bf16; bf16: pure bf16 weights (half the memory)")
    p.add_argument("--gpus", type=int, help="data-parallel processes (one per GPU)")
    p.add_argument("--fsdp", action="store_true",
                   help="shard the model over the --gpus processes (FSDP), for a model too big for one GPU")
    p.add_argument("--detach", action="store_true", help="queue it and return; it runs in the background")
    p.set_defaults(func=cmd_train)

    runs = subparsers.add_parser("runs", help="list, inspect, stop, follow and resume training runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="every run, newest first")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("status", help="state, progress and metrics of one run")
    q.add_argument("run")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_status)
    q = sub.add_parser("stop", help="stop a run (it saves a checkpoint); a queued run is cancelled")
    q.add_argument("run")
    q.add_argument("--grace", type=float, default=queue.DEFAULT_GRACE_S,
                   help="seconds to wait for a clean stop before killing (default %(default)s)")
    q.set_defaults(func=cmd_stop)
    q = sub.add_parser("logs", help="print the run's train.log")
    q.add_argument("run")
    q.add_argument("--lines", type=int, default=40, help="last N lines (default %(default)s)")
    q.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    q.set_defaults(func=cmd_logs)
    q = sub.add_parser("resume", help="continue a stopped or crashed run from its last checkpoint")
    q.add_argument("run")
    q.add_argument("--detach", action="store_true")
    q.set_defaults(func=cmd_resume)

    p = subparsers.add_parser("evaluate",
                              help="WER/CER of a run's fine-tuned model, with the language hint and without (auto)")
    p.add_argument("--run", required=True)
    p.add_argument("--split", choices=("eval", "train"), default="eval")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("transcribe", help="transcribe audio files with a run's model or a model folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="use this run's fine-tuned model")
    src.add_argument("--model", help="a model folder, LoRA adapter folder, Hub id, or 'tiny'")
    p.add_argument("--base-model", help="base model of an adapter given with --model (default: its own record)")
    p.add_argument("audio", nargs="+", help="audio files")
    p.add_argument("--language", default=None,
                   help="language code such as en or fr, or 'auto' (no hint: the model detects it); default: the "
                        "run's trained language when it has one (as training prompted), else auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transcribe)


# ----- train / runs -----
def build_config(args):
    """The RunConfig a `voxstudio train` command line describes (validated; ValueError says what is wrong)."""
    from voxstudio.training import config

    fields = {f: getattr(args, a) for a, f in TRAIN_FIELDS.items() if getattr(args, a, None) is not None}
    if args.model is not None:
        fields["base_model"] = args.model
    if getattr(args, "fsdp", False):
        fields["sharding"] = "fsdp"
    return config.new_config(run_name=args.run, dataset=args.dataset, **fields)


def _wait_and_stream(run: str) -> int:
    """Stream the log until the run ends; Ctrl-C stops it gracefully. Returns the outcome's exit code."""
    try:
        for line in runstatus.follow_log(run):
            print(line, flush=True)
    except KeyboardInterrupt:
        print(f"\nStopping run {run} (it saves a checkpoint; `voxstudio runs resume {run}` continues)…",
              file=sys.stderr, flush=True)
        queue.stop(run)
    st = runstatus.status(run)
    print(f"run {run}: {st.state}" + (f" — {st.message}" if st.message else ""), file=sys.stderr)
    return EXIT_CODES.get(st.state, 1)


def cmd_train(args) -> int:
    cfg = build_config(args)
    problems = preflight.preflight(cfg)
    if problems:
        raise ValueError(" ".join(problems))
    warning = preflight.hardware_fit(cfg)["warning"]  # a CPU run: how long it will take
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    st = queue.submit(cfg)
    ahead = [s.run for s in runstatus.list_runs() if s.active and s.run != st.run]
    print(f"Queued run {st.run} ({st.folder})" + (f" behind {', '.join(ahead)}" if ahead else ""),
          file=sys.stderr)
    if args.detach:
        print(f"Follow it with: voxstudio runs logs {st.run} --follow", file=sys.stderr)
        return 0
    return _wait_and_stream(st.run)


def _fmt(value, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def _rate(value) -> str:
    return percent(value, missing="-")


def cmd_list(args) -> int:
    runs = runstatus.list_runs()
    if args.json:
        print(json.dumps([s.to_dict() for s in runs], indent=2, default=str))
        return 0
    if not runs:
        print("No runs yet. Start one with `voxstudio train --dataset NAME --model tiny --run NAME`.")
        return 0
    print(f"{'RUN':24} {'STATE':10} {'STEP':>11} {'LOSS':>7} {'WER':>7} {'DATASET':16} MODEL")
    for s in runs:
        steps = f"{s.step}/{s.total_steps or '?'}"
        print(f"{s.run:24} {s.state:10} {steps:>11} {_fmt(s.loss):>7} {_rate(s.best_wer):>7} "
              f"{s.config.get('dataset', ''):16} {s.config.get('base_model', '')}")
    return 0


def cmd_status(args) -> int:
    s = runstatus.status(args.run)
    if args.json:
        print(json.dumps(s.to_dict(), indent=2, default=str))
        return 0
    print(f"run:      {s.run}\nstate:    {s.state}" + (f" ({s.phase})" if s.phase else ""))
    print(f"progress: step {s.step}/{s.total_steps or '?'} ({s.progress:.0%})")
    print(f"loss:     {_fmt(s.loss)}\nWER:      baseline {_rate(s.baseline_wer)}, "
          f"best {_rate(s.best_wer)}")
    if s.eta_s and s.state == "running":
        print(f"eta:      {int(s.eta_s)} s")
    if s.message:
        print(f"message:  {s.message}")
    print(f"folder:   {s.folder}")
    return 0


def cmd_stop(args) -> int:
    s = queue.stop(args.run, grace_s=args.grace)
    print(f"run {s.run}: {s.state}" + (f" — {s.message}" if s.message else ""))
    return 0 if not s.active else 1


def cmd_logs(args) -> int:
    path = runstatus.status(args.run).folder / "train.log"
    size = path.stat().st_size if path.exists() else 0
    for line in runstatus.read_log(args.run, args.lines):
        print(line)
    if args.follow:
        try:
            for line in runstatus.follow_log(args.run, start=size):
                print(line, flush=True)
        except KeyboardInterrupt:
            return 0  # leaving the log does not stop the run
    return 0


def cmd_resume(args) -> int:
    s = queue.resume(args.run)
    print(f"Run {s.run} queued to resume from its last checkpoint.", file=sys.stderr)
    if args.detach:
        return 0
    return _wait_and_stream(s.run)


# ----- evaluate / transcribe (model code imported here only) -----
def cmd_evaluate(args) -> int:
    from voxstudio.training.evaluate import evaluate_run, report_lines

    result = evaluate_run(runstatus.status(args.run).folder, args.split)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        return 0
    print("\n".join(report_lines(result)))  # with the language hint and without it (auto)
    return 0


def load_model(args):
    """The transcriber for ``--run`` (its fine-tuned output) or ``--model`` (folder, adapter, id, tiny)."""
    from voxstudio import inference
    from voxstudio.runs import models as runmodels

    if args.run:
        return runmodels.load_finetuned(runmodels.run_models(args.run))
    model = runmodels.resolve_base(args.model)
    base = runmodels.resolve_base(args.base_model) if args.base_model else None
    return inference.load_transcriber(model, base_model=base)


def transcribe_language(args) -> str | None:
    """The prompt's language for ``transcribe``: --language, else the run's trained one; None means auto."""
    chosen = args.language
    if chosen is None:
        if not args.run:
            return None  # a bare model folder or Hub id says nothing about what it was trained on
        from voxstudio.runs import models as runmodels

        chosen = runmodels.run_models(args.run).default_language
    return None if chosen.strip().lower() == languages.AUTO else languages.canonical(chosen)


def cmd_transcribe(args) -> int:
    from voxstudio.data import audio

    language = transcribe_language(args)
    for path in args.audio:  # check every file before loading a model
        if not Path(path).is_file():
            raise FileNotFoundError(f"There is no audio file {path!r}.")
    model = args.model or ""
    if models.looks_like_path(model) and not Path(model).expanduser().exists():
        raise FileNotFoundError(f"There is no model at {model!r}.")
    try:
        transcriber = load_model(args)
    except RuntimeError as exc:  # inference.ModelLoadError: a sentence naming what could not load
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from voxstudio.inference import max_new_tokens_for

    results = []
    for path in args.audio:
        started = time.perf_counter()
        samples = audio.load_audio(Path(path))
        limit = max_new_tokens_for(samples.size / audio.SAMPLE_RATE, language)  # the one rule (Try, Space too)
        out = transcriber.transcribe(samples, language=language, max_new_tokens=limit)
        results.append({"audio": path, "text": out.text, "language": out.language,
                        "stopped_by_eos": out.stopped_by_eos, "max_new_tokens": limit,
                        "seconds": round(time.perf_counter() - started, 3)})
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for r in results:
            print(f"{r['audio']}\t{r['text']}")
            if not r["stopped_by_eos"]:
                print(f"warning: {r['audio']}: cut off at the {r['max_new_tokens']}-token limit for its length "
                      "(the transcript may be incomplete)", file=sys.stderr)
    return 0
