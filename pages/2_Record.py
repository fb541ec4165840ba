"""Step 2: read the phrases aloud, one at a time. Each take is saved the moment it arrives, then checked."""

import streamlit as st

from voxstudio.studio import formatting, recorder, uploads, wizard

wizard.page_setup(2, "2 · Record")
ds = wizard.open_current_dataset()
if ds is None:
    st.stop()

info = ds.info
speakers = formatting.field_of(info, "speakers") or []
speaker = speakers[0] if speakers else None
default_language = formatting.first_language(info) or "en"


record_tab, upload_tab = st.tabs([":material/mic: Record", ":material/upload_file: Upload files"])

with record_tab:
    recorder.record_tab(ds, speaker=speaker)

with upload_tab:
    uploads.upload_tab(ds, speaker=speaker, default_language=default_language)
