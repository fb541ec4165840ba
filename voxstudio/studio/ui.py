"""Shared Streamlit helpers for the pages: wizard header, the current dataset, formatting.

Why one module: every page shows the same wizard order and must agree on which dataset is "current"
(one session key ``current_dataset`` plus the ``?dataset=`` query parameter so a browser reload keeps it).
Streamlit is imported here; torch never is (see tests/test_import_budget.py).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from voxstudio.data import dataset as dataset_mod

APP_TITLE = "voxstudio"
PAGE_ICON = "🎙️"
CURRENT_KEY = "current_dataset"
QUERY_KEY = "dataset"
PICKER_KEY = "ui_dataset_choice"
ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = ROOT / "pages"
CONSENT_TEXT = (
    "I am the speaker, and I agree that my recordings are stored in this dataset and used to "
    "fine-tune a speech recognizer."
)


@dataclass(frozen=True)
class Step:
    """One wizard step: its number, its name and what it is for."""

    number: int
    name: str
    purpose: str


STEPS = (
    Step(1, "Language", "choose the language and the phrases to read, create the dataset"),
    Step(2, "Record", "read the phrases aloud, one at a time"),
    Step(3, "Review", "check, fix or delete clips, export the dataset"),
    Step(4, "Train", "fine-tune Voxtral on your voice"),
    Step(5, "Evaluate", "compare the word error rate before and after"),
    Step(6, "Publish", "push the model and a demo Space to the Hugging Face Hub"),
    Step(7, "Try", "talk to your fine-tuned model"),
)


# ---------------------------------------------------------------- pure helpers


def fmt_duration(seconds: float) -> str:
    """``42.0`` → ``"42 s"``, ``754`` → ``"12 min 34 s"``, ``7300`` → ``"2 h 01 min"``."""
    seconds = max(0.0, float(seconds or 0.0))
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_minutes(seconds: float) -> str:
    """Minutes with one decimal, the unit people think about datasets in."""
    return f"{(seconds or 0.0) / 60:.1f} min"


def field_of(item: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dataclass/object or a dict (phrases and clips come as either)."""
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def flag_codes(flags: Any) -> list[str]:
    """Flag codes from a clip's ``flags`` (list of dicts ``{code, message, suggestion}`` or plain codes)."""
    codes = []
    for flag in flags or []:
        code = field_of(flag, "code") if not isinstance(flag, str) else flag
        if code:
            codes.append(str(code))
    return codes


def flag_lines(flags: Any) -> list[str]:
    """Human sentences for a clip's flags: the message and what to do about it."""
    lines = []
    for flag in flags or []:
        if isinstance(flag, str):
            lines.append(flag)
            continue
        message = field_of(flag, "message") or field_of(flag, "code") or ""
        suggestion = field_of(flag, "suggestion") or ""
        lines.append(f"{message} {suggestion}".strip())
    return lines


def first_unrecorded(phrases: list[Any], recorded_ids: set[str]) -> int:
    """Index of the first phrase without a saved take; ``len(phrases)`` when all are recorded."""
    found = next_unrecorded(phrases, recorded_ids)
    return len(phrases) if found is None else found


def next_unrecorded(phrases: list[Any], recorded_ids: set[str], after: int = -1) -> int | None:
    """Index of the first phrase after ``after`` without a saved take (no wrap-around), or None."""
    for index in range(after + 1, len(phrases)):
        if field_of(phrases[index], "phrase_id") not in recorded_ids:
            return index
    return None


def first_language(info: Any) -> str | None:
    """The first language of a dataset's ``dataset.json`` info, if any."""
    langs = field_of(info, "languages") if info else None
    return langs[0] if langs else None


def consent_record(speaker: str) -> dict:
    """What ``dataset.json`` keeps about consent: who agreed, to what, and when."""
    return {
        "given": True,
        "speaker": (speaker or "").strip(),
        "statement": CONSENT_TEXT,
        "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def hub_token_present() -> bool:
    """Whether ``HF_TOKEN`` is set. Never calls the network (pages must render offline and fast)."""
    return bool(os.environ.get("HF_TOKEN", "").strip())


def next_step(summaries: list[dict]) -> tuple[int, str]:
    """The wizard step to take next, with a sentence why, from per-dataset summaries.

    A summary is ``{"name", "clips", "phrases", "recorded_phrases"}``. Training needs recordings,
    so the advice walks the user forward only as far as the data on disk allows.
    """
    if not summaries:
        return 1, "Create your first dataset: pick a language and the phrases to read."
    best = max(summaries, key=lambda s: (s.get("clips", 0), s.get("name", "")))
    if best.get("clips", 0) == 0:
        if best.get("phrases", 0):
            return 2, f"Record the phrases of '{best['name']}'."
        return 1, f"Choose the phrases for '{best['name']}'."
    remaining = best.get("phrases", 0) - best.get("recorded_phrases", 0)
    if best.get("clips", 0) < 20 and remaining > 0:
        return 2, f"Keep recording '{best['name']}': {remaining} phrases left."
    return 3, f"Review the {best['clips']} clips of '{best['name']}', then train."


def page_file(number: int) -> str | None:
    """Path of wizard step ``number``'s page relative to the app root (``pages/2_Record.py``), if present."""
    matches = sorted(PAGES_DIR.glob(f"{number}_*.py"))
    return f"pages/{matches[0].name}" if matches else None


# ---------------------------------------------------------------- current dataset (session + query param)


def _existing(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    return name if name in dataset_mod.list_datasets() else None


def current_dataset_name() -> str | None:
    """The dataset every page works on: session state first, then ``?dataset=`` (survives a reload)."""
    name = _existing(st.session_state.get(CURRENT_KEY)) or _existing(st.query_params.get(QUERY_KEY))
    if name is None:
        st.session_state.pop(CURRENT_KEY, None)
        return None
    set_current_dataset(name)
    return name


def set_current_dataset(name: str | None) -> None:
    """Make ``name`` current for all pages and put it in the URL."""
    if name:
        st.session_state[CURRENT_KEY] = name
        if st.query_params.get(QUERY_KEY) != name:
            st.query_params[QUERY_KEY] = name
    else:
        st.session_state.pop(CURRENT_KEY, None)
        if QUERY_KEY in st.query_params:
            del st.query_params[QUERY_KEY]


def open_current_dataset() -> dataset_mod.Dataset | None:
    """Open the current dataset, or tell the user to create one on the Language page."""
    name = current_dataset_name()
    if name is not None:
        try:
            return dataset_mod.Dataset.open(name)
        except (FileNotFoundError, ValueError) as exc:
            st.error(str(exc))
    st.info("No dataset selected yet. Create one (or pick one) on the Language page.")
    link_to_step(1, "Go to 1 · Language")
    return None


def dataset_summary(name: str) -> dict:
    """What Home shows per dataset: clips, minutes, flagged, languages, phrases recorded of the list."""
    ds = dataset_mod.Dataset.open(name)
    stats = ds.stats()
    phrase_ids = {p.get("phrase_id") for p in ds.phrases()}
    return {
        "name": name,
        "clips": stats["clips"],
        "minutes": stats["minutes"],
        "flagged": stats["flagged"],
        "languages": sorted(stats["languages"]) or list(ds.info.get("languages") or []),
        "phrases": len(phrase_ids),
        "recorded_phrases": len(phrase_ids & ds.recorded_phrase_ids()),
    }


def clip_audio(ds: dataset_mod.Dataset, clip: Any) -> bytes:
    """The saved WAV bytes of ``clip`` for ``st.audio`` (the dataset owns where the file lives)."""
    return ds.audio_bytes(clip)


# ---------------------------------------------------------------- rendering


def page_setup(step: int | None, title: str) -> None:
    """Page config, the wizard order (current step in bold) and the sidebar dataset picker."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=PAGE_ICON, layout="wide")
    st.caption(wizard_line(step))
    st.title(title)
    sidebar_dataset_picker()


def wizard_line(current: int | None) -> str:
    """``**1 Language** → 2 Record → …`` as Markdown (current step in bold)."""
    parts = [f"**{s.number} {s.name}**" if s.number == current else f"{s.number} {s.name}" for s in STEPS]
    return " → ".join(parts)


def link_to_step(number: int, label: str | None = None) -> None:
    """A link to a wizard page that keeps ``?dataset=``; plain text when the page is not there (yet)."""
    step = STEPS[number - 1]
    label = label or f"{step.number} · {step.name}"
    target = page_file(number)
    if target is None:
        st.markdown(f"{label} (not available yet)")
        return
    name = st.session_state.get(CURRENT_KEY)
    try:
        st.page_link(target, label=label, query_params={QUERY_KEY: name} if name else None)
    except StreamlitAPIException:  # page not registered (e.g. a page run on its own): show the way
        st.markdown(f"{label}: open it from the sidebar.")


def _on_pick() -> None:
    set_current_dataset(st.session_state.get(PICKER_KEY))


def sidebar_dataset_picker() -> None:
    """A sidebar select box that switches the current dataset on every page."""
    names = dataset_mod.list_datasets()
    current = current_dataset_name()
    with st.sidebar:
        if not names:
            st.caption("No dataset yet.")
            return
        # Keep the widget in step with a dataset made current elsewhere (e.g. just created).
        if st.session_state.get(PICKER_KEY) != current:
            st.session_state[PICKER_KEY] = current
        st.selectbox("Current dataset", names, key=PICKER_KEY, on_change=_on_pick, placeholder="Pick a dataset")


def phrase_card(text: str) -> str:
    """The phrase to read, large and centred (HTML-escaped: phrases can come from user uploads)."""
    return (
        '<div style="font-size:2.1rem;line-height:1.35;font-weight:600;padding:1.2rem 1rem;margin:0.5rem 0 1rem;'
        'border-radius:0.75rem;background:rgba(128,128,128,0.08);text-align:center">'
        f"{html.escape(text or '')}</div>"
    )


def show_flags(flags: Any) -> None:
    """The quality verdict of a clip: ✓ or each flag with its suggestion."""
    lines = flag_lines(flags)
    if not lines:
        st.success("✓ Saved. The take sounds fine.")
        return
    st.warning("Saved, but please check:\n\n" + "\n".join(f"- {line}" for line in lines)
               + "\n\nPress **Re-record** to replace this take.")


# ---------------------------------------------------------------- Review table (pandas imported lazily)

EDITOR_COLUMNS = ("delete", "text", "duration_s", "language", "speaker", "flags", "split", "clip_id")
HISTOGRAM_EDGES = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30)


@dataclass(frozen=True)
class EditorChanges:
    """What the user changed in one page of the Review table."""

    texts: dict  # clip_id -> new text
    deletions: tuple  # clip_ids ticked for deletion


def clips_table(ds: dataset_mod.Dataset):
    """Every live clip as one row (a pandas DataFrame), with its flags spelled out and its split side."""
    import pandas as pd

    clips = ds.clips()
    _, eval_clips = ds.split() if clips else ([], [])
    eval_ids = {c.clip_id for c in eval_clips}
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
            "split": ["eval" if c.clip_id in eval_ids else "train" for c in clips],
            "phrase_id": [c.phrase_id or "" for c in clips],
        }
    )


def filter_table(table, *, flagged_only: bool = False, language: str | None = None,
                 speaker: str | None = None, search: str = ""):
    """Rows matching the Review filters (case-insensitive plain-text search, not a regex)."""
    mask = table["clip_id"].notna()
    if flagged_only:
        mask &= table["flagged"]
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
        return (f"All {len(train)} clips train; evaluation needs at least two different phrases.")
    return (
        f"**Train:** {len(train)} clips · {fmt_duration(float(train['duration_s'].sum()))}  \n"
        f"**Eval:** {len(evaluation)} clips · {fmt_duration(float(evaluation['duration_s'].sum()))}  \n"
        "Split by phrase with a fixed seed: the same phrase is never in both."
    )
