"""Two panels of the Record page: the mic check (before the dataset's first take, remembered for the browser session
by a session cookie) and the last take ("Last take (phrase N) ✓": player, verdict, trimming, the prompt check and
a Redo button), shown on whatever phrase the user is on now. Streamlit is imported here; torch never is.
"""

from __future__ import annotations

import streamlit as st

from voxstudio.data import audio, miccheck
from voxstudio.studio import promptcheck, recording

MIC_COOKIE = "voxstudio_mic"


def mic_done() -> bool:
    """Whether the mic check was done (or skipped) in this browser session."""
    try:
        cookies = dict(st.context.cookies)
    except Exception:  # noqa: BLE001 - no browser context (a bare script run): only the session counts
        cookies = {}
    return bool(st.session_state.get("rec_mic")) or MIC_COOKIE in cookies


def _mic_finish(how: str) -> None:
    st.session_state["rec_mic"] = how
    st.session_state["rec_mic_cookie"] = True


def mic_check() -> None:
    with st.container(border=True, key="rec_miccheck"):
        st.markdown("**Mic check** before the first phrase: press record, **stay quiet for 2 seconds** (the room "
                    f"tone), then read this sentence and press stop:\n\n> {miccheck.CHECK_SENTENCE}")
        n = st.session_state.get("rec_mic_n", 0)
        take = st.audio_input("Mic check recording", sample_rate=audio.SAMPLE_RATE, key=f"rec_mic_take_{n}")
        if take is not None:
            try:
                report = miccheck.assess(audio.load_audio(take.getvalue(), name="mic check")).to_dict()
            except ValueError as exc:  # AudioError: a sentence
                report = {"ok": False, "advice": [("unreadable", str(exc))]}
            st.session_state["rec_mic_report"] = report
            st.session_state["rec_mic_n"] = n + 1
            st.rerun()
        report = st.session_state.get("rec_mic_report")
        if report:
            if report["ok"]:
                st.success(f"✓ Your microphone sounds good: voice at {report['speech_peak_dbfs']:.0f} dBFS peak, "
                           f"room tone at {report['noise_dbfs']:.0f} dBFS ({report['snr_db']:.0f} dB below).")
            else:
                st.warning("\n\n".join(sentence for _, sentence in report["advice"]) + "\n\nFix it and record the "
                           "check again, or go on anyway.")
        cols = st.columns(2)
        cols[0].button("Start recording" if report and report["ok"] else "Go on to the phrases", type="primary",
                       key="rec_mic_go", on_click=_mic_finish, args=("checked" if report else "skipped",),
                       width="stretch", disabled=not report)
        cols[1].button("Skip the check", key="rec_mic_skip", on_click=_mic_finish, args=("skipped",),
                       width="stretch")


# ---------------------------------------------------------------- the last take
def _check_line(ds, clip_id: str, model: str | None, saved: dict) -> None:
    state = promptcheck.status(ds, clip_id, model, saved)
    if state is None or state.get("state") == "pending":
        st.caption("Checking that you read the prompt…")
    elif state.get("state") == "error":
        st.caption(state["message"])
    elif state.get("flagged"):
        st.warning(state["message"])
    else:
        st.caption(f"✓ You read the prompt (heard “{state.get('heard', '').strip()}”).")


def _poll_check(ds, clip_id: str, model: str | None) -> None:
    state = promptcheck.status(ds, clip_id, model, {})
    _check_line(ds, clip_id, model, {})
    if state is not None and state.get("state") != "pending":
        st.rerun()  # settled: the whole page shows it, and the phrase list marks it


def last_take(ds, last: dict, *, model: str | None, saved_checks: dict, on_redo) -> None:
    """"Last take (phrase N) ✓": its player, verdict and prompt check, and a Redo button, on whatever phrase the
    user is on now."""
    number = last["index"] + 1
    with st.container(key="rec_last"):
        if last.get("error"):
            st.markdown(f"**Last take (phrase {number})** ✗")
            st.error(f"Not saved: {last['error']} Please record it again.")
            return
        st.markdown(f"**Last take (phrase {number})** {'⚠' if last['flags'] else '✓'}")
        try:
            st.audio(ds.audio_bytes(last["clip_id"]), format="audio/wav")
        except (OSError, KeyError):
            st.caption("This take is no longer in the dataset (replaced or deleted).")
        recording.show_flags(last["flags"])
        st.caption(recording.take_caption(last))
        if model:
            check = promptcheck.status(ds, last["clip_id"], model, saved_checks)
            if check is None or check.get("state") == "pending":
                st.fragment(run_every=1.0)(_poll_check)(ds, last["clip_id"], model)
            else:
                _check_line(ds, last["clip_id"], model, saved_checks)
        st.button(f"Redo phrase {number}", icon=":material/replay:", key="rec_redo_last", on_click=on_redo,
                  args=(last["index"],), help="Go back to that phrase and record it again.")
