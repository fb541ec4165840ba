"""The studio's wizard: its steps and their page files, the page header, links between steps, the next step.

Every page starts with :func:`page_setup` so all of them show the same step order and the same sidebar
dataset picker. ``STEPS`` (+ ``EXTRA_PAGES``, pages outside the numbered steps) is the explicit page registry:
Streamlit still discovers the files in ``pages/`` (Home.py is the entry point), and tests/test_pages_data.py
checks that each registered file exists and that no page is missing from the registry. Streamlit is imported
here; torch never is.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAPIException

from voxstudio.data import dataset as dataset_mod
from voxstudio.data import integrity
from voxstudio.studio import session, signin

APP_TITLE = "voxstudio"
PAGE_ICON = "🎙️"
HOME_PAGE = "Home.py"


@dataclass(frozen=True)
class Step:
    """One wizard step: its number, its name, its page file (relative to the app root) and what it is for."""

    number: int
    name: str
    page: str
    purpose: str


STEPS = (
    Step(1, "Language", "pages/1_Language.py", "choose the language and the phrases to read, create the dataset"),
    Step(2, "Record", "pages/2_Record.py", "read the phrases aloud, one at a time"),
    Step(3, "Review", "pages/3_Review.py", "check, fix or delete clips, export the dataset"),
    Step(4, "Train", "pages/4_Train.py", "fine-tune Voxtral on your voice"),
    Step(5, "Evaluate", "pages/5_Evaluate.py", "compare the word error rate before and after"),
    Step(6, "Publish", "pages/6_Publish.py", "push the model and a demo Space to the Hugging Face Hub"),
    Step(7, "Try", "pages/7_Try.py", "talk to your fine-tuned model"),
)


@dataclass(frozen=True)
class ExtraPage:
    """A page outside the numbered steps (not in the wizard line; reached by links and the sidebar)."""

    name: str
    page: str
    purpose: str


EXTRA_PAGES = (
    ExtraPage("Compare", "pages/8_Compare.py", "compare 2–4 runs: settings, results, curves and utterances"),
)


def extra_page(name: str) -> ExtraPage:
    """The extra (non-step) page called ``name``."""
    for p in EXTRA_PAGES:
        if p.name == name:
            return p
    raise KeyError(f"There is no page named '{name}'.")


def step(number: int) -> Step:
    """The wizard step numbered ``number`` (1 to 7)."""
    for s in STEPS:
        if s.number == number:
            return s
    raise KeyError(f"There is no wizard step {number}.")


# ---------------------------------------------------------------- what to do next (Home)


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


# ---------------------------------------------------------------- rendering


def page_setup(number: int | None, title: str) -> None:
    """Page config, then the sign-in gate (hosted: nobody signed in sees the sign-in page only and the script
    stops here; a signed-in person is bound to their own home), the wizard order (current step in bold) and the
    sidebar dataset picker."""
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=PAGE_ICON, layout="wide")
    signin.gate()
    st.caption(wizard_line(number))
    st.title(title)
    session.sidebar_dataset_picker()


def wizard_line(current: int | None) -> str:
    """``**1 Language** → 2 Record → …`` as Markdown (current step in bold)."""
    parts = [f"**{s.number} {s.name}**" if s.number == current else f"{s.number} {s.name}" for s in STEPS]
    return " → ".join(parts)


def link_to_step(number: int, label: str | None = None, query: dict | None = None) -> None:
    """A link to a wizard page that keeps ``?dataset=`` (the current dataset), plus ``query`` (e.g. the Review
    page's ``?show=left-out`` filter)."""
    target = step(number)
    _page_link(target.page, label or f"{target.number} · {target.name}", query)


def link_to_page(name: str, label: str | None = None, query: dict | None = None) -> None:
    """A link to an extra page (``EXTRA_PAGES``, e.g. Compare) that keeps ``?dataset=``, plus ``query``."""
    target = extra_page(name)
    _page_link(target.page, label or target.name, query)


def _page_link(page: str, label: str, query: dict | None) -> None:
    params = {**(session.query_params() or {}), **(query or {})} or None
    try:
        st.page_link(page, label=label, query_params=params)
    except StreamlitAPIException:  # page not registered (e.g. a page run on its own): show the way
        st.markdown(f"{label}: open it from the sidebar.")


def _safe_repair_once(ds: dataset_mod.Dataset) -> None:
    """Clean what kills left in this dataset (never a saved clip), once per browser session and dataset."""
    key = f"wizard_repaired_{ds.name}"
    if st.session_state.get(key):
        return
    st.session_state[key] = True
    try:
        report = integrity.safe_repair(ds)
    except OSError:
        return  # e.g. a read-only or full disk: the page still works, `voxstudio dataset check` can say more
    if report.repaired:
        st.toast(f"Cleaned up {len(report.repaired)} leftover(s) of an interrupted save in '{ds.name}'.")
    if not report.ok:
        st.warning(f"Dataset '{ds.name}' has {len(report.problems) - len(report.repaired)} clip(s) whose audio is "
                   f"missing: run `voxstudio dataset check {ds.name} --repair` to set them aside.")


def open_current_dataset() -> dataset_mod.Dataset | None:
    """Open the current dataset, or tell the user to create one on the Language page (step 1)."""
    name = session.current_dataset_name()
    if name is not None:
        try:
            ds = dataset_mod.Dataset.open(name)
        except (FileNotFoundError, ValueError) as exc:
            st.error(str(exc))
        else:
            _safe_repair_once(ds)
            return ds
    st.info("No dataset selected yet. Create one (or pick one) on the Language page.")
    link_to_step(1, "Go to 1 · Language")
    return None
