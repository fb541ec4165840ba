"""Quality flags on real takes: good recordings pass, each kind of bad take gets its own sentence and advice."""

from __future__ import annotations

import numpy as np
from audio_helpers import SPEECH_TEXT, clipped_speech, room_tone, speech

from voxstudio.data import analysis, audio, quality


def _codes(samples: np.ndarray, text: str, language: str = "en") -> list[str]:
    return [f.code for f in quality.check(analysis.analyze(samples, 16000), text, language)]


def test_good_real_recordings_with_their_transcripts_get_no_flags(clips):
    for row in clips:
        stats = analysis.analyze(audio.load_audio(row["path"]), 16000)
        assert quality.check(stats, row["text"], row["language"]) == [], row["audio_path"]


def test_the_clip_named_silence_is_a_spoken_word_not_silence(clips):
    row = next(r for r in clips if r["audio_path"] == "fr/stp_silence.wav")
    assert row["text"] == "silence"
    stats = analysis.analyze(audio.load_audio(row["path"]), 16000)
    assert stats.speech_ratio > 0.3 and stats.peak_dbfs > -3
    assert "mostly_silence" not in _codes(audio.load_audio(row["path"]), "silence", "fr")


def test_very_quiet_takes_say_move_closer(difficult_clips):
    quiet = [r for r in difficult_clips if r["peak_dbfs"] < -30]
    assert quiet
    for row in quiet:
        flags = quality.check(analysis.analyze(audio.load_audio(row["path"])), row["text"], row["language"])
        flag = next(f for f in flags if f.code == "too_quiet")
        assert "very quiet" in flag.message
        assert flag.suggestion == "Move closer to the microphone or raise the input gain, then re-record."


def test_a_43_second_clip_is_kept_but_flagged_too_long(difficult_clips):
    row = next(r for r in difficult_clips if r["duration_s"] > 30)
    flags = quality.check(analysis.analyze(audio.load_audio(row["path"])), row["text"], row["language"])
    assert [f.code for f in flags] == ["too_long"]
    # long clips are trained on whole, as several 30 s windows: the flag must not say the rest is dropped
    assert "30 s windows" in flags[0].message and "as 2 windows" in flags[0].message
    assert "not used" not in flags[0].message and "usable as it is" in flags[0].suggestion
    assert "Splitting it into sentences under 30 s" in flags[0].suggestion


def test_room_tone_only_is_mostly_silence():
    flags = quality.check(analysis.analyze(room_tone(2.5)), SPEECH_TEXT, "en")
    assert flags[0].code == "mostly_silence"
    assert "microphone" in flags[0].suggestion
    assert "speaking_rate" not in [f.code for f in flags]  # no rate judged when there is no speech


def test_overdriven_take_is_flagged_clipped():
    flags = quality.check(analysis.analyze(clipped_speech()), SPEECH_TEXT, "en")
    assert [f.code for f in flags] == ["clipped"]
    assert "distorted" in flags[0].message and "Lower the input gain" in flags[0].suggestion


def test_a_cut_off_take_is_too_short():
    assert _codes(speech()[: int(0.6 * 16000)], "cancel") == ["too_short"]


def test_transcript_that_cannot_match_the_audio_is_flagged(clips):
    long_text = next(r["text"] for r in clips if r["audio_path"] == "pt/fleurs_pt_000.ogg")
    assert _codes(speech(), long_text, "pt") == ["speaking_rate"]  # 200 characters in ~1 s of speech
    fleurs = next(r for r in clips if r["audio_path"] == "de/fleurs_de_000.ogg")
    flags = quality.check(analysis.analyze(audio.load_audio(fleurs["path"])), "ja", "de")  # 10 s of speech, "ja"
    assert [f.code for f in flags] == ["speaking_rate"] and "short for this audio" in flags[0].message


def test_speaking_rate_uses_the_languages_own_range(difficult_clips):
    zh = next(r for r in difficult_clips if r["language"] == "zh")
    stats = analysis.analyze(audio.load_audio(zh["path"]))
    assert quality.rate_bounds("zh") != quality.rate_bounds("en")
    assert "speaking_rate" not in [f.code for f in quality.check(stats, zh["text"], "zh")]
    assert quality.rate_bounds("pt-BR") == quality.SPEAKING_RATE["default"]


def test_flags_serialise_for_metadata_rows():
    flag = quality.check(analysis.analyze(clipped_speech()), SPEECH_TEXT, "en")[0]
    data = flag.to_dict()
    assert set(data) == {"code", "message", "suggestion"}
    assert quality.Flag.from_dict(data) == flag
    # one documented table holds every limit the checks use
    assert {"min_duration_s", "max_duration_s", "min_peak_dbfs", "max_clipped_ratio", "min_speech_ratio"} <= set(
        quality.THRESHOLDS
    )
    assert quality.THRESHOLDS["max_duration_s"] == 30.0  # Voxtral's window: 375 audio tokens of 80 ms
