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


def points(before: float | None, after: float | None) -> float | None:
    """How far a rate moved, in percentage points rounded to 0.1 (``0.20 → 0.15`` is ``-5.0``); None if unknown."""
    if before is None or after is None:
        return None
    return round((float(after) - float(before)) * 100, 1)


def delta(before: float | None, after: float | None) -> str | None:
    """The move as a signed sentence part, ``"-5.0 points"`` (a metric's delta); None when either is missing."""
    change = points(before, after)
    return None if change is None else f"{change:+.1f} points"
