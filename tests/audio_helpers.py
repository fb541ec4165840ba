"""Real-audio material for the audio/quality/dataset tests, all cut from the fixture recordings.

No synthetic tones: silence is the real room tone at the end of a real take, loud/clipped and stereo/8 kHz/48 kHz
variants are made from real speech.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SPEECH = Path(__file__).resolve().parent / "fixtures" / "speech"
SPEECH_WAV = SPEECH / "clips" / "en" / "stp_cancel_timer.wav"  # 16 kHz mono, 2.42 s, "cancel timer"
SPEECH_TEXT = "cancel timer"
ROOM_TONE_WAV = SPEECH / "clips" / "fr" / "stp_silence.wav"  # the word "silence", then ~0.6 s of room tone
ROOM_TONE_FROM_S = 1.2


def read(path: Path) -> tuple[np.ndarray, int]:
    samples, sr = sf.read(str(path), dtype="float32")
    return samples, sr


SPEECH_TONE_FROM_S = 1.3  # after "cancel timer" the same room keeps humming for ~1.1 s


def room_tone(seconds: float, path: Path = ROOM_TONE_WAV, from_s: float = ROOM_TONE_FROM_S) -> np.ndarray:
    """Real background noise of a real recording room, extended by mirrored tiling (no clicks)."""
    x, sr = read(path)
    tail = x[int(from_s * sr):]
    out = tail
    while out.size < seconds * sr:
        out = np.concatenate([out, out[::-1]])
    return out[: int(seconds * sr)].astype(np.float32)


def speech_room_tone(seconds: float) -> np.ndarray:
    """The room of :func:`speech` without the voice (to pad that clip with its own silence)."""
    return room_tone(seconds, SPEECH_WAV, SPEECH_TONE_FROM_S)


def speech() -> np.ndarray:
    x, sr = read(SPEECH_WAV)
    assert sr == 16000
    return x


def clipped_speech(gain: float = 8.0) -> np.ndarray:
    """The speech clip driven into full scale, as an over-hot microphone gain does."""
    return np.clip(speech() * gain, -1.0, 1.0).astype(np.float32)


def write_variant(path: Path, samples: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), samples, sr, subtype=subtype)
    return path


def resampled(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    return soxr.resample(samples, sr_in, sr_out).astype(np.float32)
