"""Which dataset every page works on: one session key plus the ``?dataset=`` query parameter.

Session state alone is lost on a browser reload; the query parameter survives it (and a bookmarked link keeps
it). :func:`current_dataset_name` reconciles the two, and the sidebar picker switches the dataset for all
pages. Streamlit is imported here; torch never is.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from voxstudio.data import dataset as dataset_mod

CURRENT_KEY = "current_dataset"
QUERY_KEY = "dataset"
PICKER_KEY = "ui_dataset_choice"


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


def query_params() -> dict | None:
    """The query parameters a link to another page carries so it opens on the same dataset."""
    name = st.session_state.get(CURRENT_KEY)
    return {QUERY_KEY: name} if name else None


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
