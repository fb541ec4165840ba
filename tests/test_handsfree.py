"""The hands-free session without a browser: WebRTC-like 48 kHz frames of a real session go in, one take per
phrase comes out through ``Dataset.add_take`` (trimmed, original kept), the page advances by itself, Pause stops
saving, Redo goes back, and the WebRTC frame conversion handles packed and planar frames."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import session_audio
import soundfile as sf
import soxr

from voxstudio.data import audio
from voxstudio.data.dataset import Dataset
from voxstudio.studio import handsfree

FRAME = 960  # 20 ms at 48 kHz, what Chromium sends


@pytest.fixture
def ds(home):
    ds = Dataset.create("hands-free", languages=["en"], speaker="Tester")
    ds.set_phrases([f"Phrase number {n} for the hands-free test." for n in range(1, 7)])
    return ds


@pytest.fixture(scope="module")
def mic():
    """The session at 48 kHz stereo int16, as WebRTC delivers it; and the speech spans (16 kHz time)."""
    x, spans = session_audio.build()
    y = soxr.resample(x, audio.SAMPLE_RATE, 48000, quality="HQ")
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)
    return np.stack([pcm, pcm], axis=1), spans


def feed(session, pcm, start_s=0.0, end_s=None):
    a = int(start_s * 48000)
    b = pcm.shape[0] if end_s is None else int(end_s * 48000)
    for at in range(a, b, FRAME):
        session.feed(pcm[at: at + FRAME], 48000)


def test_one_take_per_phrase_with_plausible_durations_and_rows(ds, mic):
    pcm, spans = mic
    session = handsfree.HandsFree(ds, ds.phrases(), 0, speaker="Tester", synchronous=True)
    feed(session, pcm)  # not started: nothing is saved
    assert ds.clips() == [] and session.snapshot()["state"] == "ready"
    session.start()
    feed(session, pcm)
    snap = session.snapshot()
    assert snap["index"] == 3 and snap["state"] == "listening"
    clips = sorted(ds.clips(), key=lambda c: c.created_at)
    phrases = ds.phrases()
    assert [c.phrase_id for c in clips] == [p["phrase_id"] for p in phrases[:3]]
    assert [c.text for c in clips] == [p["text"] for p in phrases[:3]]
    for clip, (start, end) in zip(clips, spans):
        speech = end - start
        assert speech + 0.3 < clip.duration_s < speech + 2 * 0.3 + 0.3, (clip.duration_s, speech)
        assert clip.source == "record" and clip.speaker == "Tester" and clip.flags == []
        info = sf.info(ds.audio_path(clip))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    rows = [json.loads(line) for line in (ds.path / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["duration_s"] > 1.0 for r in rows)
    assert [t["index"] for t in snap["takes"]] == [0, 1, 2] and snap["last"]["clip_id"] == clips[-1].clip_id


def test_pause_stops_saving_and_resume_goes_on(ds, mic):
    pcm, spans = mic
    session = handsfree.HandsFree(ds, ds.phrases(), 0, synchronous=True)
    session.start()
    feed(session, pcm, 0, spans[0][1] + 1.5)  # the first phrase and its pause
    assert len(ds.clips()) == 1 and session.snapshot()["index"] == 1
    session.pause()
    feed(session, pcm, spans[0][1] + 1.5, spans[1][1] + 1.5)  # the second phrase is spoken while paused
    assert len(ds.clips()) == 1 and session.snapshot()["state"] == "paused"
    session.resume()
    feed(session, pcm, spans[1][1] + 1.5)
    assert len(ds.clips()) == 2 and session.snapshot()["index"] == 2


def test_redo_goes_back_and_the_next_utterance_replaces_the_take(ds, mic):
    pcm, spans = mic
    session = handsfree.HandsFree(ds, ds.phrases(), 0, synchronous=True)
    session.start()
    feed(session, pcm, 0, spans[0][1] + 1.5)
    first = ds.clips()[0]
    session.redo()
    assert session.snapshot()["index"] == 0
    feed(session, pcm, spans[0][1] + 1.5, spans[1][1] + 1.5)
    (clip,) = ds.clips()
    assert clip.phrase_id == first.phrase_id and clip.clip_id != first.clip_id
    assert session.snapshot()["last"]["replaced"] is True and [c.clip_id for c in ds.trashed()] == [first.clip_id]


def test_the_worker_thread_saves_off_the_audio_thread(ds, mic):
    pcm, spans = mic
    session = handsfree.HandsFree(ds, ds.phrases(), 0)
    session.start()
    feed(session, pcm, 0, spans[0][1] + 0.9)  # the cut happens 0.7 s after the speech
    assert session.wait()
    assert len(ds.clips()) == 1 and session.snapshot()["index"] == 1


def test_trim_keeps_the_original(ds, mic):
    x, spans = session_audio.build()
    take = x[: int((spans[0][1] + 1.0) * audio.SAMPLE_RATE)]  # 1.5 s of room tone before the phrase
    clip, _ = ds.add_take(take, ds.phrases()[0], trim_margin_s=0.3)
    assert clip.trim["lead_s"] == pytest.approx(spans[0][0] - 0.3, abs=0.1)
    assert clip.trim["original_duration_s"] == pytest.approx(take.size / audio.SAMPLE_RATE, abs=0.01)
    original = ds.original_path(clip)
    assert original is not None and sf.info(original).duration == pytest.approx(take.size / 16000, abs=0.01)
    assert clip.duration_s == pytest.approx(clip.trim["original_duration_s"] - clip.trim["lead_s"]
                                            - clip.trim["trail_s"], abs=0.01)
    row = json.loads((ds.path / "metadata.jsonl").read_text().splitlines()[-1])
    assert row["trim"]["original"] == f"originals/{clip.clip_id}.wav"
    # a take with nothing to trim keeps no original and no trim record
    tight = take[int((spans[0][0] - 0.3) * 16000): int((spans[0][1] + 0.3) * 16000)]
    clip2, _ = ds.add_take(tight, ds.phrases()[1], trim_margin_s=0.3)
    assert ds.original_path(clip2) is None and "trim" not in json.loads(
        (ds.path / "metadata.jsonl").read_text().splitlines()[-1])


@pytest.mark.parametrize("layout,fmt", [("stereo", "s16"), ("mono", "s16"), ("stereo", "fltp")])
def test_webrtc_frames_of_any_layout(ds, layout, fmt):
    session = handsfree.HandsFree(ds, ds.phrases(), 0, synchronous=True)
    channels = 2 if layout == "stereo" else 1
    tone = np.sin(np.arange(FRAME) * 2 * np.pi * 440 / 48000) * 0.5
    if fmt == "s16":
        data = np.tile((tone * 32767).astype(np.int16)[:, None], (1, channels)).reshape(1, -1)
    else:
        data = np.tile(tone.astype(np.float32), (channels, 1))
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
    frame.sample_rate = 48000
    for _ in range(10):
        session.on_frame(frame)
    assert -7.0 < session.snapshot()["level_dbfs"] < -5.0  # a 0.5 sine peaks at −6 dBFS


def test_ice_servers_default_to_none_and_read_the_environment(monkeypatch):
    monkeypatch.delenv(handsfree.ICE_ENV, raising=False)
    assert handsfree.ice_servers() == []
    monkeypatch.setenv(handsfree.ICE_ENV, '[{"urls": "turn:turn.example.org:3478"}]')
    assert handsfree.ice_servers() == [{"urls": "turn:turn.example.org:3478"}]
    monkeypatch.setenv(handsfree.ICE_ENV, "not json")
    with pytest.raises(ValueError, match="VOXSTUDIO_ICE_SERVERS"):
        handsfree.ice_servers()
