"""The Record tab of the Record page: a mic check, then the phrases one at a time, clicked (``st.audio_input``) or
hands-free (``studio.handsfree``), with the last take always playable, a phrase list to jump to and keys.

Where the user is survives a reload (``?phrase=N`` in the URL, read when a browser session starts); the mic check
is remembered for the browser session (a session cookie). Every take is saved through ``Dataset.add_take``,
trimmed to its speech with ``TRIM_MARGIN_S`` each side (the untrimmed take kept), and queued for the prompt check
when one runs here (``studio.promptcheck``). Layout order is for phones: phrase, recorder, the verdict, then the
buttons. Session keys start with ``rec_``. Streamlit is imported here; torch never is.
"""

from __future__ import annotations

import streamlit as st

from voxstudio.data import audio
from voxstudio.studio import formatting, handsfree, keys, promptcheck, recording, takepanel, wizard

MODES = ("Click to record", "Hands-free")
TRIM_MARGIN_S = handsfree.TRIM_MARGIN_S
KEYMAP = {"next": ["rec_next"], "redo": ["rec_rerecord", "rec_redo_last"], "back": ["rec_back", "rec_back_end"],
          "skip": ["rec_skip"], "record": ["rec_hf_toggle"], "stop": ["rec_hf_stop"]}


def _pid(phrase) -> str:
    return formatting.field_of(phrase, "phrase_id")


# ---------------------------------------------------------------- place, navigation, stale messages
def _url_phrase(count: int) -> int | None:
    raw = st.query_params.get("phrase")
    if raw and str(raw).isdigit() and 1 <= int(raw) <= count + 1:
        return int(raw) - 1
    return None


def _place(ds, phrases: list, recorded: set) -> int:
    plan = (ds.name, tuple(_pid(p) for p in phrases))
    if st.session_state.get("rec_plan") != plan:  # first visit, another dataset or new phrases
        fresh = "rec_plan" not in st.session_state  # a new browser session (a reload): the URL says where
        st.session_state["rec_plan"] = plan
        start = _url_phrase(len(phrases)) if fresh else None
        st.session_state["rec_index"] = recording.first_unrecorded(phrases, recorded) if start is None else start
        st.session_state["rec_last"] = None
        st.session_state.pop("rec_hf", None)
    index = min(max(int(st.session_state.get("rec_index", 0)), 0), len(phrases))
    st.session_state["rec_index"] = index
    if st.query_params.get("phrase") != str(index + 1):
        st.query_params["phrase"] = str(index + 1)
    return index


def _clear_stale() -> None:
    """A notice or a refused take's error belongs to the moment it happened: gone once the user moves."""
    st.session_state["rec_notice"] = None
    last = st.session_state.get("rec_last")
    if last and last.get("error"):
        st.session_state["rec_last"] = None


def _go(index: int) -> None:
    st.session_state["rec_index"] = index
    _clear_stale()
    session = st.session_state.get("rec_hf")
    if session is not None:
        session.goto(index)


def _current() -> int:
    session = st.session_state.get("rec_hf")
    if session is not None and st.session_state.get("rec_mode") == MODES[1]:
        return session.snapshot()["index"]
    return int(st.session_state.get("rec_index", 0))


def _back() -> None:
    _go(max(0, _current() - 1))


def _next(count: int) -> None:
    _go(min(count, _current() + 1))


def _skip(ds, phrases: list) -> None:
    following = recording.next_unrecorded(phrases, ds.recorded_phrase_ids(), after=_current())
    _go(len(phrases) if following is None else following)


def _mode_changed() -> None:
    """Leaving hands-free turns the microphone off; entering it starts at the phrase on screen."""
    session = st.session_state.get("rec_hf")
    if session is None:
        return
    if st.session_state.get("rec_mode") == MODES[1]:
        session.refresh()
        session.goto(int(st.session_state.get("rec_index", 0)))
    else:
        st.session_state["rec_index"] = session.snapshot()["index"]
        st.session_state["rec_hf_on"] = False
        session.stop()


def _jump() -> None:
    _go(int(st.session_state["rec_jump"]))


def _redo(index: int) -> None:
    _go(index)
    st.session_state["rec_take"] = st.session_state.get("rec_take", 0) + 1
    st.session_state["rec_notice"] = (f"Record phrase {index + 1} again: the new take replaces the saved one once "
                                      "it is saved.")
    session = st.session_state.get("rec_hf")
    if session is not None and st.session_state.get("rec_mode") == MODES[1]:
        st.session_state["rec_notice"] = f"Read phrase {index + 1} again: your next take replaces the saved one."


# ---------------------------------------------------------------- the two ways to record
def _save(ds, take, phrase, index: int, phrases: list, recorded: set, speaker, model) -> None:
    """Save a clicked take; the dataset moves the phrase's earlier take to the trash only once it is saved."""
    try:
        clip, replaced = ds.add_take(take.getvalue(), phrase, speaker=speaker, trim_margin_s=TRIM_MARGIN_S)
    except (ValueError, OSError) as exc:  # AudioError is a ValueError: a sentence for the user
        st.session_state["rec_last"] = {"index": index, "error": str(exc)}
        return
    st.session_state["rec_last"] = {"index": index, "phrase_id": clip.phrase_id, "clip_id": clip.clip_id,
                                    "text": clip.text, "duration_s": clip.duration_s, "flags": clip.flags,
                                    "trim": clip.trim, "replaced": bool(replaced)}
    st.session_state["rec_notice"] = None
    promptcheck.submit_take(ds, clip, model)
    if not clip.flags and st.session_state.get("rec_auto", True):
        following = recording.next_unrecorded(phrases, recorded | {clip.phrase_id}, after=index)
        st.session_state["rec_index"] = len(phrases) if following is None else following


def _click_flow(ds, phrases, index, recorded, speaker, model) -> None:
    phrase = phrases[index]
    with st.container(key="rec_recorder"):
        label = ("Record it again (R): the new take replaces the saved one once it is saved" if _pid(phrase) in
                 recorded else "Click the microphone (or press R), read the phrase, click stop (R)")
        key = f"rec_take_{st.session_state.get('rec_take', 0)}"
        take = st.audio_input(label, sample_rate=audio.SAMPLE_RATE, key=key)
    if take is not None:
        _save(ds, take, phrase, index, phrases, recorded, speaker, model)
        st.session_state["rec_take"] = st.session_state.get("rec_take", 0) + 1  # a fresh widget
        st.rerun()


def _session(ds, phrases, index, speaker, model) -> handsfree.HandsFree:
    session = st.session_state.get("rec_hf")
    if session is None:
        session = handsfree.HandsFree(ds, phrases, index, speaker=speaker, prompt_model=model)
        st.session_state["rec_hf"] = session
        st.session_state["rec_hf_seen"] = 0
    return session


def _hf_toggle() -> None:
    session = st.session_state["rec_hf"]
    state = session.snapshot()["state"]
    _clear_stale()
    if not st.session_state.get("rec_hf_on"):
        st.session_state["rec_hf_on"] = True
        session.start()
    elif state in ("listening", "saving"):
        session.pause()
    else:
        session.resume()


def _hf_stop() -> None:
    st.session_state["rec_hf_on"] = False
    st.session_state["rec_hf"].stop()


STATUS = {"ready": "Press **Start** (or R), then read the phrase aloud: each sentence is saved when you pause.",
          "listening": "🎙️ Listening: read the phrase.", "saving": "Saving your take…",
          "paused": "⏸ Paused: nothing is recorded. Press Resume (R) to go on.",
          "stopped": "⏹ Stopped: the microphone is off. Press Start to go on.",
          "done": "All done: you reached the end of the phrases."}


def _live(ds, phrases, model, saved_checks) -> None:
    """The hands-free screen (a fragment polling the session): the phrase, what the session is doing, the input
    level and the last take."""
    session = st.session_state["rec_hf"]
    snap = session.snapshot()
    if snap["index"] != st.session_state.get("rec_index"):
        st.session_state["rec_index"] = snap["index"]
        st.query_params["phrase"] = str(snap["index"] + 1)
    if len(snap["takes"]) != st.session_state.get("rec_hf_seen", 0):  # a new take: refresh the whole page once
        st.session_state["rec_hf_seen"] = len(snap["takes"])  # (progress, phrase list, buttons)
        st.rerun()
    if snap["index"] < len(phrases):
        st.markdown(f"Phrase **{snap['index'] + 1}** of {len(phrases)}")
        st.markdown(recording.phrase_card(formatting.field_of(phrases[snap["index"]], "text")), unsafe_allow_html=True)
    state = snap["state"]
    line = STATUS.get(state, state)
    if state == "listening" and not snap["connected"]:
        line = "Connecting the microphone…"
    elif state == "listening" and snap["hearing"]:
        line = "🗣️ Hearing you… (pause to finish the take)"
    elif state == "listening" and snap["holding"]:
        line = "✓ Saved. Next phrase…"
    elif state == "listening" and not snap["armed"]:
        line = "🎙️ Listening: wait for a moment of quiet, then read the phrase."
    st.markdown(line)
    if state in ("listening", "saving", "paused"):
        level = snap["level_dbfs"]
        st.progress(min(1.0, max(0.0, (level + 60.0) / 60.0)), text=f"Input level {level:.0f} dBFS")
    if snap["last"]:
        takepanel.last_take(ds, snap["last"], model=model, saved_checks=saved_checks, on_redo=_redo)


def _handsfree_flow(ds, phrases, index, speaker, model, saved_checks) -> None:
    session = _session(ds, phrases, index, speaker, model)
    playing = bool(st.session_state.get("rec_hf_on"))
    state = session.snapshot()["state"]
    label, icon = (("Pause", ":material/pause:") if playing and state in ("listening", "saving")
                   else ("Resume", ":material/play_arrow:") if playing else ("Start", ":material/mic:"))
    cols = st.columns(2)
    cols[0].button(f"{label} (R)", icon=icon, key="rec_hf_toggle", type="primary", on_click=_hf_toggle,
                   width="stretch")
    cols[1].button("Stop (Esc)", icon=":material/stop:", key="rec_hf_stop", on_click=_hf_stop, disabled=not playing,
                   width="stretch")
    st.fragment(run_every=0.5 if playing else None)(_live)(ds, phrases, model, saved_checks)
    handsfree.streamer(st.session_state, session, "rec_hf_rtc", playing)


# ---------------------------------------------------------------- the tab
def record_tab(ds, *, speaker: str | None) -> None:
    phrases = ds.phrases()
    if not phrases:
        st.info("This dataset has no phrases to read yet. Choose them on the Language page.")
        wizard.link_to_step(1, "Go to 1 · Language")
        return
    st.markdown(recording.PHONE_CSS, unsafe_allow_html=True)
    if "rec_auto" not in st.session_state:  # arrived: a run of another page dropped this page's widget state
        st.session_state["rec_mode"] = st.session_state.get("rec_mode_kept", MODES[0])
        _clear_stale()
    if st.session_state.pop("rec_mic_cookie", False):
        keys.set_session_cookie(takepanel.MIC_COOKIE, "done")
    clips = ds.clips()
    if not takepanel.mic_done() and not clips:  # before the dataset's first take
        takepanel.mic_check()
        return
    recorded = {c.phrase_id for c in clips if c.phrase_id}
    setting = promptcheck.setting()
    saved_checks = promptcheck.results(ds.path)
    live = {c.clip_id for c in clips}
    flagged = {c.phrase_id for c in clips if c.flags and not c.reviewed}
    flagged |= {r.get("phrase_id") for cid, r in saved_checks.items() if r.get("flagged") and cid in live}
    index = _place(ds, phrases, recorded)
    done = len(recorded & {_pid(p) for p in phrases})
    st.progress(done / len(phrases), text=f"{done} of {len(phrases)} phrases recorded")
    mode = st.segmented_control("How to record", MODES, key="rec_mode", label_visibility="collapsed",
                                on_change=_mode_changed)
    st.session_state["rec_mode_kept"] = mode or MODES[0]
    hands_free = mode == MODES[1]

    if hands_free:
        _handsfree_flow(ds, phrases, index, speaker, setting.model, saved_checks)
    elif index >= len(phrases):
        st.success(f"All done: you reached the end of the {len(phrases)} phrases.")
        if done < len(phrases):
            st.caption(f"{len(phrases) - done} phrases were skipped: pick them in the phrase list, or go Back.")
        wizard.link_to_step(3, "Go to 3 · Review →")
    else:
        pid = _pid(phrases[index])
        st.markdown(f"Phrase **{index + 1}** of {len(phrases)}" + (" · ✓ recorded" if pid in recorded else ""))
        st.markdown(recording.phrase_card(formatting.field_of(phrases[index], "text")), unsafe_allow_html=True)
        _click_flow(ds, phrases, index, recorded, speaker, setting.model)
    if st.session_state.get("rec_notice"):
        st.info(st.session_state["rec_notice"])
    last = st.session_state.get("rec_last")
    if last and not hands_free:
        takepanel.last_take(ds, last, model=setting.model, saved_checks=saved_checks, on_redo=_redo)
    _nav(ds, phrases, index, recorded, hands_free)
    if not hands_free and index < len(phrases):
        saved = [c for c in clips if c.phrase_id == _pid(phrases[index])]
        if saved and (last is None or last.get("clip_id") != saved[-1].clip_id):
            st.markdown("**Saved take of this phrase**")
            st.audio(ds.audio_bytes(saved[-1]), format="audio/wav")
            recording.show_flags(saved[-1].flags, saved[-1].reviewed)
            st.caption(recording.take_caption({**saved[-1].to_row(), "replaced": False}))
    marks = {_pid(p): recording.status_mark(_pid(p), recorded, flagged) for p in phrases}
    st.session_state["rec_jump"] = index if index < len(phrases) else None
    st.selectbox("Jump to a phrase (✓ recorded · ⚠ flagged · todo)", list(range(len(phrases))), key="rec_jump",
                 on_change=_jump, format_func=lambda i: recording.phrase_option(
                     i, formatting.field_of(phrases[i], "text"), marks[_pid(phrases[i])]), placeholder="Pick a phrase")
    auto = st.toggle("Go to the next phrase after a clean take", value=True, key="rec_auto")
    if hands_free:
        st.session_state["rec_hf"].auto_advance = auto
    if not takepanel.mic_done():
        with st.expander("Mic check (levels and room noise)"):
            takepanel.mic_check()
    st.caption(setting.reason)
    st.caption(keys.legend())
    keys.install(KEYMAP | ({"redo": ["rec_redo_last"]} if hands_free else {}))


def _nav(ds, phrases, index: int, recorded: set, hands_free: bool) -> None:
    at_end = index >= len(phrases)
    pid = None if at_end else _pid(phrases[index])
    nav = st.columns(4 if not hands_free else 3)
    nav[0].button("Back (←)", icon=":material/arrow_back:", key="rec_back" if not at_end else "rec_back_end",
                  on_click=_back, disabled=index == 0, width="stretch")
    nav[1].button("Skip for now (S)", icon=":material/skip_next:", key="rec_skip", on_click=_skip,
                  args=(ds, phrases), disabled=at_end, width="stretch",
                  help="Leave this phrase without a take and go to the next phrase that has none.")
    nav[2].button("Keep & next (Enter)" if pid in recorded else "Next phrase (Enter)", icon=":material/arrow_forward:",
                  key="rec_next", on_click=_next, args=(len(phrases),), disabled=at_end, width="stretch",
                  help="Keep the saved take (if any) and go to the next phrase in the list.")
    if not hands_free:
        nav[3].button("Re-record (X)", icon=":material/replay:", key="rec_rerecord", on_click=_redo, args=(index,),
                      disabled=pid not in recorded, width="stretch",
                      help="Record this phrase again; the saved take is kept until the new one is saved.")
