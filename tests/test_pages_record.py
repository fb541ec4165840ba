"""The Record tab through AppTest: the mic check, the last take on the next phrase's screen, trimming in the
verdict, the phrase list, resuming from the URL, stale messages, the labels, the keys script, the prompt check's
sentence (with a stand-in transcriber; the real mechanism is tests/test_promptcheck.py) and hands-free mode."""

from __future__ import annotations

import io

import numpy as np
import pytest
import session_audio
import soundfile as sf
from apptest_support import open_app, rerun, texts

from voxstudio.data import audio
from voxstudio.data.dataset import Dataset
from voxstudio.studio import promptcheck

PHRASES = ["Lock the front door please.", "What time is it now?", "Turn off the kitchen lights.",
           "Set a timer for ten minutes.", "Is the garage door open?"]


def wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, audio.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def takes():
    """Three real phrases, each with 1.5 s of room tone before it and the pause after it (from the session)."""
    x, spans = session_audio.build()
    sr = audio.SAMPLE_RATE
    return [x[max(0, int((a - 1.5) * sr)): int((b + 1.0) * sr)] for a, b in spans]


@pytest.fixture
def ds(home):
    ds = Dataset.create("rec", languages=["en"], speaker="Ada")
    ds.set_phrases(PHRASES)
    return ds


def past_mic_check(at):
    at.button(key="rec_mic_skip").click()
    return rerun(at)


def test_the_mic_check_comes_before_the_first_phrase(ds, takes):
    at = open_app("pages/2_Record.py", dataset="rec")
    shown = texts(at)
    assert "Mic check" in shown and "Phrase **1**" not in shown
    assert at.button(key="rec_mic_go").disabled
    room_then_sentence = takes[0]
    at.audio_input(key="rec_mic_take_0").upload("check.wav", wav(room_then_sentence)).run()
    assert "✓ Your microphone sounds good" in texts(at)
    rng = np.random.default_rng(0)
    noisy = room_then_sentence + rng.standard_normal(room_then_sentence.size).astype(np.float32) * 0.05
    at.audio_input(key="rec_mic_take_1").upload("check.wav", wav(noisy)).run()
    assert "Noisy room" in texts(at)
    at.audio_input(key="rec_mic_take_2").upload("check.wav", wav(room_then_sentence * 0.01)).run()
    assert "Too quiet" in texts(at)
    at.button(key="rec_mic_go").click()
    shown = texts(rerun(at))
    assert "Phrase **1** of 5" in shown and "Mic check" not in shown
    assert at.session_state["rec_mic"] == "checked"


def test_the_last_take_stays_playable_on_the_next_phrase(ds, takes):
    at = past_mic_check(open_app("pages/2_Record.py", dataset="rec"))
    at.audio_input(key="rec_take_0").upload("take.wav", wav(takes[0])).run()
    shown = texts(at)
    assert "Phrase **2** of 5" in shown  # a clean take moves on
    assert "**Last take (phrase 1)** ✓" in shown and "✓ Saved. The take sounds fine." in shown
    (clip,) = ds.clips()
    assert len(at.get("audio")) == 1  # the last take's player, on phrase 2's screen
    assert "trimmed" in shown and "untrimmed take is kept" in shown and ds.original_path(clip) is not None
    assert clip.trim["lead_s"] == pytest.approx(1.2, abs=0.15)
    at.button(key="rec_redo_last").click()
    shown = texts(rerun(at))
    assert "Phrase **1** of 5 · ✓ recorded" in shown and "Record phrase 1 again" in shown


def test_labels_phrase_list_keys_and_the_prompt_check_off_on_cpu(ds, takes, monkeypatch):
    monkeypatch.delenv(promptcheck.ENV, raising=False)
    at = past_mic_check(open_app("pages/2_Record.py", dataset="rec"))
    labels = {b.key: b.label for b in at.button}
    assert labels["rec_skip"].startswith("Skip for now") and labels["rec_next"] == "Next phrase (Enter)"
    assert labels["rec_back"] == "Back (←)" and labels["rec_rerecord"] == "Re-record (X)"
    shown = texts(at)
    assert "check that you read the prompt is off" in shown and "needs a GPU" in shown
    assert "Keys:" in shown and "`R` record / stop" in shown and "`P` play the last take" in shown
    script = " ".join(str(e.proto) for e in at.get("html"))
    assert "__voxRecordKeys" in script and "st-key-rec_next" in script
    at.audio_input(key="rec_take_0").upload("take.wav", wav(takes[0])).run()
    options = at.selectbox(key="rec_jump").options
    assert options[0].startswith("✓ 1.") and options[1].startswith("· 2.")
    at.selectbox(key="rec_jump").set_value(0).run()
    assert "Phrase **1** of 5 · ✓ recorded" in texts(at)
    assert {b.key: b.label for b in at.button}["rec_next"] == "Keep & next (Enter)"
    assert at.query_params["phrase"] in ("1", ["1"])


def test_a_reload_resumes_where_you_were(ds, takes):
    at = open_app("pages/2_Record.py", dataset="rec")
    ds.add_take(takes[0], ds.phrases()[0])  # the dataset has a take: no mic check
    fresh = open_app("Home.py", dataset="rec")
    fresh.query_params["phrase"] = "4"
    fresh.switch_page("pages/2_Record.py").run()
    assert "Phrase **4** of 5" in texts(fresh)
    assert at is not fresh


def test_stale_messages_are_cleared(ds, takes):
    at = past_mic_check(open_app("pages/2_Record.py", dataset="rec"))
    at.audio_input(key="rec_take_0").upload("take.wav", b"RIFF\x00\x00\x00\x00WAVEjunk").run()
    assert "Not saved" in texts(at)
    at.button(key="rec_next").click()
    assert "Not saved" not in texts(rerun(at))
    at.button(key="rec_back").click()
    shown = texts(rerun(at))
    assert "Phrase **1** of 5" in shown and "Not saved" not in shown
    at.audio_input(key="rec_take_1").upload("take.wav", b"RIFF\x00\x00\x00\x00WAVEjunk").run()
    assert "Not saved" in texts(at)
    at.switch_page("pages/3_Review.py").run()
    at.switch_page("pages/2_Record.py").run()
    assert "Not saved" not in texts(at) and "Phrase **1** of 5" in texts(at)


def test_the_prompt_check_flags_a_take_of_the_wrong_phrase(ds, takes, monkeypatch):
    heard = {"text": "in being comparatively modern"}  # what the stand-in model hears, whatever the prompt
    promptcheck._CHECKERS["stand-in"] = promptcheck.Checker("stand-in", transcribe=lambda path, lang: heard["text"])
    monkeypatch.setenv(promptcheck.ENV, "stand-in")
    try:
        at = past_mic_check(open_app("pages/2_Record.py", dataset="rec"))
        assert "transcribed by stand-in" in texts(at)
        at.audio_input(key="rec_take_0").upload("take.wav", wav(takes[0])).run()
        assert promptcheck.checker("stand-in").wait(30)
        shown = texts(rerun(at))
        assert "You said “in being comparatively modern” — that is not the phrase" in shown
        assert at.selectbox(key="rec_jump").options[0].startswith("⚠ 1.")
        saved = promptcheck.results(ds.path)
        assert [r["flagged"] for r in saved.values()] == [True]
    finally:
        promptcheck._CHECKERS.pop("stand-in", None)


def test_hands_free_mode_renders_with_its_controls(ds, takes):
    ds.add_take(takes[0], ds.phrases()[0])
    at = open_app("pages/2_Record.py", dataset="rec")
    at.segmented_control(key="rec_mode").set_value("Hands-free").run()
    assert not at.exception
    labels = {b.key: b.label for b in at.button}
    assert labels["rec_hf_toggle"] == "Start (R)" and at.button(key="rec_hf_stop").disabled
    assert "Press **Start** (or R)" in texts(at) and "Phrase **2** of 5" in texts(at)
    at.button(key="rec_hf_toggle").click()
    rerun(at)
    assert at.session_state["rec_hf_on"] is True
    assert {b.key: b.label for b in at.button}["rec_hf_toggle"] == "Pause (R)"
    at.button(key="rec_hf_stop").click()
    rerun(at)
    assert at.session_state["rec_hf_on"] is False
