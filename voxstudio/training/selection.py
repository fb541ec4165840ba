"""Which clips a run trains and evaluates on: the language filter, clean takes, the train/eval split, the minimum.

Stdlib only at import time: the Review page and the queue's preflight use it without loading torch. One rule
for the trainer, ``voxstudio evaluate``, the Review table's split column and the model card's data facts:

1. keep the clips in the run's languages (empty = every language);
2. clean takes only: leave out the clips with an unusable flag (``data.quality.unusable``: mostly silence, too
   short, clipped) unless the user marked them fine on the Review page; they are neither trained on nor scored,
   and ``Selection.left_out`` lists them with the flag code that left each out;
3. split *the rest* by phrase (``data.summary.split_clips``: deterministic per seed, the same phrase never on
   both sides). Filtering first means the held-out set is drawn only from the languages trained on and is
   ``eval_fraction`` of them, whatever else the dataset holds;
4. score at most ``max_eval`` held-out clips; the rest (``spare``) stay out of training too, so the
   split of a phrase never depends on the cap;
5. without a held-out side (``eval_fraction`` 0, or a single phrase) WER is measured on the training
   clips — memorisation, not generalisation — and the note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voxstudio.data import summary
from voxstudio.training.config import RunConfig

if TYPE_CHECKING:
    from voxstudio.data.dataset import Dataset

MIN_CLIPS = 2  # the trainer needs something to train on and something to measure
NO_HELD_OUT = "no held-out clips: WER is measured on the training clips"
LEFT_OUT = "left out"  # the side of an unusable clip (Review table's split column)


@dataclass(frozen=True)
class ClipRef:
    """What an example depends on: the clip's identity, audio file, transcript and language."""

    clip_id: str
    path: str
    text: str
    language: str | None


@dataclass(frozen=True)
class Selection:
    """The clips of one run: ``train``, ``held`` (scored for WER), ``spare`` (held out beyond the cap, unused),
    ``left_out`` (``(clip, code)``: in the run's languages but unusable; ``quality.UNUSABLE[code]`` says why).

    With a ``note`` (no held-out side), ``held`` is the first clips of ``train``: WER on training clips.
    """

    train: list
    held: list
    note: str = ""
    spare: list = field(default_factory=list)
    left_out: list = field(default_factory=list)

    def sides(self) -> dict[str, str]:
        """``{clip_id: "train" | "eval" | "unused" | "left out"}`` ("unused": spare; "left out": unusable); a
        clip on both sides (no held-out set) counts as training. Clips of other languages are absent."""
        out = {c.clip_id: LEFT_OUT for c, _ in self.left_out}
        out.update({c.clip_id: "unused" for c in self.spare})
        out.update({c.clip_id: "eval" for c in self.held})
        out.update({c.clip_id: "train" for c in self.train})
        return out


def in_languages(clips: Iterable, languages: Sequence[str] | None) -> list:
    """The clips whose language is one of ``languages`` (all clips when it is empty)."""
    wanted = set(languages or ())
    return [c for c in clips if not wanted or c.language in wanted]


def clean_takes(clips: Iterable) -> tuple[list, list]:
    """``(usable, left_out)``: the clips the clean-take rule keeps, and ``(clip, code)`` for the others (the
    first unusable flag code; a clip marked fine on the Review page is kept). Pure."""
    from voxstudio.data import quality  # lazily: this module stays stdlib-only at import

    usable, left = [], []
    for c in clips:
        code = quality.unusable(getattr(c, "flags", ()), getattr(c, "reviewed", ""))
        if code is None:
            usable.append(c)
        else:
            left.append((c, code))
    return usable, left


def left_out_counts(left_out: Iterable) -> dict[str, int]:
    """``{code: clips}`` of ``Selection.left_out``, the most frequent reason first."""
    counts: dict[str, int] = {}
    for _, code in left_out:
        counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def left_out_summary(left_out: Iterable) -> str:
    """``"3 left out (2 mostly silence, 1 too short)"``; "" when none is."""
    counts = left_out_counts(left_out)
    if not counts:
        return ""
    from voxstudio.data import quality

    parts = ", ".join(f"{n} {quality.label(code)}" for code, n in counts.items())
    return f"{sum(counts.values())} left out ({parts})"


def shortage(clips: Iterable, languages: Sequence[str] | None, dataset: str) -> str | None:
    """The refusal sentence when fewer than ``MIN_CLIPS`` usable clips are in ``languages``; None when enough.

    Counts the clips the run would really use (clean takes), and says how many were left out and why."""
    usable, left = clean_takes(in_languages(clips, languages))
    n = len(usable)
    if n >= MIN_CLIPS:
        return None
    which = f" in {', '.join(languages)}" if languages else ""
    if not left:
        return (f"Dataset '{dataset}' has {n} clip(s){which}; record at least {MIN_CLIPS} "
                "(a few dozen for a useful model) before training.")
    return (f"Dataset '{dataset}' has {n} usable clip(s){which}, {left_out_summary(left)}: re-record those or "
            f"mark them fine on the Review page; training needs at least {MIN_CLIPS} usable clips "
            "(a few dozen for a useful model).")


def select(clips: Iterable, languages: Sequence[str] | None = (), eval_fraction: float = 0.1, seed: int = 0,
           max_eval: int | None = None) -> Selection:
    """Filter by language, leave out unusable clips, then split by phrase; pure (any objects with
    clip_id/text/language/phrase_id, and flags/reviewed when they have them)."""
    kept, left = clean_takes(in_languages(clips, languages))
    if 0 < float(eval_fraction) < 1:
        train, held = summary.split_clips(kept, seed=seed, eval_fraction=eval_fraction)
    else:
        train, held = kept, []
    if not held or not train:
        scored = kept if max_eval is None else kept[:max_eval]
        return Selection(list(kept), list(scored), NO_HELD_OUT if kept else "", [], left)
    if max_eval is None:
        return Selection(train, held, left_out=left)
    return Selection(train, held[:max_eval], "", held[max_eval:], left)


def select_run(cfg: RunConfig, ds: Dataset | None = None) -> Selection:
    """``select`` over the run's dataset with the run's settings; ValueError when too few clips."""
    if ds is None:
        from voxstudio.data.dataset import Dataset

        ds = Dataset.open(cfg.dataset)
    clips = ds.clips()
    problem = shortage(clips, cfg.languages, cfg.dataset)
    if problem:
        raise ValueError(problem)
    return select(clips, cfg.languages, cfg.eval_fraction, cfg.seed, cfg.max_eval_utterances)


def default_selection(clips: Iterable) -> Selection:
    """The split a new run on these clips gets with the Train page's defaults (every language, the default
    eval fraction, seed and eval cap of ``RunConfig``): what the Review page shows."""
    d = RunConfig()
    return select(clips, (), d.eval_fraction, d.seed, d.max_eval_utterances)


def clip_refs(ds: Dataset, clips: Iterable) -> list[ClipRef]:
    return [ClipRef(c.clip_id, str(ds.audio_path(c)), c.text, c.language) for c in clips]


def select_clips(cfg: RunConfig) -> tuple[list[ClipRef], list[ClipRef], str]:
    """(train, eval, note) as ``ClipRef`` for the trainer and ``voxstudio evaluate``."""
    from voxstudio.data.dataset import Dataset

    ds = Dataset.open(cfg.dataset)
    sel = select_run(cfg, ds)
    return clip_refs(ds, sel.train), clip_refs(ds, sel.held), sel.note
