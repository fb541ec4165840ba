"""Step 3: check every clip, fix transcripts, delete or restore, and export.

Fast with 10,000 clips: the table is read once per dataset version (cached) and shown 50 rows a page.
"""

import hashlib

import streamlit as st

from voxstudio.data import dataset as dataset_mod
from voxstudio.data import exporters
from voxstudio.studio import formatting, review, wizard

PAGE_SIZE = 50
ALL = "(all)"

wizard.page_setup(3, "3 · Review")
ds = wizard.open_current_dataset()
if ds is None:
    st.stop()


@st.cache_data(max_entries=4, show_spinner=False)
def load_table(name: str, version: str, folder: str = ""):
    """All live clips as a DataFrame, plus the train/eval split, for one version of the dataset (``folder``: the
    cache serves every session, and two people's datasets may share a name)."""
    return review.clips_table(dataset_mod.Dataset.open(name))


@st.cache_data(max_entries=4, show_spinner=False)
def load_histogram(name: str, version: str, folder: str = ""):
    return review.duration_histogram(load_table(name, version, folder)["duration_s"])


version = ds.version()
table = load_table(ds.name, version, str(ds.path))

# ------------------------------------------------------------------ totals
cols = st.columns(5)
cols[0].metric("Clips", len(table))
cols[1].metric("Audio", formatting.fmt_duration(float(table["duration_s"].sum())))
cols[2].metric("Flagged", int(table["flagged"].sum()),
               help=f"{int((table['left_out'] != '').sum())} of them left out of training (see the training column)")
sides = table["split"].value_counts()
cols[3].metric("Train / eval clips", f"{int(sides.get('train', 0))} / {int(sides.get('eval', 0))}")
speakers = {name for name in table["speaker"] if name}  # imported clips may name no speaker
cols[4].metric("Speakers", len(speakers) or "–", help=", ".join(sorted(speakers)) or "no speaker named")

if table.empty:
    st.info("No clips yet. Record some on the Record page, or upload files there.")
    wizard.link_to_step(2, "Go to 2 · Record")

# ------------------------------------------------------------------ filters
if st.query_params.get(review.SHOW_PARAM) == review.SHOW_LEFT_OUT:  # the Train page's link to left-out clips
    st.session_state["rev_flagged"] = st.session_state["rev_left_out"] = True
    del st.query_params[review.SHOW_PARAM]  # once: the toggles are the user's again
f = st.columns([1, 1, 1, 2])
flagged_only = f[0].toggle("Flagged only", key="rev_flagged")
left_out_only = f[0].toggle("Left out of training only", key="rev_left_out",
                            help="Clips a run leaves out (mostly silence, too short, clipped) until re-recorded or "
                            "marked fine")
language = f[1].selectbox("Language", [ALL, *sorted(table["language"].unique())], key="rev_language")
speaker = f[2].selectbox("Speaker", [ALL, *sorted(table["speaker"].unique())], key="rev_speaker")
search = f[3].text_input("Search the text", key="rev_search", placeholder="word or phrase")

view = review.filter_table(table, flagged_only=flagged_only, language=None if language == ALL else language,
                       speaker=None if speaker == ALL else speaker, search=search, left_out_only=left_out_only)
signature = hashlib.sha1(f"{flagged_only}|{left_out_only}|{language}|{speaker}|{search}".encode()).hexdigest()[:8]
pages = max(1, -(-len(view) // PAGE_SIZE))
st.caption(f"{len(view)} of {len(table)} clips match · {PAGE_SIZE} per page")

# ------------------------------------------------------------------ the table (one page)
page = st.pagination(pages, key=f"rev_page_{signature}") if pages > 1 else 1
rows = view.iloc[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
editor_key = f"rev_editor_{version}_{signature}_{page}_{st.session_state.get('rev_reset', 0)}"
if rows.empty:
    st.caption("No clip matches these filters." if len(table) else "The table fills as you record.")
else:
    edited = st.data_editor(
        review.editor_frame(rows),
        key=editor_key,
        hide_index=True,
        width="stretch",
        disabled=[c for c in review.EDITOR_COLUMNS if c not in ("delete", "text")],
        column_config=review.editor_columns(),
    )
    changes = review.editor_changes(rows, edited)
    if changes.texts or changes.deletions:
        try:
            for clip_id, text in changes.texts.items():
                ds.update_clip(clip_id, text=text)
            for clip_id in changes.deletions:
                ds.delete(clip_id)
        except (ValueError, KeyError) as exc:
            st.session_state["rev_message"] = ("error", str(exc))
        else:
            st.session_state["rev_message"] = ("success", review.changes_sentence(changes))
        st.session_state["rev_reset"] = st.session_state.get("rev_reset", 0) + 1
        st.rerun()
message = st.session_state.pop("rev_message", None)
if message:
    getattr(st, message[0])(message[1])

# ------------------------------------------------------------------ playback of the selected clip
if not rows.empty:
    labels = dict(zip(rows["clip_id"], rows["text"]))
    chosen = st.selectbox("Play a clip of this page", list(labels), key=f"rev_play_{signature}_{page}",
                          format_func=lambda cid: f"{labels[cid][:80]} · {cid}")
    row = rows[rows["clip_id"] == chosen].iloc[0]
    st.audio(ds.audio_bytes(chosen), format="audio/wav")
    if row["flags_text"]:
        st.caption("⚠️ " + row["flags_text"])
    if row["left_out"]:
        st.warning(f"Left out of training and evaluation ({row['training'].removeprefix('left out: ')}). "
                   "Listen: if the take is fine after all, keep it; otherwise re-record it on the Record page.")
        mark = st.button("Mark fine (keep for training)", key=f"rev_keep_{chosen}", icon=":material/check:")
    elif row["kept"] and row["training"] == "kept: marked fine":
        st.caption("✓ Marked fine: used for training and evaluation despite its flags.")
        mark = st.button("Undo: leave it out again", key=f"rev_unkeep_{chosen}", icon=":material/undo:")
    else:
        mark = False
    if mark:
        try:
            ds.mark_fine(chosen, fine=bool(row["left_out"]))
        except KeyError as exc:
            st.session_state["rev_message"] = ("error", str(exc))
        else:
            st.session_state["rev_message"] = ("success", "✓ Marked fine: training uses this clip." if row["left_out"]
                                               else "✓ Undone: training leaves this clip out again.")
        st.rerun()

# ------------------------------------------------------------------ trash
trashed = ds.trashed()
with st.expander(f"Trash ({len(trashed)} clips)", icon=":material/delete:"):
    if not trashed:
        st.caption("Deleted clips land here and can be restored.")
    else:
        names = {c.clip_id: c.text for c in trashed}
        restore_id = st.selectbox("Deleted clip", list(names), key="rev_trash_pick",
                                  format_func=lambda cid: f"{names[cid][:80]} · {cid}")
        if st.button("Restore", key="rev_restore"):
            try:
                ds.restore(restore_id)
            except (ValueError, KeyError, FileNotFoundError) as exc:
                st.session_state["rev_message"] = ("error", str(exc))
            else:
                st.session_state["rev_message"] = ("success", f"✓ Restored “{names[restore_id]}”.")
            st.rerun()

# ------------------------------------------------------------------ durations, split, export
left, right = st.columns(2)
with left:
    st.subheader("Clip durations")
    if not table.empty:
        st.bar_chart(load_histogram(ds.name, version, str(ds.path)), x="seconds", y="clips", height=220)
with right:
    st.subheader("Train / eval split")
    st.markdown(review.split_sentence(table))
    st.subheader("Export")
    st.download_button(
        "Download the dataset (.zip, AudioFolder)",
        icon=":material/download:",
        data=lambda: exporters.export_zip(ds),
        file_name=f"{ds.name}.zip",
        mime="application/zip",
        key="rev_export_zip",
        on_click="ignore",
        disabled=table.empty,
    )
if not table.empty:
    st.divider()
    wizard.link_to_step(4, "Next: train a model on these clips · 4 · Train →")
