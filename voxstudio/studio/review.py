"""The Review page's table: every clip as a row, its filters, the data-editor page and what the user changed.

pandas and numpy are imported inside the functions (the Review page caches the table per dataset version, so
they load once); how clips split into train and eval is the trainer's own rule (``training.selection``).
Streamlit is imported here; torch never is.
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from voxstudio.data import dataset as dataset_mod
from voxstudio.data import quality
from voxstudio.studio.formatting import flag_codes, flag_lines, fmt_duration

EDITOR_COLUMNS = ("delete", "text", "duration_s", "language", "speaker", "flags", "training", "split", "clip_id")
# ``?show=left-out`` opens the Review page on the clips a run leaves out (the Train page links there)
SHOW_PARAM = "show"
SHOW_LEFT_OUT = "left-out"
HISTOGRAM_EDGES = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30)


class EditorChanges(NamedTuple):
    """What the user changed in one page of the Review table."""

    texts: dict  # clip_id -> new text
    deletions: tuple  # clip_ids ticked for deletion (moved only when the user confirms)


def clips_table(ds: dataset_mod.Dataset):
    """Every live clip as one row (a pandas DataFrame), with its flags spelled out and its split side."""
    import pandas as pd

    from voxstudio.training import selection  # the trainer's own split (stdlib only)

    clips = ds.clips()
    sides = selection.default_selection(clips).sides()
    left = [quality.unusable(c.flags, c.reviewed) for c in clips]
    return pd.DataFrame(
        {
            "clip_id": [c.clip_id for c in clips],
            "text": [c.text for c in clips],
            "duration_s": [round(float(c.duration_s or 0.0), 2) for c in clips],
            "language": [c.language or "" for c in clips],
            "speaker": [c.speaker or "" for c in clips],
            "flags": [", ".join(flag_codes(c.flags)) for c in clips],
            "flags_text": [" ".join(flag_lines(c.flags)) for c in clips],
            "flagged": [bool(c.flags) for c in clips],
            "left_out": [code or "" for code in left],  # the unusable flag code that leaves it out, or ""
            "kept": [c.reviewed == quality.KEEP for c in clips],  # marked fine on this page
            "training": [training_label(c.flags, c.reviewed, code) for c, code in zip(clips, left)],
            "split": [sides.get(c.clip_id, "unused") for c in clips],
            "phrase_id": [c.phrase_id or "" for c in clips],
        }
    )


def training_label(flags, reviewed: str, left_code: str | None) -> str:
    """What training does with a clip, for the table: "" (no flags), "left out: too short", "kept: marked fine"
    (an unusable clip the user keeps), "used" (its flags are advice only)."""
    if not flags:
        return ""
    if left_code:
        return f"left out: {quality.label(left_code)}"
    if reviewed == quality.KEEP and quality.unusable(flags):
        return "kept: marked fine"
    return "used"


def filter_table(table, *, flagged_only: bool = False, language: str | None = None,
                 speaker: str | None = None, search: str = "", left_out_only: bool = False):
    """Rows matching the Review filters (case-insensitive plain-text search, not a regex)."""
    mask = table["clip_id"].notna()
    if flagged_only:
        mask &= table["flagged"]
    if left_out_only:
        mask &= table["left_out"] != ""
    if language:
        mask &= table["language"] == language
    if speaker is not None:
        mask &= table["speaker"] == speaker
    if search and search.strip():
        mask &= table["text"].str.contains(search.strip(), case=False, regex=False)
    return table[mask]


def editor_frame(rows):
    """The columns the data editor shows, with an unticked ``delete`` box per row."""
    frame = rows[[c for c in EDITOR_COLUMNS if c != "delete"]].copy()
    frame.insert(0, "delete", False)
    return frame.reset_index(drop=True)


def editor_columns() -> dict:
    return {
        "delete": st.column_config.CheckboxColumn("delete", help="Tick to move the clip to the trash", width="small"),
        "text": st.column_config.TextColumn("text (editable)", width="large"),
        "duration_s": st.column_config.NumberColumn("seconds", format="%.1f", width="small"),
        "flags": st.column_config.TextColumn("flags"),
        "training": st.column_config.TextColumn(
            "training", help="Flagged clips: left out of training and evaluation (mostly silence, too short, "
            "clipped) until re-recorded or marked fine, kept (marked fine), or used (the flag is advice)"),
        "clip_id": st.column_config.TextColumn("clip", width="small"),
    }


def editor_changes(rows, edited) -> EditorChanges:
    """Compare the page shown with what the editor returned: new texts and rows ticked for deletion."""
    texts, deletions = {}, []
    for original, new in zip(rows.itertuples(index=False), edited.itertuples(index=False)):
        if bool(new.delete):
            deletions.append(original.clip_id)
        elif str(new.text or "").strip() != str(original.text).strip():
            texts[original.clip_id] = str(new.text or "")
    return EditorChanges(texts=texts, deletions=tuple(deletions))


def changes_sentence(changes: EditorChanges) -> str:
    parts = []
    if changes.texts:
        parts.append(f"updated {len(changes.texts)} transcript{'s' if len(changes.texts) != 1 else ''}")
    if changes.deletions:
        n = len(changes.deletions)
        parts.append(f"moved {n} clip{'s' if n != 1 else ''} to the trash (restore below)")
    return "✓ Saved: " + " and ".join(parts) + "."


def duration_histogram(durations):
    """Clips per duration bucket (seconds), ending with everything beyond Voxtral's 30 s window."""
    import numpy as np
    import pandas as pd

    edges = [*HISTOGRAM_EDGES, max(31.0, float(durations.max() or 0) + 1)]
    counts, _ = np.histogram(durations.to_numpy(dtype=float), bins=edges)
    labels = [f"{lo:g}–{hi:g}" for lo, hi in zip(HISTOGRAM_EDGES[:-1], HISTOGRAM_EDGES[1:])] + ["> 30"]
    return pd.DataFrame({"seconds": pd.Categorical(labels, categories=labels, ordered=True), "clips": counts})


def split_sentence(table) -> str:
    """How the training split will look, by phrase (the same phrase is never on both sides)."""
    if table.empty:
        return "No clips yet."
    train, evaluation = table[table["split"] == "train"], table[table["split"] == "eval"]
    if evaluation.empty:
        return (f"All {len(train)} usable clips train; evaluation needs at least two different phrases.  \n"
                + left_out_line(table))
    unused = table[table["split"] == "unused"]
    spare = (f"**Held out, not scored:** {len(unused)} clips (a run scores at most its max eval utterances)  \n"
             if not unused.empty else "")
    return (
        f"**Train:** {len(train)} clips · {fmt_duration(float(train['duration_s'].sum()))}  \n"
        f"**Eval:** {len(evaluation)} clips · {fmt_duration(float(evaluation['duration_s'].sum()))}  \n"
        + spare + left_out_line(table) + "Split by phrase with a fixed seed: the same phrase is never in both."
    )


def left_out_line(table) -> str:
    """``**Left out:** 2 clips (1 mostly silence, 1 too short) …`` as a Markdown line; "" when none is."""
    left = table[table["left_out"] != ""]
    if left.empty:
        return ""
    counts = left["left_out"].value_counts()
    why = ", ".join(f"{int(n)} {quality.label(code)}" for code, n in counts.items())
    return (f"**Left out of training and evaluation:** {len(left)} clips ({why}); re-record them or mark them "
            "fine below  \n")


def each_clip(action, clip_ids) -> tuple[list[str], list[str]]:
    """``action(clip_id)`` for every clip, each alone: (the clip ids it worked for, one sentence per refusal)."""
    done, failures = [], []
    for clip_id in clip_ids:
        try:
            action(clip_id)
        except (KeyError, ValueError, OSError) as exc:  # FileNotFoundError is an OSError
            failures.append(str(exc).strip("'\""))
        else:
            done.append(clip_id)
    return done, failures


def move_to_trash(ds: dataset_mod.Dataset, clip_ids) -> tuple[list[str], list[str]]:
    """Move the ticked clips to the trash: (clip ids moved, one sentence per clip that could not be)."""
    return each_clip(ds.delete, clip_ids)


def restore_all(ds: dataset_mod.Dataset, clip_ids) -> tuple[int, list[str]]:
    """Undo a move: restore each clip (restore's own refusals, e.g. a duplicate recorded since, one sentence
    each; the others come back)."""
    restored, failures = each_clip(ds.restore, clip_ids)
    return len(restored), failures


def mark_label(left_out: str, training: str) -> str:
    """The button next to a clip: keep a left-out clip, or undo a keep; "" when neither applies."""
    if left_out:
        return "Mark fine (keep for training)"
    if training == "kept: marked fine":
        return "Undo: leave it out again"
    return ""
