"""Clean takes only, by default: a run leaves unusable takes (mostly silence, too short, clipped) out of training
and evaluation unless the user marks them fine on the Review page, and every screen says so.

The bad take is real audio: the first 0.8 s of a very quiet FLEURS recording (tests/fixtures/speech/difficult,
CC BY 4.0), the room before the speaker starts — what a take is when the microphone was muted or far away.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
from apptest_support import checked, open_app, texts
from audio_helpers import SPEECH_TEXT, clipped_speech, room_tone, speech
from conftest import ROOT, speech_manifest
from jobs_helpers import make_dataset
from streamlit.testing.v1 import AppTest

from voxstudio.data import analysis, audio, quality
from voxstudio.runs import preflight
from voxstudio.studio import review
from voxstudio.training import selection
from voxstudio.training.config import new_config

QUIET_SOURCE = "fr/fleurs_fr_000.ogg"  # difficult/: peak about -39 dBFS, silence for its first second
BAD_TEXT = "turn on the kitchen lights"


def near_silent_take() -> np.ndarray:
    """0.8 s of real, near-silent recording (not digital silence: the room and the recording chain are there)."""
    row = next(r for r in speech_manifest("difficult") if r["audio_path"] == QUIET_SOURCE)
    return audio.load_audio(row["path"])[: int(0.8 * audio.SAMPLE_RATE)]


def wav_bytes(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, audio.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def ids(clips) -> set[str]:
    return {c.clip_id for c in clips}


def row_of(ds, clip_id: str) -> dict:
    rows = [json.loads(line) for line in (ds.path / "metadata.jsonl").read_text().splitlines() if line.strip()]
    return next(r for r in rows if clip_id in r["file_name"])


@pytest.fixture
def voice(home):
    """Six real English commands plus one near-silent short take: (dataset, the bad clip)."""
    ds = make_dataset("voice", 6)
    bad = ds.add_clip(near_silent_take(), BAD_TEXT, language="en", source="record")
    return ds, bad


def run_config(**kw):
    return new_config(run_name="r", dataset="voice", base_model="tiny", **kw)


# ------------------------------------------------------------------------------------ the rule

def test_the_unusable_codes_are_one_table_of_codes_the_checks_really_produce():
    assert set(quality.UNUSABLE) == {"mostly_silence", "too_short", "clipped"}
    assert all(reason.startswith(quality.label(code) + ":") for code, reason in quality.UNUSABLE.items())
    produced = {
        "mostly_silence": quality.check(analysis.analyze(room_tone(2.5)), SPEECH_TEXT, "en"),
        "clipped": quality.check(analysis.analyze(clipped_speech()), SPEECH_TEXT, "en"),
        "too_short": quality.check(analysis.analyze(speech()[: int(0.6 * 16000)]), "cancel", "en"),
    }
    for code, flags in produced.items():
        assert quality.unusable([f.to_dict() for f in flags]) == code  # dicts as stored in metadata rows
        assert quality.unusable(flags, reviewed=quality.KEEP) is None  # marked fine: used
    # advice only: a long clip trains as several windows, a rate flag is usually a transcript typo, quiet is audible
    assert quality.unusable(["too_long", "speaking_rate", "too_quiet"]) is None
    assert quality.unusable([]) is None


# ------------------------------------------------------------------------------------ selection

def test_a_near_silent_short_take_is_left_out_of_training_and_evaluation(voice):
    ds, bad = voice
    assert {"mostly_silence", "too_short"} <= set(bad.flag_codes) and bad.reviewed == ""
    good = ids(ds.clips()) - {bad.clip_id}
    for sel in (selection.select_run(run_config(eval_fraction=0.3)), selection.default_selection(ds.clips())):
        assert bad.clip_id not in ids(sel.train) | ids(sel.held) | ids(sel.spare)
        assert ids(sel.train) | ids(sel.held) | ids(sel.spare) == good  # every clean take is still used
        assert [(c.clip_id, code) for c, code in sel.left_out] == [(bad.clip_id, "mostly_silence")]
        assert sel.sides()[bad.clip_id] == selection.LEFT_OUT
    train, held, _ = selection.select_clips(run_config(eval_fraction=0.3))  # what the trainer reads
    assert bad.clip_id not in {r.clip_id for r in train + held}
    assert selection.left_out_summary(sel.left_out) == "1 left out (1 mostly silence)"


def test_marking_it_fine_puts_it_back_through_text_edits_and_undo_leaves_it_out(voice):
    ds, bad = voice
    marked = ds.mark_fine(bad.clip_id)
    assert marked.reviewed == quality.KEEP and row_of(ds, bad.clip_id)["reviewed"] == "keep"
    sel = selection.select_run(run_config(eval_fraction=0.3))
    assert bad.clip_id in ids(sel.train) | ids(sel.held) and sel.left_out == []

    edited = ds.update_clip(bad.clip_id, text="turn the kitchen lights on")  # flags recomputed, mark kept
    assert edited.reviewed == quality.KEEP and "mostly_silence" in edited.flag_codes
    assert bad.clip_id in ids(selection.default_selection(ds.clips()).train)

    ds.mark_fine(bad.clip_id, fine=False)
    assert "reviewed" not in row_of(ds, bad.clip_id)
    assert [c.clip_id for c, _ in selection.default_selection(ds.clips()).left_out] == [bad.clip_id]


def test_a_re_recorded_take_is_judged_afresh(home):
    ds = make_dataset("voice", 3)
    phrase = {"phrase_id": "p0", "text": BAD_TEXT, "language": "en"}
    first, _ = ds.add_take(near_silent_take(), phrase)
    ds.mark_fine(first.clip_id)
    again, replaced = ds.add_take(near_silent_take()[: int(0.7 * audio.SAMPLE_RATE)], phrase)
    assert replaced == [first.clip_id] and again.reviewed == ""  # the mark was for the take listened to
    assert again.clip_id in {c.clip_id for c, _ in selection.default_selection(ds.clips()).left_out}


def test_a_quiet_but_audible_clip_is_still_used(home):
    ds = make_dataset("voice", 3)
    row = next(r for r in speech_manifest("difficult") if r["audio_path"] == "en/fleurs_en_004.ogg")
    quiet = ds.add_clip(row["path"], row["text"], language="en", source="import")
    assert quiet.flag_codes == ["too_quiet"]
    sel = selection.default_selection(ds.clips())
    assert quiet.clip_id in ids(sel.train) | ids(sel.held) and sel.left_out == []


def test_the_shortage_refusal_counts_usable_clips_and_says_what_was_left_out(home):
    ds = make_dataset("voice", 1)
    bad = ds.add_clip(near_silent_take(), BAD_TEXT, language="en", source="record")
    cfg = run_config()
    problem = selection.shortage(ds.clips(), cfg.languages, "voice")
    assert problem.startswith("Dataset 'voice' has 1 usable clip(s), 1 left out (1 mostly silence)")
    assert "mark them fine on the Review page" in problem and "at least 2 usable clips" in problem
    assert preflight.dataset_problems(cfg) == [problem]  # the queue refuses before anything is written
    with pytest.raises(ValueError, match="1 usable clip"):
        selection.select_run(cfg)
    ds.mark_fine(bad.clip_id)
    assert selection.shortage(ds.clips(), cfg.languages, "voice") is None


# ------------------------------------------------------------------------------------ pages

def test_the_train_page_says_how_many_clips_are_left_out_and_why(voice):
    at = open_app("pages/4_Train.py", dataset="voice", timeout=120)
    shown = texts(at)
    assert "1 of 7 clips are left out" in shown and "6 are used" in shown
    assert f"1 × {quality.UNUSABLE['mostly_silence']}" in shown
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    review_link = links["See the 1 left-out clips on 3 · Review →"]
    assert "show=left-out" in review_link.query_string and "dataset=voice" in review_link.query_string


def test_the_review_page_opens_on_left_out_clips_and_marks_one_fine(voice):
    ds, bad = voice
    at = AppTest.from_file(str(ROOT / "pages/3_Review.py"), default_timeout=60)
    at.query_params["dataset"] = "voice"
    at.query_params[review.SHOW_PARAM] = review.SHOW_LEFT_OUT  # where the Train page's link goes
    checked(at.run())
    table = at.data_editor[0].value
    assert list(table["clip_id"]) == [bad.clip_id]
    assert list(table["training"]) == ["left out: mostly silence"] and list(table["split"]) == ["left out"]
    assert "Left out of training and evaluation" in texts(at)

    at.button(key=f"rev_keep_{bad.clip_id}").click()
    checked(at.run())
    assert ds.get(bad.clip_id).reviewed == quality.KEEP and row_of(ds, bad.clip_id)["reviewed"] == "keep"
    assert "Marked fine: training uses this clip" in texts(at)
    at.toggle(key="rev_left_out").set_value(False)
    checked(at.run())
    table = at.data_editor[0].value  # still "Flagged only": the kept clip shows as kept, on a split side
    assert list(table["training"]) == ["kept: marked fine"] and table["split"].iloc[0] in ("train", "eval")


def test_the_record_page_says_an_unusable_take_is_not_used_for_training(home):
    ds = make_dataset("voice", 2)
    ds.set_phrases([{"phrase_id": "p0", "text": BAD_TEXT, "language": "en"},
                    {"phrase_id": "p1", "text": SPEECH_TEXT, "language": "en"}])
    at = open_app("pages/2_Record.py", dataset="voice")
    at.audio_input(key="rec_take_0").upload("take.wav", wav_bytes(near_silent_take())).run()
    shown = texts(checked(at))
    assert "This take is not used for training" in shown and "mark it fine on the Review page" in shown
    assert quality.UNUSABLE["mostly_silence"] in shown

    at.button(key="rec_next").click().run()  # phrase 2: a quiet but audible take is flagged, yet used
    at.audio_input(key="rec_take_1").upload("take.wav", wav_bytes(speech() * 0.01)).run()
    shown = texts(checked(at))
    assert "very quiet" in shown and "not used for training" not in shown
