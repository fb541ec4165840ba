"""The VAD and the utterance cutter on real speech: cuts at the pauses of a known session within ±150 ms, one
take per phrase (pauses inside a sentence do not split it), clicks ignored, the 30 s window respected."""

from __future__ import annotations

import numpy as np
import pytest
import session_audio

from voxstudio.data import audio, vad

TOLERANCE_S = 0.150


@pytest.fixture(scope="module")
def session():
    return session_audio.build()


@pytest.mark.parametrize("kind", ["silero", "energy"])
def test_cuts_at_the_silences_of_a_known_session(session, kind):
    x, truth = session
    cuts = vad.segments(x, vad.detector(kind))
    assert len(cuts) == len(truth), vad.spans(cuts)
    for cut, (start, end) in zip(cuts, truth):
        assert abs(cut.speech_start_s - start) <= TOLERANCE_S, (vad.spans(cuts), truth)
        assert abs(cut.speech_end_s - end) <= TOLERANCE_S, (vad.spans(cuts), truth)
        # the take keeps its margins and never more than the pause around it
        assert cut.start_s == pytest.approx(cut.speech_start_s - vad.MARGIN_S, abs=0.02)
        assert cut.end_s == pytest.approx(cut.speech_end_s + vad.MARGIN_S, abs=0.02)
        assert cut.samples.size == pytest.approx((cut.end_s - cut.start_s) * audio.SAMPLE_RATE, abs=2)
        assert not cut.forced


def test_silero_is_the_default():  # torch-free: tests/test_import_budget.py imports vad in a fresh interpreter
    det = vad.detector()
    assert det.name == "silero" and det.window == 512
    assert 0.0 <= det(np.zeros(det.window, dtype=np.float32)) <= 1.0


def test_streaming_in_any_chunk_size_gives_the_same_cuts(session):
    x, _ = session
    a = vad.spans(vad.segments(x, vad.detector(), chunk=160))
    b = vad.spans(vad.segments(x, vad.detector(), chunk=4801))
    assert a == b


def test_a_click_is_not_an_utterance_and_long_speech_is_cut_at_the_window(session):
    x, truth = session
    rng = np.random.default_rng(3)
    quiet = (rng.standard_normal(3 * audio.SAMPLE_RATE) * 0.001).astype(np.float32)
    quiet[16000:16080] = 0.9  # a 5 ms click: a desk knock, not speech
    assert vad.segments(quiet, vad.detector()) == []
    cutter = vad.UtteranceCutter(vad.detector(), max_s=4.0)
    third = x[int((truth[2][0] - 0.5) * audio.SAMPLE_RATE): int((truth[2][1] + 1.5) * audio.SAMPLE_RATE)]
    cuts = cutter.feed(third) + cutter.flush()
    assert cuts[0].forced and cuts[0].duration_s == pytest.approx(4.0, abs=0.05)
    assert sum(c.duration_s for c in cuts) > truth[2][1] - truth[2][0]


def test_short_cuts_are_widened_to_the_minimum(session):
    x, truth = session
    cutter = vad.UtteranceCutter(vad.detector(), min_cut_s=2.5)
    first = x[: int((truth[0][1] + 2.0) * audio.SAMPLE_RATE)]
    cut = (cutter.feed(first) + cutter.flush())[0]
    assert cut.duration_s == pytest.approx(2.5, abs=0.01)
    assert cut.start_s <= truth[0][0] and cut.end_s >= truth[0][1]


def test_an_armed_cutter_never_starts_a_take_mid_sentence(session):
    x, truth = session
    mid = x[int((truth[0][0] + 0.5) * audio.SAMPLE_RATE):]  # Start pressed while the first phrase is under way
    start = truth[0][0] + 0.5
    cuts = vad.segments(mid, vad.detector(), arm_s=0.3)
    assert len(cuts) == len(truth) - 1
    assert abs(cuts[0].speech_start_s + start - truth[1][0]) <= TOLERANCE_S
    unarmed = vad.segments(mid, vad.detector())
    assert len(unarmed) == len(truth) and unarmed[0].speech_start_s < 0.2  # the cut-off rest of phrase 1
