"""voxstudio.data.audio over real recordings: every format a user brings ends up as 16 kHz mono float32."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import (
    SPEECH_WAV,
    clipped_speech,
    read,
    resampled,
    room_tone,
    speech,
    speech_room_tone,
    write_variant,
)

from voxstudio.data import analysis, audio

FFMPEG = shutil.which("ffmpeg")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_every_fixture_format_decodes_to_16k_mono_with_its_real_length(clips, difficult_clips, monkeypatch):
    monkeypatch.setenv("PATH", "")  # WAV, FLAC, MP3 and Ogg/Opus decode in-process, without ffmpeg
    formats = set()
    for row in clips + difficult_clips:
        samples = audio.load_audio(row["path"])
        formats.add((row["path"].suffix, row["sample_rate"]))
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert abs(samples.size / audio.SAMPLE_RATE - row["duration_s"]) < 0.1, row["audio_path"]
        peak = 20 * np.log10(np.abs(samples).max())
        assert abs(peak - row["peak_dbfs"]) < 1.0, row["audio_path"]  # same audio, not just same length
    # the fixtures really cover what the studio promises to read
    assert {(".wav", 16000), (".wav", 22050), (".flac", 22050), (".mp3", 22050), (".ogg", 16000)} <= formats


def test_22k_resampling_matches_an_independent_ffmpeg_resample(clips, tmp_path):
    if FFMPEG is None:
        pytest.fail("ffmpeg is required by the test environment (.ci/run installs it)")
    src = next(r["path"] for r in clips if r["path"].name == "ljspeech_LJ001-0005.flac")
    ours = audio.load_audio(src)
    ref_path = tmp_path / "ref.wav"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(src), "-ar", "16000", "-ac", "1", str(ref_path)], check=True)
    ref, sr = read(ref_path)
    assert sr == 16000 and abs(ours.size - ref.size) <= 16
    assert _corr(ours, ref) > 0.99


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_other_rates_and_stereo_made_from_real_speech_come_back_as_16k_mono(tmp_path, rate):
    voice = speech()
    at_rate = resampled(voice, 16000, rate)
    stereo = np.stack([at_rate, at_rate * 0.5], axis=1)  # a second, quieter microphone channel
    path = write_variant(tmp_path / f"stereo_{rate}.wav", stereo, rate)
    out = audio.load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(out.size - voice.size) <= 2
    if rate == 8000:  # 8 kHz keeps only telephone band: compare against the band-limited original
        voice = resampled(resampled(voice, 16000, 8000), 8000, 16000)
    assert _corr(out, voice) > 0.98
    assert np.abs(out).max() == pytest.approx(np.abs(voice).max() * 0.75, rel=0.05)  # mean of both channels


def test_bytes_and_paths_decode_identically(clips):
    row = next(r for r in clips if r["path"].suffix == ".ogg")
    from_path = audio.load_audio(row["path"])
    from_bytes = audio.load_audio(row["path"].read_bytes(), name=row["path"].name)
    np.testing.assert_array_equal(from_path, from_bytes)


def test_float_and_int16_samples_are_accepted_with_their_rate():
    voice = speech()
    out = audio.load_audio(resampled(voice, 16000, 48000), sr=48000)
    assert abs(out.size - voice.size) <= 2
    np.testing.assert_array_equal(audio.load_audio(audio.to_pcm16(voice)), voice)
    np.testing.assert_array_equal(audio.load_audio(np.stack([voice, voice])), voice)  # (channels, frames)


def test_ogg_vorbis_decodes_in_process(tmp_path, monkeypatch):
    if FFMPEG is None:
        pytest.fail("ffmpeg is required by the test environment (.ci/run installs it)")
    path = tmp_path / "take.ogg"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(SPEECH_WAV), "-c:a", "libvorbis", str(path)], check=True)
    monkeypatch.setenv("PATH", "")
    assert sf.info(str(path)).subtype == "VORBIS"
    out = audio.load_audio(path)
    assert abs(out.size / 16000 - 2.42) < 0.05 and _corr(out, speech()) > 0.95


@pytest.mark.parametrize("container,args", [("webm", ["-c:a", "libopus"]), ("m4a", ["-c:a", "aac"])])
def test_browser_and_phone_containers_go_through_ffmpeg(tmp_path, container, args):
    if FFMPEG is None:
        pytest.fail("ffmpeg is required by the test environment (.ci/run installs it)")
    path = tmp_path / f"take.{container}"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(SPEECH_WAV), *args, str(path)], check=True)
    out = audio.load_audio(path.read_bytes(), name=path.name)  # as an upload: bytes + the user's file name
    assert abs(out.size / 16000 - 2.42) < 0.1
    assert _corr(out, speech()) > 0.9


def test_without_ffmpeg_a_webm_upload_says_what_to_install(tmp_path, monkeypatch):
    if FFMPEG is None:
        pytest.fail("ffmpeg is required by the test environment (.ci/run installs it)")
    path = tmp_path / "take.webm"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(SPEECH_WAV), "-c:a", "libopus", str(path)], check=True)
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where ffmpeg is not installed
    with pytest.raises(audio.AudioError, match=r"ffmpeg is not installed.*apt install ffmpeg"):
        audio.load_audio(path)


@pytest.mark.parametrize("make,message", [
    (lambda d: b"", r"empty \(0 bytes\)"),
    (lambda d: d[: len(d) // 2], r"truncated: the file ends after 1\.2 s of the 2\.4 s"),
    (lambda d: d[:40], r"truncated|no audio"),
    (lambda d: b"cancel timer\nthis is the transcript, not audio\n", r"not audio: it contains text"),
    (lambda d: bytes(range(256)) * 64, r"could not be decoded: it is damaged or not an audio file"),
])
def test_bad_files_are_refused_with_a_sentence(make, message):
    data = make(SPEECH_WAV.read_bytes())
    with pytest.raises(audio.AudioError, match=message):
        audio.load_audio(data, name="take.wav")


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".ogg"])
def test_truncated_compressed_files_are_refused(clips, suffix):
    src = next(r["path"] for r in clips if r["path"].suffix == suffix)
    data = src.read_bytes()
    with pytest.raises(audio.AudioError, match="truncated|damaged"):
        audio.load_audio(data[: len(data) * 2 // 3], name=src.name)


def test_missing_file_and_too_long_audio_are_refused(tmp_path):
    with pytest.raises(audio.AudioError, match="not found"):
        audio.load_audio(tmp_path / "nope.wav")
    # 5 min 3 s of real speech and room tone: refused before anything else happens
    long = np.tile(np.concatenate([speech(), room_tone(1.0)]), 90)
    path = write_variant(tmp_path / "lecture.flac", long, 16000)
    assert sf.info(str(path)).duration > audio.MAX_IMPORT_S
    with pytest.raises(audio.AudioError, match=r"longer than 5 minutes.*30 seconds"):
        audio.load_audio(path)


def test_write_wav_is_16bit_pcm_mono_and_atomic(tmp_path):
    voice = speech()
    target = tmp_path / "clip.wav"
    target.write_bytes(b"previous content")
    audio.write_wav(target, voice)
    info = sf.info(str(target))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    back, _ = read(target)
    np.testing.assert_array_equal(back, voice)  # PCM16 → float → PCM16 is bit-exact
    with pytest.raises(audio.AudioError):  # refused input leaves the previous file and no temp files behind
        audio.write_wav(target, np.stack([voice, voice], axis=1))
    assert sf.info(str(target)).frames == voice.size
    assert sorted(os.listdir(tmp_path)) == ["clip.wav"]


def test_analyze_reports_levels_and_silence_of_real_clips(clips):
    for row in clips:
        stats = analysis.analyze(audio.load_audio(row["path"]), 16000)
        assert abs(stats.peak_dbfs - row["peak_dbfs"]) < 1.0
        assert abs(stats.rms_dbfs - row["rms_dbfs"]) < 1.0
        assert stats.clipped_ratio == 0.0
        assert stats.speech_ratio > 0.2, row["audio_path"]  # fr/stp_silence.wav is the spoken word "silence"
    tone = analysis.analyze(room_tone(2.0), 16000)
    assert tone.speech_ratio < 0.1
    assert analysis.analyze(clipped_speech(), 16000).clipped_ratio > 0.01


def test_leading_silence_is_measured_and_trimmed_with_a_margin():
    voice = speech()
    padded = np.concatenate([speech_room_tone(1.5), voice, speech_room_tone(1.5)])
    before, after = analysis.analyze(voice), analysis.analyze(padded)
    assert after.lead_silence_s == pytest.approx(1.5 + before.lead_silence_s, abs=0.1)
    assert after.trail_silence_s == pytest.approx(1.5 + before.trail_silence_s, abs=0.1)
    trimmed = analysis.trim_silence(padded, 16000, margin_s=0.3)
    assert trimmed.size / 16000 == pytest.approx(before.speech_s + 0.6, abs=0.1)
    # all of the speech survives the trim: the voiced span of the original is inside the trimmed clip
    span = voice[int(before.lead_silence_s * 16000): int((before.duration_s - before.trail_silence_s) * 16000)]
    hits = np.flatnonzero(trimmed[: trimmed.size - span.size + 1] == span[0])
    assert any(np.array_equal(trimmed[i: i + span.size], span) for i in hits)
    tone = room_tone(1.0)
    np.testing.assert_array_equal(analysis.trim_silence(tone, 16000), tone)  # no speech: nothing cut


def test_digital_silence_is_recognised():
    assert analysis.is_digital_silence(np.zeros(16000, np.float32))
    assert not analysis.is_digital_silence(room_tone(1.0))
