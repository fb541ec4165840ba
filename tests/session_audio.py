"""A "session" recording for the hands-free tests: three real phrases read with pauses between them, built from
the fixture clips (LJ Speech, public domain; tests/fixtures/speech/NOTICE.md), with where the speech of each is.

The speech spans of the source clips were read off their waveform, level and spectrogram on a 10 ms grid (LJ
Speech clips are trimmed studio recordings: the speech runs from the first to the last few tens of ms; the long
third sentence has pauses of ~0.25 s inside it, which must not split it).
Between phrases: ``GAP_S`` of quiet room tone (pink noise at −62 dBFS RMS, fixed seed) — long enough for the
cutter's end-of-utterance pause plus the hands-free result pause.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf
from conftest import SPEECH

from voxstudio.data import audio

LEAD_S = 1.5
GAP_S = 3.0
# (fixture clip, speech start, speech end) in the clip's own time, seconds
PHRASES = (
    ("en/ljspeech_LJ001-0002.wav", 0.02, 1.78),
    ("en/ljspeech_LJ001-0008.mp3", 0.05, 1.70),
    ("en/ljspeech_LJ001-0005.flac", 0.02, 7.98),  # one long sentence with pauses inside: must stay one take
)
ROOM_DBFS = -62.0


def _room(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(spec.size), 1))
    y = np.fft.irfft(spec, n)
    return (y / np.sqrt(np.mean(y**2)) * 10 ** (ROOM_DBFS / 20)).astype(np.float32)


def build(phrases=PHRASES) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """(16 kHz samples, [(speech start, speech end)] in the session's time)."""
    sr = audio.SAMPLE_RATE
    parts, spans, t = [np.zeros(int(LEAD_S * sr), dtype=np.float32)], [], LEAD_S
    for name, start, end in phrases:
        clip = audio.load_audio(SPEECH / "clips" / name)
        spans.append((round(t + start, 3), round(t + end, 3)))
        parts += [clip, np.zeros(int(GAP_S * sr), dtype=np.float32)]
        t += clip.size / sr + GAP_S
    x = np.concatenate(parts)
    return np.clip(x + _room(x.size), -1, 1).astype(np.float32), spans


def write(path, rate: int = audio.SAMPLE_RATE) -> list[tuple[float, float]]:
    """Write the session as PCM16 WAV at ``rate`` (Chromium's fake microphone reads 48 kHz best); its spans."""
    x, spans = build()
    if rate != audio.SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, audio.SAMPLE_RATE, rate, quality="HQ").astype(np.float32)
    sf.write(path, x, rate, subtype="PCM_16")
    return spans
