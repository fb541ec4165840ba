"""WER/CER and word diffs with a language-respecting normaliser (no torch; jiwer imported lazily).

Why a normaliser: "Lock the front door." and "lock the Front Door" are the same transcript to a user.
We fold case, drop punctuation and squeeze whitespace, but keep diacritics ("lumière" ≠ "lumiere" is a
real error in French) and strip the ``lang:xx`` prefix Voxtral emits when it detects the language. The
normaliser itself is ``voxstudio.text.normalise_for_wer`` (one family with the storage and "same text" forms).
"""

from __future__ import annotations

from dataclasses import dataclass

from voxstudio.text import normalise_for_wer


@dataclass
class Counts:
    errors: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        if self.total == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.total


def _counts(ref: str, hyp: str, chars: bool) -> Counts:
    ref_units = list(ref) if chars else ref.split()
    hyp_units = list(hyp) if chars else hyp.split()
    if not ref_units:
        return Counts(len(hyp_units), 0)
    if not hyp_units:
        return Counts(len(ref_units), len(ref_units))
    import jiwer

    if chars:
        out = jiwer.process_characters(ref, hyp)
    else:
        out = jiwer.process_words(ref, hyp)
    return Counts(out.substitutions + out.deletions + out.insertions, out.substitutions + out.deletions + out.hits)


def wer(reference: str, hypothesis: str, language: str | None = None) -> float:
    ref, hyp = normalise_for_wer(reference, language), normalise_for_wer(hypothesis, language)
    return _counts(ref, hyp, chars=False).rate


def cer(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Character error rate over the normalised text (single spaces count, as in jiwer)."""
    ref, hyp = normalise_for_wer(reference, language), normalise_for_wer(hypothesis, language)
    return _counts(ref, hyp, chars=True).rate


def corpus_scores(references: list[str], hypotheses: list[str], languages: list | None = None) -> dict:
    """Corpus WER/CER: total errors over total reference words/characters (not a mean of rates)."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses must have the same length")
    languages = languages or [None] * len(references)
    w, c = Counts(), Counts()
    for ref, hyp, lang in zip(references, hypotheses, languages):
        r, h = normalise_for_wer(ref, lang), normalise_for_wer(hyp, lang)
        cw, cc = _counts(r, h, chars=False), _counts(r, h, chars=True)
        w.errors += cw.errors
        w.total += cw.total
        c.errors += cc.errors
        c.total += cc.total
    return {"wer": w.rate, "cer": c.rate, "n": len(references)}


def word_diff(reference: str, hypothesis: str, language: str | None = None) -> list[dict]:
    """Aligned words: ``[{"op": "equal|substitute|delete|insert", "ref": str|None, "hyp": str|None}]``."""
    ref, hyp = normalise_for_wer(reference, language).split(), normalise_for_wer(hypothesis, language).split()
    if not ref or not hyp:
        return [{"op": "delete", "ref": w, "hyp": None} for w in ref] + [
            {"op": "insert", "ref": None, "hyp": w} for w in hyp]
    import jiwer

    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    diff: list[dict] = []
    for chunk in out.alignments[0]:
        r = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type in ("equal", "substitute"):
            diff += [{"op": chunk.type, "ref": a, "hyp": b} for a, b in zip(r, h)]
        elif chunk.type == "delete":
            diff += [{"op": "delete", "ref": a, "hyp": None} for a in r]
        else:
            diff += [{"op": "insert", "ref": None, "hyp": b} for b in h]
    return diff


# ----- showing rates: the one way pages, cards and the CLI write a WER/CER -----
def percent(rate: float | None, missing: str = "–") -> str:
    """A rate as a percentage with one decimal: ``0.0625`` → ``"6.2%"``; ``missing`` when not measured."""
    return missing if rate is None else f"{float(rate):.1%}"


def cut_off(summary: dict | None) -> str:
    """How many of a summary's transcripts hit their token budget before EOS (``evaluate.summarize``'s
    ``n_cut_off``): ``"2 of 8 cut off at the token limit"``; ``""`` when not recorded (an older evaluation)."""
    if not summary or summary.get("n_cut_off") is None:
        return ""
    return f"{int(summary['n_cut_off'])} of {summary.get('n', '?')} cut off at the token limit"


def cut_off_sentence(baseline: dict | None, finetuned: dict | None) -> str:
    """Both models' cut-off counts as one sentence (model card, Evaluate page); ``""`` when neither is recorded."""
    parts = [f"{name} {s['n_cut_off']} of {s.get('n', '?')}"
             for name, s in (("base model", baseline or {}), ("fine-tuned", finetuned or {}))
             if s.get("n_cut_off") is not None]
    return (f"Transcripts cut off at the token limit before the model finished (scored as they are): "
            f"{', '.join(parts)}." if parts else "")


def points(before: float | None, after: float | None) -> float | None:
    """How far a rate moved, in percentage points rounded to 0.1 (``0.20 → 0.15`` is ``-5.0``); None if unknown."""
    if before is None or after is None:
        return None
    return round((float(after) - float(before)) * 100, 1)


def delta(before: float | None, after: float | None) -> str | None:
    """The move as a signed sentence part, ``"-5.0 points"`` (a metric's delta); None when either is missing."""
    change = points(before, after)
    return None if change is None else f"{change:+.1f} points"


# ----- which weights a run keeps, and what may be said about them (trainer, pages, card, CLI) -----
# The one rule: the trainer evaluates every ``eval_every`` steps; an evaluation is kept as "best" only when its WER
# is <= the best so far, which starts at the base model's WER (ties go to the later checkpoint: it trained longer
# for the same score). Below MIN_HELD_OUT scored clips a WER is an anecdote, so it chooses nothing: the run keeps
# its final weights. When no evaluation matched the base, the final weights are kept and called worse, not best.
MIN_HELD_OUT = 5
BY_BEST_WER = "best held-out WER"
BY_BEST_TRAIN_WER = "best WER on the training clips (no held-out set)"
NO_CHECKPOINT_BEAT_BASE = "final weights (no checkpoint beat the base)"


def chooses_checkpoints(n_clips: int) -> bool:
    """Whether a WER on ``n_clips`` clips is enough to choose between checkpoints (``MIN_HELD_OUT`` or more)."""
    return int(n_clips or 0) >= MIN_HELD_OUT


def keeps(wer: float, best: float) -> bool:
    """Whether an evaluation's ``wer`` replaces the best so far (``best``: the base model's WER at first).
    A tie goes to the later checkpoint."""
    return float(wer) <= float(best)


def is_worse(baseline: float | None, finetuned: float | None) -> bool:
    """The fine-tuned WER is above the base model's (False when either is unknown)."""
    return baseline is not None and finetuned is not None and float(finetuned) > float(baseline)


def too_few_clips(n_clips: int, held_out: bool = True) -> str:
    """``selected_by`` when the WER set was too small to choose: "final weights (held-out set of 1 < 5 clips)"."""
    return f"final weights ({'held-out' if held_out else 'WER'} set of {n_clips} < {MIN_HELD_OUT} clips)"


def choice(n_clips: int, kept: bool, baseline: float | None, finetuned: float | None, *, held_out: bool = True,
           best_step: int | None = None) -> dict:
    """How a run's output was chosen, as the trainer records it in eval_results.json, train_results.json and
    status.json: ``selected_by``, ``worse_than_base``, ``wer_clips`` (what the WER rests on), ``selection_bias``
    (the same clips chose the checkpoint and measured it) and ``best_step`` (the kept evaluation's step).
    ``kept``: an evaluation was kept as best (and its weights are the output)."""
    if kept:
        selected_by = BY_BEST_WER if held_out else BY_BEST_TRAIN_WER
    elif not chooses_checkpoints(n_clips):
        selected_by = too_few_clips(n_clips, held_out)
    else:
        selected_by = NO_CHECKPOINT_BEAT_BASE
    return {"selected_by": selected_by, "worse_than_base": is_worse(baseline, finetuned), "wer_clips": int(n_clips),
            "selection_bias": bool(kept), "best_step": best_step if kept else None}


@dataclass(frozen=True)
class Outcome:
    """What a finished (or measured) run may claim, read from its eval_results.json (or a card's results)."""

    baseline: float | None = None
    finetuned: float | None = None
    wer_clips: int = 0
    held_out: bool = True
    selected_by: str = ""  # "" for runs recorded before the rule
    worse_than_base: bool = False
    selection_bias: bool = False
    best_step: int | None = None

    @property
    def too_few(self) -> bool:
        return not chooses_checkpoints(self.wer_clips)

    @property
    def rests_on(self) -> str:
        """'1 held-out clip', '35 held-out clips', '6 training clips'."""
        n = self.wer_clips
        return f"{n} {'held-out' if self.held_out else 'training'} clip{'' if n == 1 else 's'}"

    def worse_sentence(self) -> str:
        """The plain warning when fine-tuning made the model worse ('' otherwise)."""
        if not self.worse_than_base:
            return ""
        return (f"The fine-tuned model is worse than the base model: WER {percent(self.finetuned)} against "
                f"{percent(self.baseline)} on {self.rests_on}.")

    def few_clips_sentence(self) -> str:
        """The warning when the WER rests on fewer than ``MIN_HELD_OUT`` clips ('' otherwise)."""
        if not self.too_few:
            return ""
        return (f"The WER rests on {self.rests_on}: too few (under {MIN_HELD_OUT}) to tell checkpoints apart, so "
                "the run kept its final weights. Treat these numbers as anecdotes, not measurements.")

    def bias_sentence(self) -> str:
        """The selection-bias note when the WER set also chose the checkpoint ('' otherwise)."""
        if not self.selection_bias:
            return ""
        at = f" (step {self.best_step})" if self.best_step else ""
        return (f"The same {self.rests_on} chose this checkpoint{at} and measured it, so its WER is slightly "
                "optimistic.")


def outcome(doc: dict | None) -> Outcome:
    """The claims of a run from its eval_results.json document (or a model card's ``results`` facts). Runs
    recorded before the rule have no ``selected_by``: worse-than-base and the clip count are worked out."""
    doc = doc or {}
    base, tuned = doc.get("baseline") or {}, doc.get("finetuned") or {}
    before, after = base.get("wer"), tuned.get("wer")
    utterances = doc.get("utterances")
    n = doc.get("wer_clips")
    if n is None:
        n = tuned.get("n") or base.get("n") or (len(utterances) if isinstance(utterances, list) else utterances)
    worse = doc.get("worse_than_base")
    return Outcome(baseline=before, finetuned=after, wer_clips=int(n or 0),
                   held_out=bool(doc.get("held_out", not doc.get("note"))),
                   selected_by=str(doc.get("selected_by") or ""),
                   worse_than_base=is_worse(before, after) if worse is None else bool(worse),
                   selection_bias=bool(doc.get("selection_bias")), best_step=doc.get("best_step"))
