"""Hands-free recording: press Start once, read the phrases one after another; each utterance is cut by the VAD,
saved as the current phrase's take, shown, and the next phrase comes up by itself.

:class:`HandsFree` is the session, free of Streamlit and WebRTC so it is unit-tested on real audio: feed it audio
(:meth:`HandsFree.feed`, any rate; :meth:`HandsFree.on_frame` takes WebRTC's ``av.AudioFrame``), it resamples
(``audio.StreamResampler``), cuts (``vad.UtteranceCutter``: the cut is the trim, speech plus ``vad.MARGIN_S`` each
side), saves through ``Dataset.add_take`` on its own worker thread — never on the WebRTC event loop — and holds the
result on screen for ``ADVANCE_S`` of audio before listening for the next phrase. A clean take moves on to the next
phrase without a take; a flagged or refused one stays, and the next utterance replaces it. States: ``ready`` (before
Start), ``listening``, ``saving``, ``paused``, ``stopped``, ``done`` (no phrase left).

:func:`streamer` is the glue: ``streamlit_webrtc.webrtc_streamer`` in SENDONLY mode, audio only, its frames going
to the session through a no-drop sink. ICE servers default to none (the studio on localhost, or on a LAN);
``VOXSTUDIO_ICE_SERVERS`` (JSON, e.g. a TURN server for users behind strict NATs) overrides it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from voxstudio.data import audio, quality, vad
from voxstudio.studio import promptcheck
from voxstudio.studio.recording import next_unrecorded

ADVANCE_S = 1.0  # the saved take's result shows this long before the next phrase listens
ARM_S = 0.3  # silence needed after Start, Resume or the pause before a phrase counts (no take starts mid-sentence)
TRIM_MARGIN_S = vad.MARGIN_S  # what click-to-record takes are trimmed to (the hands-free cut has these margins)
ICE_ENV = "VOXSTUDIO_ICE_SERVERS"


@dataclass
class Take:
    """One utterance the session handled: saved (``clip_id``) or refused (``error``)."""

    index: int
    phrase_id: str
    text: str
    clip_id: str | None = None
    duration_s: float = 0.0
    flags: list = field(default_factory=list)
    trim: dict = field(default_factory=dict)
    replaced: bool = False
    error: str = ""
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {"index": self.index, "phrase_id": self.phrase_id, "text": self.text, "clip_id": self.clip_id,
                "duration_s": self.duration_s, "flags": self.flags, "trim": self.trim, "replaced": self.replaced,
                "error": self.error}


class HandsFree:
    """One hands-free session over one dataset's phrase list (see the module docstring). Thread-safe."""

    def __init__(self, ds, phrases: list[dict], index: int = 0, *, speaker: str | None = None,
                 detector: vad.Detector | None = None, advance_s: float = ADVANCE_S,
                 prompt_model: str | None = None, synchronous: bool = False) -> None:
        self.ds, self.phrases, self.speaker = ds, list(phrases), speaker
        self.index = min(max(int(index), 0), len(self.phrases))
        self.state = "ready"
        self.takes: list[Take] = []
        self.prompt_model = prompt_model
        self.auto_advance = True  # a clean take moves on to the next phrase without a take
        self.level_dbfs = -120.0
        self._lock = threading.RLock()
        self._cutter = vad.UtteranceCutter(detector, min_cut_s=quality.THRESHOLDS["min_duration_s"] + 0.05,
                                           arm_s=ARM_S)
        self._frames = 0  # audio chunks received since the last start: 0 means the microphone is not connected yet
        self._resampler: audio.StreamResampler | None = None
        self._hold = 0  # samples (16 kHz) still to ignore: the result is on screen
        self._advance = int(advance_s * audio.SAMPLE_RATE)
        self._recorded = self._recorded_ids()
        self._sync = synchronous
        self._jobs: queue.Queue | None = None
        if not synchronous:
            self._jobs = queue.Queue()
            threading.Thread(target=self._save_loop, name="handsfree-save", daemon=True).start()

    # ------------------------------------------------------------------ controls (the page's buttons)
    def start(self) -> None:
        with self._lock:
            if self.state in ("ready", "paused", "stopped"):
                if self.state != "paused":
                    self._frames = 0
                self.state = "listening" if self.index < len(self.phrases) else "done"
                self._cutter.reset()

    def pause(self) -> None:
        with self._lock:
            if self.state in ("listening", "saving"):
                self.state = "paused"
                self._cutter.reset()

    def resume(self) -> None:
        self.start()

    def stop(self) -> None:
        with self._lock:
            self.state = "stopped"
            self._cutter.reset()

    def goto(self, index: int) -> None:
        """Make ``index`` the current phrase (the phrase list, Back); the next utterance is its take."""
        with self._lock:
            self.index = min(max(int(index), 0), len(self.phrases))
            self._hold = 0
            self._cutter.reset()
            if self.state == "done" and self.index < len(self.phrases):
                self.state = "listening"

    def refresh(self) -> None:
        """Re-read which phrases have a take (takes were made outside this session)."""
        recorded = self._recorded_ids()
        with self._lock:
            self._recorded = recorded

    def redo(self) -> None:
        """Re-record the last take's phrase: go back to it; the next utterance replaces its take."""
        with self._lock:
            if self.takes:
                self.goto(self.takes[-1].index)

    # ------------------------------------------------------------------ audio in
    def on_frame(self, frame) -> None:
        """A WebRTC ``av.AudioFrame`` (s16 or float, packed or planar, any layout): to :meth:`feed`."""
        pcm = frame.to_ndarray()
        channels = len(frame.layout.channels)
        if frame.format.is_planar:
            pcm = pcm.T  # (channels, samples) → (samples, channels)
        else:
            pcm = pcm.reshape(-1, channels)
        self.feed(pcm, frame.sample_rate)

    def feed(self, samples: np.ndarray, rate: int) -> None:
        """Audio from the microphone: ignored unless listening; utterances become takes."""
        with self._lock:
            if self._resampler is None or self._resampler.in_rate != rate:
                self._resampler = audio.StreamResampler(rate)
            x = self._resampler(samples)
            self._frames += 1
            if x.size:
                self.level_dbfs = 20.0 * float(np.log10(max(float(np.abs(x).max()), 1e-6)))
            if self.state != "listening":
                return
            if self._hold:
                used = min(self._hold, x.size)
                self._hold -= used
                x = x[used:]
                if self._hold == 0:
                    self._cutter.reset()
            for utterance in self._cutter.feed(x):
                self._take(utterance)
                break  # the rest of this chunk belongs to the result's pause

    def _take(self, utterance: vad.Utterance) -> None:
        if self.index >= len(self.phrases):
            return
        self.state = "saving"
        job = (self.index, self.phrases[self.index], utterance.samples)
        if self._sync:
            self._save(*job)
        else:
            self._jobs.put(job)

    # ------------------------------------------------------------------ saving (worker thread)
    def _save_loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                self._save(*job)
            finally:
                self._jobs.task_done()

    def _save(self, index: int, phrase: dict, samples: np.ndarray) -> None:
        take = Take(index=index, phrase_id=phrase.get("phrase_id", ""), text=phrase.get("text", ""))
        clip = None
        try:
            # The cut already is the trim (speech + MARGIN_S each side, edges refined); a second, energy-only trim
            # could shave a soft last syllable, and the stream around the cut is not worth keeping.
            clip, replaced = self.ds.add_take(samples, phrase, speaker=self.speaker)
            take.clip_id, take.duration_s, take.flags = clip.clip_id, clip.duration_s, clip.flags
            take.trim, take.replaced = clip.trim, bool(replaced)
        except (ValueError, OSError) as exc:  # AudioError is a ValueError: a sentence for the user
            take.error = str(exc)
        with self._lock:
            self.takes.append(take)
            if clip is not None:
                self._recorded.add(take.phrase_id)
                if not clip.flags and self.index == index and self.auto_advance:
                    following = next_unrecorded(self.phrases, self._recorded, after=index)
                    self.index = len(self.phrases) if following is None else following
            if self.state == "saving":
                self.state = "listening" if self.index < len(self.phrases) else "done"
            self._hold = self._advance
            self._cutter.reset()
        if clip is not None:
            with contextlib.suppress(Exception):  # the check is advice; a failure there never loses a take
                promptcheck.submit_take(self.ds, clip, self.prompt_model)

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until every take handed to the worker is saved (tests); False on time-out."""
        deadline = time.monotonic() + timeout_s
        while self._jobs is not None and self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._jobs is None or not self._jobs.unfinished_tasks

    def _recorded_ids(self) -> set:
        with contextlib.suppress(OSError):
            return set(self.ds.recorded_phrase_ids())
        return set()

    # ------------------------------------------------------------------ what the page shows
    def snapshot(self) -> dict:
        with self._lock:
            return {"state": self.state, "index": self.index, "hearing": self._cutter.in_speech,
                    "connected": self._frames > 0, "armed": self._cutter.armed,
                    "level_dbfs": round(self.level_dbfs, 1), "holding": self._hold > 0,
                    "takes": [t.to_dict() for t in self.takes], "last": self.takes[-1].to_dict() if self.takes
                    else None, "phrases": len(self.phrases)}


# ---------------------------------------------------------------------- WebRTC glue
def ice_servers() -> list:
    """``VOXSTUDIO_ICE_SERVERS`` (a JSON list of RTCIceServer dicts), else none: host candidates only."""
    raw = os.environ.get(ICE_ENV, "").strip()
    if not raw:
        return []
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ICE_ENV} is not JSON ({exc}); give a list like "
                         '[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}].') from exc
    return servers if isinstance(servers, list) else [servers]


class _Router:
    """The sink's callback: frames go to whichever session is current in this browser session."""

    def __init__(self) -> None:
        self.session: HandsFree | None = None

    def __call__(self, frame) -> None:
        session = self.session
        if session is not None:
            session.on_frame(frame)


def streamer(state: dict, session: HandsFree, key: str, playing: bool):
    """The WebRTC component (SENDONLY, audio only) feeding ``session``; ``state`` is the page's session state,
    which keeps the sink across reruns. ``playing`` starts or stops the microphone (the page's buttons)."""
    from streamlit_webrtc import AudioSinkTrack, WebRtcMode, webrtc_streamer  # aiortc: loaded on first use

    router = state.get(f"{key}_router")
    if router is None:
        router = state[f"{key}_router"] = _Router()
        state[f"{key}_sink"] = AudioSinkTrack(router)
    router.session = session
    servers = ice_servers()
    from streamlit.runtime import Runtime, exists

    if not exists() or type(Runtime.instance()) is not Runtime:  # AppTest's stand-in (a mock): no WebRTC there
        return None
    return webrtc_streamer(
        key=key, mode=WebRtcMode.SENDONLY, sink_audio_track=state[f"{key}_sink"],
        rtc_configuration={"iceServers": servers}, desired_playing_state=playing,
        media_stream_constraints={"video": False, "audio": {"echoCancellation": False, "noiseSuppression": False,
                                                            "autoGainControl": True}},
    )
