"""Comparing 2–4 runs side by side: settings, results, curves and utterances (no Streamlit; the Compare page).

Everything here reads what the runs left on disk — config.json (the frozen ``RunConfig``), clips.json
(``rundata``, or training_config.json's clip counts for a run made before clip lists), eval_results.json
(``status.results``) and Trackio's SQLite (``tracking.series``; a run's project is its dataset's name) — and
returns plain rows for the page to render.

Per utterance, a clip is compared only when it is **shared**: every picked run evaluated it and measured both
its baseline and its fine-tuned WER (``eval_results.json`` ``utterances``). For one run and one shared clip,
with ``b`` that run's baseline WER on the clip and ``f`` its fine-tuned WER (each run is judged against its own
baseline, so a run on another base model is judged fairly):

* **fixed** — the base model got the clip wrong (``b > 0``) and the fine-tuned model does better (``f < b``;
  an exact transcript, ``f == 0``, is the clearest case);
* **broke** — the fine-tuned model does worse than the base (``f > b``), whether the base was right
  (``b == 0``) or merely better;
* **same** — neither: ``f == b`` (both exact, or equally wrong).

WERs are compared with a tolerance of ``EPS`` so that float noise never turns "same" into fixed or broke.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import languages
from voxstudio.runs import rundata, runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.training import scoring

MIN_RUNS, MAX_RUNS = 2, 4
EPS = 1e-9
FIXED, BROKE, SAME = "fixed", "broke", "same"
VERDICTS = (FIXED, BROKE, SAME)
SETTING, DIFFERS = "Setting", "Differs"  # column names; run names are lowercase slugs, so never these
DIFF_MARK = "≠"
LOSS, EVAL_WER = "train/loss", "eval/wer"
MISSING = "–"


@dataclass(frozen=True)
class RunView:
    """What the Compare page needs of one run, read once from its folder."""

    run: str
    state: str
    config: dict
    eval: dict | None  # eval_results.json, None until the run has measured its output
    train_clips: int | None = None
    eval_clips: int | None = None
    utterances: dict = field(default_factory=dict)  # clip_id -> utterance row, in the run's order

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset") or "")


def clip_counts(folder: Path, config: dict) -> tuple[int | None, int | None]:
    """(train clips, scored eval clips) of a run: its frozen clips.json, else (a run made before clip lists) the
    counts the trainer wrote in training_config.json; None where neither says."""
    frozen = rundata.try_load(folder, config)
    if frozen is not None:
        return len(frozen.train), len(frozen.held)
    resolved = runfolder.read_json(folder / runfolder.TRAINING_CONFIG, {}) or {}
    return resolved.get("train_clips"), resolved.get("eval_clips")


def load(run: str) -> RunView:
    """A run of the current home as the Compare page sees it (FileNotFoundError for an unknown run)."""
    s = runstatus.status(run)
    doc = runstatus.results(run)["eval"]
    doc = doc if isinstance(doc, dict) else None
    train, held = clip_counts(s.folder, s.config)
    rows = {u["clip_id"]: u for u in (doc or {}).get("utterances") or [] if isinstance(u, dict) and "clip_id" in u}
    return RunView(run=run, state=s.state, config=s.config, eval=doc, train_clips=train, eval_clips=held,
                   utterances=rows)


# ---------------------------------------------------------------- which runs


def evaluated(statuses: list) -> list[str]:
    """Names of the runs (``status.list_runs()``, newest first) that have eval results, in that order."""
    return [s.run for s in statuses if runstatus.results(s.run)["eval"]]


def default_pick(names: list[str], evaluated_names: list[str], query: str | None = None) -> list[str]:
    """The runs picked when the page opens: ``?runs=a,b`` (known names only, at most ``MAX_RUNS``), topped up to
    two with the most recent runs that have eval results (``?runs=a`` from the Evaluate page: a and the newest
    other evaluated run)."""
    wanted = [n.strip() for n in str(query or "").split(",") if n.strip()]
    picked = list(dict.fromkeys(n for n in wanted if n in names))[:MAX_RUNS]
    for name in evaluated_names:
        if len(picked) >= MIN_RUNS:
            break
        if name not in picked:
            picked.append(name)
    return picked


def too_few(picked: list[str]) -> str:
    """The one sentence when fewer than two runs are picked ('' otherwise)."""
    if len(picked) >= MIN_RUNS:
        return ""
    return f"Pick at least {MIN_RUNS} runs (up to {MAX_RUNS}) to compare them."


# ---------------------------------------------------------------- settings


def _lora(key: str):
    return lambda c, v: c.get(key) if c.get("method") == "lora" else MISSING


def _languages(config: dict, view: RunView) -> str:
    codes = config.get("languages") or []
    return ", ".join(languages.label(c) for c in codes) if codes else "every language of the dataset"


SETTINGS = (  # (row label, value from (config, view)); one row per setting, in this order
    ("dataset", lambda c, v: c.get("dataset")),
    ("base model", lambda c, v: c.get("base_model")),
    ("method", lambda c, v: c.get("method")),
    ("state", lambda c, v: v.state),
    ("max steps", lambda c, v: c.get("max_steps") if (c.get("max_steps") or -1) > 0 else "from epochs"),
    ("epochs", lambda c, v: c.get("epochs")),
    ("learning rate", lambda c, v: c.get("learning_rate")),
    ("batch size", lambda c, v: c.get("batch_size")),
    ("grad accumulation", lambda c, v: c.get("grad_accum")),
    ("warmup steps", lambda c, v: c.get("warmup_steps")),
    ("scheduler", lambda c, v: c.get("scheduler")),
    ("LoRA r", _lora("lora_r")),
    ("LoRA alpha", _lora("lora_alpha")),
    ("LoRA dropout", _lora("lora_dropout")),
    ("LoRA targets", lambda c, v: ", ".join(c.get("lora_targets") or []) if c.get("method") == "lora" else MISSING),
    ("precision", lambda c, v: c.get("precision")),
    ("seed", lambda c, v: c.get("seed")),
    ("languages", _languages),
    ("auto-language fraction", lambda c, v: c.get("auto_language_fraction")),
    ("eval fraction", lambda c, v: c.get("eval_fraction")),
    ("eval every (steps)", lambda c, v: c.get("eval_every")),
    ("max new tokens", lambda c, v: c.get("max_new_tokens") or "by clip length"),
    ("train clips", lambda c, v: v.train_clips),
    ("eval clips", lambda c, v: v.eval_clips),
)


def _shown(value) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def settings_rows(views: list[RunView], only_differences: bool = False) -> list[dict]:
    """One row per setting: ``{SETTING: label, <run>: value as text, …, DIFFERS: "≠" or ""}``; with
    ``only_differences`` just the rows whose values are not all the same."""
    rows = []
    for label, value_of in SETTINGS:
        values = {v.run: _shown(value_of(v.config, v)) for v in views}
        differs = len(set(values.values())) > 1
        if differs or not only_differences:
            rows.append({SETTING: label, **values, DIFFERS: DIFF_MARK if differs else ""})
    return rows


def differing(views: list[RunView]) -> list[str]:
    """Labels of the settings whose values differ between the runs."""
    return [row[SETTING] for row in settings_rows(views, only_differences=True)]


# ---------------------------------------------------------------- results


def results_rows(views: list[RunView]) -> list[dict]:
    """One row per run: baseline and fine-tuned WER, the change in points, CER, the clips they rest on and how
    the output was chosen (``scoring.outcome``)."""
    rows = []
    for v in views:
        doc = v.eval or {}
        base, tuned = doc.get("baseline") or {}, doc.get("finetuned") or {}
        claims = scoring.outcome(doc)
        rows.append({
            "Run": v.run,
            "Baseline WER": scoring.percent(base.get("wer")),
            "Fine-tuned WER": scoring.percent(tuned.get("wer")),
            "Change": scoring.delta(base.get("wer"), tuned.get("wer")) or MISSING,
            "Baseline CER": scoring.percent(base.get("cer")),
            "Fine-tuned CER": scoring.percent(tuned.get("cer")),
            "Rests on": claims.rests_on if v.eval else "not measured yet",
            "Output chosen by": claims.selected_by or MISSING,
        })
    return rows


def warnings(views: list[RunView]) -> list[str]:
    """Per run, the sentences a user must not miss: worse than the base, too few clips, not finished."""
    out = []
    for v in views:
        if not v.eval:
            out.append(f"{v.run}: no eval results yet (the run is {v.state}).")
            continue
        claims = scoring.outcome(v.eval)
        if claims.worse_than_base:
            out.append(f"{v.run}: {claims.worse_sentence()}")
        if claims.too_few and claims.finetuned is not None:
            out.append(f"{v.run}: {claims.few_clips_sentence()}")
    return out


# ---------------------------------------------------------------- curves


def curves(views: list[RunView], key: str, scale: float = 1.0) -> tuple[list[dict], list[str]]:
    """Every run's Trackio series ``key`` as long rows ``{"run", "step", "value"}`` (one line per run on one
    chart), and the names of the runs that logged no point of it."""
    rows, empty = [], []
    for v in views:
        points = tracking.series(v.dataset, v.run, keys=(key,)).get(key) or []
        if not points:
            empty.append(v.run)
        rows += [{"run": v.run, "step": step, "value": value * scale} for step, value in points]
    return rows, empty


# ---------------------------------------------------------------- per utterance


def measured(u: dict) -> bool:
    return u.get("baseline_wer") is not None and u.get("finetuned_wer") is not None


def verdict(baseline_wer: float, finetuned_wer: float) -> str:
    """FIXED, BROKE or SAME for one run on one clip (the module docstring's definition)."""
    b, f = float(baseline_wer), float(finetuned_wer)
    if f > b + EPS:
        return BROKE
    if b > EPS and f < b - EPS:
        return FIXED
    return SAME


@dataclass(frozen=True)
class Shared:
    """The clips every picked run evaluated (in the first run's order), and what each run evaluated besides."""

    clip_ids: list[str]
    others: dict  # run -> clips only some runs evaluated (measured by this run, not shared)
    runs: list[str]

    @property
    def n(self) -> int:
        return len(self.clip_ids)

    def sentence(self) -> str:
        """What the per-utterance comparison rests on, in one or two sentences."""
        every = "both runs" if len(self.runs) == 2 else f"all {len(self.runs)} runs"
        if not self.clip_ids:
            return ("These runs evaluated no clip in common, so they cannot be compared utterance by utterance "
                    "(each run's results above rest on its own clips).")
        extra = [f"{run} also evaluated {n} other{'' if n == 1 else 's'}" for run, n in self.others.items() if n]
        clips = f"{self.n} clip{'' if self.n == 1 else 's'}"
        if not extra:
            return f"Compared on the {clips} {every} evaluated."
        return f"Compared on the {clips} {every} evaluated; {', '.join(extra)}."


def shared_clips(views: list[RunView]) -> Shared:
    """The intersection of the runs' measured eval clips (``Shared``)."""
    measured_ids = [[cid for cid, u in v.utterances.items() if measured(u)] for v in views]
    common = set(measured_ids[0]) if measured_ids else set()
    for ids in measured_ids[1:]:
        common &= set(ids)
    order = [cid for cid in (measured_ids[0] if measured_ids else []) if cid in common]
    others = {v.run: len(ids) - len(order) for v, ids in zip(views, measured_ids, strict=True)}
    return Shared(clip_ids=order, others=others, runs=[v.run for v in views])


def wer_column(run: str) -> str:
    return f"{run} · WER"


def verdict_column(run: str) -> str:
    return f"{run} · verdict"


def baseline_column(run: str | None = None) -> str:
    return "Baseline WER" if run is None else f"Baseline WER · {run}"


def same_baseline(views: list[RunView], shared: Shared) -> bool:
    """Whether every run measured the same baseline WER on every shared clip (one baseline column suffices)."""
    return all(abs(float(v.utterances[cid]["baseline_wer"]) - float(views[0].utterances[cid]["baseline_wer"])) <= EPS
               for cid in shared.clip_ids for v in views)


def utterance_rows(views: list[RunView], shared: Shared) -> list[dict]:
    """One row per shared clip: reference, baseline WER (one column, or one per run when the runs' baselines
    differ), each run's fine-tuned WER and verdict, and the clip id."""
    one_base = same_baseline(views, shared)
    rows = []
    for cid in shared.clip_ids:
        first = views[0].utterances[cid]
        row = {"Reference": first.get("reference", "")}
        if one_base:
            row[baseline_column()] = float(first["baseline_wer"])
        for v in views:
            u = v.utterances[cid]
            if not one_base:
                row[baseline_column(v.run)] = float(u["baseline_wer"])
            row[wer_column(v.run)] = float(u["finetuned_wer"])
            row[verdict_column(v.run)] = verdict(u["baseline_wer"], u["finetuned_wer"])
        row["Clip"] = cid
        rows.append(row)
    return rows


def tally(views: list[RunView], shared: Shared) -> dict[str, Counter]:
    """Per run, how many shared clips it fixed, broke and left the same."""
    out = {}
    for v in views:
        counts = Counter({k: 0 for k in VERDICTS})
        counts.update(verdict(v.utterances[c]["baseline_wer"], v.utterances[c]["finetuned_wer"])
                      for c in shared.clip_ids)
        out[v.run] = counts
    return out


def tally_sentence(run: str, counts: Counter, n: int) -> str:
    """'pub-full fixed 5, broke 1 and left 6 the same, of 12 shared clips.'"""
    return (f"{run} fixed {counts[FIXED]}, broke {counts[BROKE]} and left {counts[SAME]} the same, "
            f"of {n} shared clip{'' if n == 1 else 's'}.")
