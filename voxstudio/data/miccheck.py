"""The mic check before the first phrase: one short recording, a few seconds of room tone and then one sentence,
judged like a take would be, with advice in a sentence each ("too quiet", "clipping", "noisy room", "no voice").

Pure: numpy in, a :class:`MicReport` out. Speech is found with the VAD of ``voxstudio.data.vad`` (Silero tells a
voice from a fan far better than energy does); levels and clipping with ``analysis``; "too quiet" and "clipped"
use the thresholds of ``quality`` so the check and the takes agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voxstudio.data import analysis, quality, vad
from voxstudio.data.audio import SAMPLE_RATE

ROOM_S = 2.0  # the quiet part asked for before the sentence
NOISY_ROOM_DBFS = -48.0  # room tone louder than this (RMS) is a fan, traffic or a hum the model would learn
MIN_SNR_DB = 20.0  # speech should stand this far above the room tone
CHECK_SENTENCE = "The quick brown fox jumps over the lazy dog, then rests in the warm afternoon sun."


@dataclass(frozen=True)
class MicReport:
    """What the check measured, and one piece of advice per problem (``[]`` when the set-up is fine)."""

    noise_dbfs: float
    speech_peak_dbfs: float
    speech_rms_dbfs: float
    snr_db: float
    clipped_ratio: float
    speech_s: float
    advice: list[tuple[str, str]] = field(default_factory=list)  # (code, sentence)

    @property
    def ok(self) -> bool:
        return not self.advice

    def to_dict(self) -> dict:
        return {"noise_dbfs": self.noise_dbfs, "speech_peak_dbfs": self.speech_peak_dbfs,
                "speech_rms_dbfs": self.speech_rms_dbfs, "snr_db": self.snr_db,
                "clipped_ratio": self.clipped_ratio, "speech_s": self.speech_s, "advice": list(self.advice),
                "ok": self.ok}


def _db(power: float) -> float:
    return round(10.0 * float(np.log10(max(power, 1e-12))), 1)


def assess(samples: np.ndarray, sr: int = SAMPLE_RATE, det: vad.Detector | None = None) -> MicReport:
    """Judge a mic-check recording (16 kHz mono float32): room tone is every non-speech stretch, speech is what
    the VAD hears."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    probs, win = vad.speech_mask(x, det)
    speech = np.repeat(probs >= vad.THRESHOLD, win)
    speech = np.concatenate([speech, np.zeros(max(0, x.size - speech.size), dtype=bool)])[: x.size]
    # widen the speech by 0.2 s each side: breaths and word edges are not room tone
    edge = int(0.2 * sr)
    widened = np.convolve(speech.astype(np.float32), np.ones(2 * edge + 1, dtype=np.float32), "same") > 0
    room, voice = x[~widened], x[speech]
    noise = _db(float(np.mean(room.astype(np.float64) ** 2))) if room.size > sr // 4 else analysis.MIN_DB
    peak = round(20.0 * float(np.log10(max(float(np.abs(voice).max()) if voice.size else 0.0, 1e-6))), 1)
    rms = _db(float(np.mean(voice.astype(np.float64) ** 2))) if voice.size else analysis.MIN_DB
    clipped = float(np.count_nonzero(np.abs(x) >= analysis.CLIP_LEVEL)) / max(1, x.size)
    snr = round(rms - noise, 1) if voice.size else 0.0
    speech_s = round(voice.size / sr, 2)
    advice: list[tuple[str, str]] = []
    if speech_s < 0.5:
        advice.append(("no_voice", "No voice was heard: check that the right microphone is selected and not "
                                   "muted, then read the sentence aloud after the quiet part."))
    else:
        if clipped > quality.THRESHOLDS["max_clipped_ratio"]:
            advice.append(("clipping", f"Clipping: {clipped:.2%} of the samples hit full scale, which distorts your "
                                       "voice. Lower the input volume or move back from the microphone a little."))
        elif peak < quality.THRESHOLDS["min_peak_dbfs"]:
            advice.append(("too_quiet", f"Too quiet: your voice peaks at {peak:.0f} dBFS. Move closer to the "
                                        "microphone (a hand's width) or raise its input volume."))
        if noise > NOISY_ROOM_DBFS or snr < MIN_SNR_DB:
            advice.append(("noisy_room", f"Noisy room: the room tone is at {noise:.0f} dBFS, {max(snr, 0):.0f} dB "
                                         "under your voice. Turn off fans or music, close the window, or move "
                                         "closer to the microphone."))
    return MicReport(noise_dbfs=noise, speech_peak_dbfs=peak, speech_rms_dbfs=rms, snr_db=snr,
                     clipped_ratio=round(clipped, 6), speech_s=speech_s, advice=advice)
