"""The Record page's upload tab: files, a whole folder or zips in, a progress bar while they import, then the
import's report — the layout it detected, and the same per-item sentences as ``voxstudio dataset import``.

Session keys are the page's (``rec_``): ``rec_upload_N`` / ``rec_folder_N`` (the uploaders, renewed after each
import), ``rec_upload_language``, ``rec_import``, ``rec_import_report``.
"""

from __future__ import annotations

import streamlit as st

from voxstudio import languages
from voxstudio.data import importers
from voxstudio.data import phrases as phrases_mod

REPORT_KEY = "rec_import_report"
SHOWN = 25  # refusals shown one by one; the rest go in an expander

INTRO = ("Bring the clips you already have: audio files with same-name `.txt` transcripts or a manifest naming them "
         "(JSONL `audio_path`/`text`, NeMo, CSV `file,text`, AudioFolder `metadata.jsonl`), a Common Voice, LJ Speech "
         "or Kaldi folder, or a zip of any of these. Choose a folder to upload all its files with their folders.")


def upload_tab(ds, *, speaker: str | None, default_language: str) -> None:
    st.markdown(INTRO)
    n = st.session_state.get("rec_upload_n", 0)
    files = st.file_uploader("Files or zips (select several at once)", accept_multiple_files=True,
                             key=f"rec_upload_{n}")
    folder = st.file_uploader("…or a whole folder", accept_multiple_files="directory", key=f"rec_folder_{n}")
    codes = list(phrases_mod.LANGUAGES)
    language = st.selectbox("Language of clips that do not name theirs", codes,
                            index=codes.index(default_language) if default_language in codes else 0,
                            format_func=languages.menu_label, key="rec_upload_language")
    chosen = [*(files or []), *(folder or [])]
    if st.button("Import files", type="primary", key="rec_import", disabled=not chosen):
        bar = st.progress(0.0, text="Reading the upload…")
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            percent = int(100 * done / total) if total else 0
            if percent != shown[0]:
                shown[0] = percent
                bar.progress(min(percent, 100) / 100, text=f"Importing {done} of {total}…" if total else
                             f"Importing {done}…")

        report = importers.import_uploads(ds, [(f.name, f) for f in chosen], language=language, speaker=speaker,
                                          progress=progress)
        st.session_state[REPORT_KEY] = report.to_dict()
        st.session_state["rec_upload_n"] = n + 1
        st.rerun()
    show_report(st.session_state.get(REPORT_KEY))


def show_report(report: dict | None) -> None:
    if not report:
        return
    if report.get("layout"):
        rows = report.get("rows")
        st.caption(f"Detected: {report['layout']}" + ("" if rows is None else f" — {rows} row(s)"))
    for note in report.get("notes") or []:
        st.caption(note)
    if report["imported"]:
        st.success(f"✓ Imported {report['imported']} clips.")
    refused = report["refused"]
    for item in refused[:SHOWN]:
        st.warning(f"{item['item']}: {item['reason']}")
    if len(refused) > SHOWN:
        with st.expander(f"{len(refused) - SHOWN} more refused"):
            st.text("\n".join(f"{item['item']}: {item['reason']}" for item in refused[SHOWN:]))
    for item in report.get("notices") or []:
        st.info(f"{item['item']}: {item['notice']}")
    if report.get("stopped"):
        st.error(f"The import stopped: {report['stopped']}")
    if not report["imported"] and not refused:
        st.info("Nothing to import: the upload held no audio file, manifest or transcript.")
