"""Step 2: read the phrases aloud, one at a time. Each take is saved the moment it arrives, then checked."""

import streamlit as st

from voxstudio import languages
from voxstudio.data import audio, importers
from voxstudio.data import phrases as phrases_mod
from voxstudio.studio import formatting, recording, wizard

UPLOAD_TYPES = ["wav", "flac", "ogg", "opus", "mp3", "webm", "m4a", "txt", "csv", "jsonl"]

wizard.page_setup(2, "2 · Record")
ds = wizard.open_current_dataset()
if ds is None:
    st.stop()

info = ds.info
speakers = formatting.field_of(info, "speakers") or []
speaker = speakers[0] if speakers else None
default_language = formatting.first_language(info) or "en"


def _go(index: int) -> None:
    st.session_state["rec_index"] = index
    st.session_state["rec_notice"] = None


def _rerecord() -> None:
    st.session_state["rec_take"] = st.session_state.get("rec_take", 0) + 1
    st.session_state["rec_notice"] = "Record the phrase again: the new take replaces the saved one once it is saved."


def _save_take(take, phrase, index: int, phrases: list, recorded: set) -> None:
    """Save the take; the dataset moves the phrase's earlier take to the trash only once it is saved."""
    try:
        clip, replaced = ds.add_take(take.getvalue(), phrase, speaker=speaker)
    except (ValueError, OSError) as exc:  # AudioError is a ValueError: a sentence for the user
        st.session_state["rec_last"] = {"index": index, "error": str(exc)}
        return
    st.session_state["rec_last"] = {
        "index": index,
        "clip_id": clip.clip_id,
        "text": clip.text,
        "duration_s": clip.duration_s,
        "flags": clip.flags,
        "replaced": bool(replaced),
    }
    st.session_state["rec_notice"] = None
    if not clip.flags and st.session_state.get("rec_auto", True):
        following = recording.next_unrecorded(phrases, recorded | {clip.phrase_id}, after=index)
        st.session_state["rec_index"] = len(phrases) if following is None else following


record_tab, upload_tab = st.tabs([":material/mic: Record", ":material/upload_file: Upload files"])

with record_tab:
    phrases = ds.phrases()
    if not phrases:
        st.info("This dataset has no phrases to read yet. Choose them on the Language page.")
        wizard.link_to_step(1, "Go to 1 · Language")
    else:
        recorded = ds.recorded_phrase_ids()
        plan = (ds.name, tuple(formatting.field_of(p, "phrase_id") for p in phrases))
        if st.session_state.get("rec_plan") != plan:  # first visit, another dataset or new phrases: resume
            st.session_state["rec_plan"] = plan
            st.session_state["rec_index"] = recording.first_unrecorded(phrases, recorded)
            st.session_state["rec_last"] = None
        index = min(max(int(st.session_state.get("rec_index", 0)), 0), len(phrases))
        done = sum(1 for p in phrases if formatting.field_of(p, "phrase_id") in recorded)
        st.progress(done / len(phrases), text=f"{done} of {len(phrases)} phrases recorded")

        if index >= len(phrases):
            st.success(f"All done: you reached the end of the {len(phrases)} phrases.")
            if done < len(phrases):
                st.caption(f"{len(phrases) - done} phrases were skipped; Back takes you to them.")
            wizard.link_to_step(3, "Go to 3 · Review →")
            st.button("Back", icon=":material/arrow_back:", key="rec_back_end", on_click=_go, args=(len(phrases) - 1,))
        else:
            phrase = phrases[index]
            pid = formatting.field_of(phrase, "phrase_id")
            st.markdown(f"Phrase **{index + 1}** of {len(phrases)}" + (" · ✓ recorded" if pid in recorded else ""))
            st.markdown(recording.phrase_card(formatting.field_of(phrase, "text")), unsafe_allow_html=True)

            take_key = f"rec_take_{st.session_state.get('rec_take', 0)}"
            label = ("Record it again: the new take replaces the saved one once it is saved" if pid in recorded
                     else "Click the microphone, read the phrase, click stop")
            take = st.audio_input(label, sample_rate=audio.SAMPLE_RATE, key=take_key)
            if take is not None:
                _save_take(take, phrase, index, phrases, recorded)
                st.session_state["rec_take"] = st.session_state.get("rec_take", 0) + 1  # fresh widget
                st.rerun()

            if st.session_state.get("rec_notice"):
                st.info(st.session_state["rec_notice"])

            nav = st.columns(4)
            nav[0].button("Back", icon=":material/arrow_back:", key="rec_back", on_click=_go, args=(index - 1,),
                          disabled=index == 0, width="stretch")
            after = recording.next_unrecorded(phrases, recorded, after=index)
            skip_to = len(phrases) if after is None else after
            nav[1].button("Skip", icon=":material/skip_next:", key="rec_skip", on_click=_go, args=(skip_to,),
                          width="stretch", help="Leave this phrase unrecorded and go to the next one without a take.")
            nav[2].button("Next", icon=":material/arrow_forward:", key="rec_next", on_click=_go, args=(index + 1,),
                          width="stretch")
            nav[3].button("Re-record", icon=":material/replay:", key="rec_rerecord", on_click=_rerecord,
                          disabled=pid not in recorded, width="stretch",
                          help="Record this phrase again; the saved take is kept until then.")
            st.toggle("Go to the next phrase after a clean take", value=True, key="rec_auto")

            last = st.session_state.get("rec_last")
            if last:
                st.markdown(f"**Last take** (phrase {last['index'] + 1})")
                if last.get("error"):
                    st.error(f"Not saved: {last['error']} Please record it again.")
                else:
                    recording.show_flags(last["flags"])
                    st.caption(f"“{last['text']}” · {formatting.fmt_duration(last['duration_s'])}"
                               + (" · replaced the earlier take (it is in the trash)" if last["replaced"] else ""))
            saved = [c for c in ds.clips() if c.phrase_id == pid]
            if saved:
                st.markdown("**Saved take of this phrase**")
                st.audio(ds.audio_bytes(saved[-1]), format="audio/wav")
                if last is None or last.get("index") != index:
                    recording.show_flags(saved[-1].flags, saved[-1].reviewed)

with upload_tab:
    st.markdown("Upload audio files with their transcripts: same-name `.txt` files, or a `.csv` "
                "(`file,text`) / `.jsonl` (`audio_path`, `text`) manifest naming the files.")
    upload_key = f"rec_upload_{st.session_state.get('rec_upload_n', 0)}"
    files = st.file_uploader("Audio and transcripts", type=UPLOAD_TYPES, accept_multiple_files=True,
                             key=upload_key)
    language = st.selectbox("Language of these files", list(phrases_mod.LANGUAGES),
                            index=list(phrases_mod.LANGUAGES).index(default_language)
                            if default_language in phrases_mod.LANGUAGES else 0,
                            format_func=languages.menu_label, key="rec_upload_language")
    if st.button("Import files", type="primary", key="rec_import", disabled=not files):
        with st.spinner("Importing…"):
            report = importers.import_uploads(
                ds, files=[(f.name, f.getvalue()) for f in files], language=language, speaker=speaker
            )
        st.session_state["rec_import_report"] = report.to_dict()
        st.session_state["rec_upload_n"] = st.session_state.get("rec_upload_n", 0) + 1
        st.rerun()
    report = st.session_state.get("rec_import_report")
    if report:
        if report["imported"]:
            st.success(f"✓ Imported {report['imported']} clips.")
        for refused in report["refused"]:
            st.warning(f"{refused['item']}: {refused['reason']}")
        if not report["imported"] and not report["refused"]:
            st.info("Nothing to import.")
