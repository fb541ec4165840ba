"""Step 1: language, phrases to read, and the dataset (name, speaker, consent)."""

import streamlit as st

from voxstudio import languages, workspace
from voxstudio.data import dataset as dataset_mod
from voxstudio.data import phrases as phrases_mod
from voxstudio.studio import formatting, recording, session, waits, wizard

SOURCES = {
    "bundled": "Phrases that come with voxstudio",
    "granary": "Sentences from NVIDIA Granary (needs internet)",
    "custom": "My own phrases (paste or upload .txt / .csv)",
}

wizard.page_setup(1, "1 · Language and phrases")
current = session.current_dataset_name()
current_ds = dataset_mod.Dataset.open(current) if current else None

# ------------------------------------------------------------------ language and phrase source
codes = list(phrases_mod.LANGUAGES)
default_lang = formatting.first_language(current_ds.info if current_ds else None) or "en"
left, right = st.columns(2)
language = left.selectbox(
    "Language you will speak",
    codes,
    index=codes.index(default_lang) if default_lang in codes else 0,
    format_func=languages.menu_label,
    key="lang_language",
)
source = right.radio("Phrases to read", list(SOURCES), format_func=SOURCES.get, key="lang_source")
if source != "custom":
    count = left.number_input("How many phrases", min_value=5, max_value=500, value=60, step=5, key="lang_count")
    seed = right.number_input("Shuffle seed", min_value=0, value=0, step=1, key="lang_seed",
                              help="Change it to get a different selection of phrases.")

selection = None
if source == "bundled":
    selection = phrases_mod.load_phrases(language, source="bundled", n=int(count), seed=int(seed))
elif source == "granary":
    cache_key = f"lang_granary_{language}_{count}_{seed}"
    if st.button("Load sentences from Granary", key="lang_granary_load"):
        with st.spinner(waits.granary_spinner()):
            st.session_state[cache_key] = waits.granary_phrases(language, n=int(count), seed=int(seed))
    selection = st.session_state.get(cache_key)
    if selection is None:
        st.caption(f"Press the button to fetch sentences: Granary gets up to {waits.GRANARY_TIMEOUT_S:g} s to answer; "
                   "if it cannot be reached the bundled phrases are used.")
else:
    pasted = st.text_area("One phrase per line", key="lang_custom_text", height=150)
    upload = st.file_uploader("…or upload a .txt (one per line) or .csv (a `text` column)",
                              type=["txt", "csv"], key="lang_custom_file")
    data, filename = (upload.getvalue(), upload.name) if upload is not None else (pasted, "pasted.txt")
    if upload is not None or pasted.strip():
        try:
            selection = phrases_mod.load_phrases(language, source="custom", custom=data, filename=filename)
        except ValueError as exc:
            st.error(str(exc))

phrase_list = list(selection.phrases) if selection else []
if selection is not None and selection.notice:
    st.info(selection.notice)

st.subheader(f"Preview: {len(phrase_list)} phrases")
if phrase_list:
    st.dataframe(
        [{"#": i + 1, "phrase": formatting.field_of(p, "text")} for i, p in enumerate(phrase_list)],
        hide_index=True,
        height=260,
    )

# ------------------------------------------------------------------ dataset
st.subheader("Dataset")
existing = dataset_mod.list_datasets()
modes = ["new", "existing"] if existing else ["new"]
mode = st.radio(
    "Save the phrases to",
    modes,
    format_func={"new": "a new dataset", "existing": "an existing dataset"}.get,
    index=1 if current and existing else 0,
    horizontal=True,
    key="lang_mode",
)

if mode == "new":
    speaker = st.text_input("Your name (the speaker)", key="lang_speaker", max_chars=80)
    suggestion = workspace.slugify(f"{speaker or 'my-voice'}-{language}")
    name = st.text_input("Dataset name", key="lang_name", placeholder=suggestion,
                         help="Lower-case letters, digits, '-', '_' or '.'. Left empty: the suggestion.")
    consent = st.checkbox(recording.CONSENT_TEXT, key="lang_consent")
    if st.button(f"Create dataset and save {len(phrase_list)} phrases", type="primary", key="lang_create",
                 disabled=not phrase_list):
        name = (name or "").strip() or suggestion
        if not consent:
            st.error("Please tick the consent box first: the recordings are of your voice.")
        else:
            try:
                ds = dataset_mod.Dataset.create(
                    name, languages=[language], speaker=speaker.strip(), consent=recording.consent_record(speaker)
                )
                ds.set_phrases([p.to_dict() for p in phrase_list])
            except (ValueError, FileExistsError, OSError) as exc:
                st.error(str(exc))
            else:
                session.set_current_dataset(ds.name)
                st.session_state["lang_saved"] = (name, len(phrase_list))
                st.session_state.pop("lang_mode", None)  # next run: "existing", on the dataset just made
                st.rerun()
else:
    name = st.selectbox("Dataset", existing, index=existing.index(current) if current in existing else 0,
                        key="lang_existing")
    ds = dataset_mod.Dataset.open(name)
    info = ds.info
    speakers = formatting.field_of(info, "speakers") or []
    speaker = st.text_input("Your name (the speaker)", value=speakers[0] if speakers else "",
                            key=f"lang_speaker_{name}")
    given = bool(formatting.field_of(formatting.field_of(info, "consent") or {}, "given", False))
    consent = st.checkbox(recording.CONSENT_TEXT, value=given, key=f"lang_consent_{name}")
    recorded = len(ds.recorded_phrase_ids())
    if ds.phrases():
        st.caption(f"This replaces its list of {len(ds.phrases())} phrases; the {recorded} recorded takes are kept.")
    if st.button(f"Save {len(phrase_list)} phrases to '{name}'", type="primary", key="lang_save",
                 disabled=not phrase_list):
        if not consent:
            st.error("Please tick the consent box first: the recordings are of your voice.")
        else:
            try:
                ds.merge_speaker_and_language(speaker, language, consent=recording.consent_record(speaker))
                ds.set_phrases([p.to_dict() for p in phrase_list])
            except (ValueError, OSError) as exc:
                st.error(str(exc))
            else:
                session.set_current_dataset(name)
                st.session_state["lang_saved"] = (name, len(phrase_list))
                st.rerun()

saved = st.session_state.get("lang_saved")
if saved:
    st.success(f"✓ Saved {saved[1]} phrases to '{saved[0]}'. Next: read them aloud.")
    wizard.link_to_step(2, "Go to 2 · Record →")
