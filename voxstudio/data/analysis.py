"""Measuring a clip: levels, clipping and where the speech is (energy VAD). Pure: numpy in, numbers out, so the
quality checks, the dataset and the UI share one definition of "too quiet" or "silence at the start".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from voxstudio.data.audio import SAMPLE_RATE

# Energy voice-activity detection (see analyze): 30 ms frames, 10 ms hop.
VAD_FRAME_S = 0.030
VAD_HOP_S = 0.010
VAD_ABS_FLOOR_DBFS = -70.0  # nothing below this is speech, however quiet the recording
VAD_BELOW_LOUDEST_DB = 40.0  # a frame far below the loudest one is not speech
VAD_ABOVE_NOISE_DB = 12.0  # ... nor is one close to the noise floor
VAD_MIN_RUN = 5  # frames (hops): shorter bursts are not speech
DIGITAL_SILENCE_DBFS = -90.0  # peak below this: the microphone delivered nothing at all
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped (full scale)
MIN_DB = -120.0  # dBFS reported for exact zeros


@dataclass(frozen=True)
class AudioStats:
    """Numbers about one clip, used by ``quality.check`` and shown on the Review page."""

    duration_s: float
    peak_dbfs: float
    rms_dbfs: float
    clipped_ratio: float
    lead_silence_s: float
    trail_silence_s: float
    speech_ratio: float

    @property
    def speech_s(self) -> float:
        """Length of the span between the first and the last speech frame."""
        return max(0.0, self.duration_s - self.lead_silence_s - self.trail_silence_s)

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def _db(power_or_amp: float | np.ndarray, power: bool = False):
    v = np.maximum(np.asarray(power_or_amp, dtype=np.float64), 1e-12 if power else 1e-6)
    return (10.0 if power else 20.0) * np.log10(v)


def frame_levels(samples: np.ndarray, sr: int) -> np.ndarray:
    """RMS level (dBFS) of overlapping 30 ms frames, 10 ms apart."""
    x = np.asarray(samples, dtype=np.float32)
    frame, hop = max(1, int(sr * VAD_FRAME_S)), max(1, int(sr * VAD_HOP_S))
    if x.size < frame:
        x = np.pad(x, (0, frame - x.size))
    # Power per hop-sized block, then sum of consecutive blocks = power per frame (fast, no strided copies).
    n_blocks = x.size // hop
    blocks = (x[: n_blocks * hop].astype(np.float64) ** 2).reshape(n_blocks, hop).sum(axis=1)
    per = frame // hop or 1
    csum = np.concatenate([[0.0], np.cumsum(blocks)])
    power = (csum[per:] - csum[:-per]) / (per * hop)
    return _db(power, power=True)


def speech_frames(samples: np.ndarray, sr: int) -> np.ndarray:
    """Boolean mask over :func:`frame_levels`: energy VAD relative to the loudest frame and the noise floor."""
    levels = frame_levels(samples, sr)
    if levels.size == 0:
        return np.zeros(0, dtype=bool)
    loudest = float(levels.max())
    noise = float(np.percentile(levels, 10))
    threshold = max(VAD_ABS_FLOOR_DBFS, loudest - VAD_BELOW_LOUDEST_DB, noise + VAD_ABOVE_NOISE_DB)
    mask = levels > threshold
    # Drop bursts shorter than a syllable (clicks, a bump of the desk): speech runs last ≥ ~80 ms.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start < VAD_MIN_RUN:
            mask[start:end] = False
    return mask


def analyze(samples: np.ndarray, sr: int = SAMPLE_RATE) -> AudioStats:
    """Duration, levels, clipping and where the speech is, for one mono clip (pure)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    n = int(x.size)
    duration = n / sr if sr else 0.0
    if n == 0:
        return AudioStats(0.0, MIN_DB, MIN_DB, 0.0, 0.0, 0.0, 0.0)
    absx = np.abs(x)
    peak = float(absx.max())
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    clipped = float(np.count_nonzero(absx >= CLIP_LEVEL)) / n
    if peak <= 0.0:
        return AudioStats(duration, MIN_DB, MIN_DB, 0.0, duration, duration, 0.0)
    mask = speech_frames(x, sr)
    hop = VAD_HOP_S
    if not mask.any():
        lead = trail = duration
        ratio = 0.0
    else:
        idx = np.flatnonzero(mask)
        lead = min(duration, idx[0] * hop)
        trail = max(0.0, duration - min(duration, idx[-1] * hop + VAD_FRAME_S))
        ratio = float(mask.mean())
    return AudioStats(
        duration_s=round(duration, 4),
        peak_dbfs=round(float(_db(peak)), 2),
        rms_dbfs=round(float(_db(rms)), 2),
        clipped_ratio=round(clipped, 6),
        lead_silence_s=round(float(lead), 3),
        trail_silence_s=round(float(trail), 3),
        speech_ratio=round(ratio, 4),
    )


def is_digital_silence(samples: np.ndarray) -> bool:
    """True when the peak is below −90 dBFS: a muted or disconnected microphone, not a quiet room."""
    x = np.asarray(samples)
    return x.size == 0 or float(np.abs(x).max()) < 10 ** (DIGITAL_SILENCE_DBFS / 20)


def trim_bounds(samples: np.ndarray, sr: int = SAMPLE_RATE, margin_s: float = 0.3) -> tuple[int, int]:
    """(start, end) sample indices of the speech plus ``margin_s`` each side; the whole clip if no speech is found."""
    x = np.asarray(samples)
    stats = analyze(x, sr)
    if stats.speech_ratio == 0.0:
        return 0, int(x.shape[0])
    start = max(0, int((stats.lead_silence_s - margin_s) * sr))
    end = min(x.shape[0], int(round((stats.duration_s - stats.trail_silence_s + margin_s) * sr)))
    return start, max(end, start)


def trim_silence(samples: np.ndarray, sr: int = SAMPLE_RATE, margin_s: float = 0.3) -> np.ndarray:
    """Cut leading/trailing silence, keeping ``margin_s`` around the speech; unchanged if no speech is found."""
    start, end = trim_bounds(samples, sr, margin_s)
    return np.asarray(samples)[start:end]
