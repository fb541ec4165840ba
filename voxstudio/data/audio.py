"""Audio in and out: decode anything a user may bring, normalise it to 16 kHz mono, write PCM16 WAV safely.

Everything a dataset stores goes through :func:`load_audio` (decode → downmix → resample) and
:func:`write_wav` (atomic); a live stream goes through :class:`StreamResampler`. Decoding uses libsndfile
through ``soundfile`` (WAV, FLAC, OGG Vorbis, Ogg Opus, MP3) because it is fast and in-process; only containers
libsndfile cannot read (browser ``webm``, ``m4a``, ...) go through an ``ffmpeg`` subprocess, and only when
``ffmpeg`` is installed. Measuring a clip (levels, speech) is ``voxstudio.data.analysis``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voxstudio.atomicfile import write_atomic

SAMPLE_RATE = 16000  # what Voxtral's feature extractor expects
WINDOW_S = 30.0  # Voxtral's audio window: longer clips are kept but flagged
MAX_IMPORT_S = 300  # longer audio is refused outright (5 min)
FFMPEG_TIMEOUT_S = 120
RESAMPLE_QUALITY = "HQ"

HEAD_BYTES = 4096  # enough of a file to recognise its container and find a WAV 'data' chunk
FFMPEG_SUFFIXES = (".webm", ".weba", ".mkv", ".m4a", ".mp4", ".aac", ".3gp", ".amr", ".wma", ".caf", ".mov")
SUPPORTED = "Supported: WAV, FLAC, OGG (Vorbis or Opus), MP3, and webm/m4a when ffmpeg is installed."


class AudioError(ValueError):
    """Audio that cannot be used, with a sentence a user understands (shown as is in the UI and CLI)."""


# --------------------------------------------------------------------------------------------- decoding


def _label(source, name: str | None) -> str:
    if name:
        return Path(str(name)).name or str(name)
    if isinstance(source, str | Path):
        return Path(source).name
    return "the uploaded audio"


def _read_source(source, name: str | None) -> tuple[bytes | None, Path | None]:
    """Check the source exists and is not empty; returns (bytes, None) or (None, path)."""
    label = _label(source, name)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise AudioError(f"'{label}' is empty (0 bytes): record or choose the file again.")
        return data, None
    if not isinstance(source, str | Path):
        raise AudioError(f"Cannot read audio from a {type(source).__name__}; give a file path or bytes.")
    path = Path(source)
    if not path.is_file():
        raise AudioError(f"'{label}' was not found at {path}.")
    if path.stat().st_size == 0:
        raise AudioError(f"'{label}' is empty (0 bytes): record or export it again.")
    return None, path


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:  # a multi-byte character cut at the end of the head is still text
        if e.start < len(head) - 3:
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head[:HEAD_BYTES])


def sniff(head: bytes) -> str | None:
    """Container from the first bytes: 'wav', 'flac', 'ogg', 'mp3', 'ffmpeg' (webm/mp4/...), 'text' or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "mp3"
    if head[:4] == b"\x1aE\xdf\xa3" or head[4:8] == b"ftyp" or head[:5] == b"#!AMR" or head[:4] == b"caff":
        return "ffmpeg"
    if _looks_like_text(head):
        return "text"
    return None


def _too_long(label: str) -> AudioError:
    return AudioError(
        f"'{label}' is longer than {MAX_IMPORT_S // 60} minutes. Cut it into sentences of at most "
        f"{int(WINDOW_S)} seconds (the model listens to {int(WINDOW_S)} s at a time) and import those."
    )


def _truncated(label: str, got_s: float, want_s: float | None = None) -> AudioError:
    where = f"after {got_s:.1f} s of the {want_s:.1f} s it announces" if want_s else f"abruptly after {got_s:.1f} s"
    return AudioError(
        f"'{label}' is truncated: the file ends {where}. "
        "Copy or export it again (the upload or download may have been interrupted)."
    )


def _ogg_has_end(tail: bytes) -> bool:
    """An Ogg stream's last page carries the end-of-stream flag; a cut-off file's last page does not."""
    at = tail.rfind(b"OggS")
    if at < 0 or len(tail) < at + 27 or not tail[at + 5] & 0x04:
        return False
    segments = tail[at + 27: at + 27 + tail[at + 26]]
    return len(segments) == tail[at + 26] and at + 27 + len(segments) + sum(segments) <= len(tail)


def _wav_data_bytes(head: bytes) -> tuple[int, int] | None:
    """(offset, declared size) of the WAV 'data' chunk from the header, if it states a real size."""
    off = 12
    while off + 8 <= len(head):
        chunk, size = head[off:off + 4], int.from_bytes(head[off + 4:off + 8], "little")
        if chunk == b"data":
            return (off + 8, size) if 0 < size < 0xFFFFFFF0 else None
        off += 8 + size + (size & 1)
    return None


def _decode_soundfile(data: bytes | None, path: Path | None, label: str) -> tuple[np.ndarray, int, int]:
    """(samples, rate, frames announced by the header)."""
    with sf.SoundFile(io.BytesIO(data) if data is not None else str(path)) as f:
        sr, declared = f.samplerate, f.frames
        if declared > 0 and declared / sr > MAX_IMPORT_S + 1:  # refuse before decoding minutes of audio
            raise _too_long(label)
        samples = f.read(dtype="float32", always_2d=True)
    return samples, sr, declared


def _decode_ffmpeg(data: bytes | None, path: Path | None, label: str, kind: str | None) -> tuple[np.ndarray, int]:
    """Decode with the ffmpeg CLI straight to 16 kHz mono float32 (bounded to just over the import limit)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        if kind is None and Path(label).suffix.lower() not in FFMPEG_SUFFIXES:
            raise AudioError(f"'{label}' is not an audio file that can be read. {SUPPORTED}")
        raise AudioError(
            f"'{label}' is in a format that needs ffmpeg (for example webm or m4a from a browser or phone), "
            "and ffmpeg is not installed. Install it (Debian/Ubuntu: `sudo apt install ffmpeg`, macOS: "
            "`brew install ffmpeg`) or convert the file to WAV or FLAC first."
        )
    tmp = None
    try:
        if path is None:  # some containers (m4a) need a seekable input, so no stdin pipe
            suffix = Path(label).suffix.lower()
            fd, tmp = tempfile.mkstemp(prefix="voxstudio-", suffix=suffix if suffix in FFMPEG_SUFFIXES else "")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            path = Path(tmp)
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path.absolute()),
               "-t", str(MAX_IMPORT_S + 1), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise AudioError(f"Decoding '{label}' took longer than {FFMPEG_TIMEOUT_S} s; convert it to WAV.") from e
    finally:
        if tmp:
            os.unlink(tmp)
    if proc.returncode != 0 or len(proc.stdout) < 4:
        raise AudioError(f"'{label}' could not be decoded: it is damaged or not an audio file. {SUPPORTED}")
    samples = np.frombuffer(proc.stdout[: len(proc.stdout) // 4 * 4], dtype="<f4").astype(np.float32)
    return samples.reshape(-1, 1), SAMPLE_RATE


def decode(source: str | Path | bytes, name: str | None = None) -> tuple[np.ndarray, int]:
    """Decode a file or bytes to float32 samples shaped (frames, channels) and their sample rate.

    ``name`` is the user's file name, used only in messages and as a format hint for ffmpeg.
    Raises :class:`AudioError` with a sentence for the user on empty, truncated, damaged, non-audio or
    unsupported input.
    """
    label = _label(source, name)
    data, path = _read_source(source, name)
    if data is not None:
        head, size = data[:HEAD_BYTES], len(data)
    else:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
        size = path.stat().st_size
    kind = sniff(head)
    if kind == "text":
        raise AudioError(f"'{label}' is not audio: it contains text. Choose the recording itself. {SUPPORTED}")
    if kind == "ffmpeg":
        samples, sr = _decode_ffmpeg(data, path, label, kind)
    else:
        try:
            samples, sr, declared = _decode_soundfile(data, path, label)
        except AudioError:
            raise
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as e:
            if kind in ("wav", "flac"):  # libsndfile reads every variant of these: the file is damaged
                raise AudioError(f"'{label}' is damaged or truncated and cannot be decoded. Copy or export it "
                                 "again.") from e
            samples, sr = _decode_ffmpeg(data, path, label, kind)
        else:
            _check_complete(label, kind, head, size, samples, sr, declared)
            if kind == "ogg" and not _ogg_has_end(_tail(data, path)):
                raise _truncated(label, samples.shape[0] / sr)
    if samples.shape[0] == 0:
        raise AudioError(f"'{label}' contains no audio samples (the file is truncated or empty).")
    return samples, sr


def _tail(data: bytes | None, path: Path | None, n: int = 1 << 16) -> bytes:
    if data is not None:
        return data[-n:]
    with path.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - n))
        return f.read()


def _check_complete(label: str, kind: str | None, head: bytes, size: int, samples: np.ndarray, sr: int,
                    declared: int) -> None:
    """Refuse a file that ends before the length its header announces (interrupted copy or upload)."""
    got = samples.shape[0]
    if kind == "wav":
        chunk = _wav_data_bytes(head)
        if chunk and size - chunk[0] < chunk[1] - 64:
            raise _truncated(label, got / sr, got / sr * chunk[1] / max(1, size - chunk[0]))
    elif declared > 0 and got < declared * 0.98 - sr * 0.05:
        raise _truncated(label, got / sr, declared / sr)


# ----------------------------------------------------------------------------------------- transforms


def to_mono_16k(samples: np.ndarray, sr: int) -> np.ndarray:
    """Downmix (mean of channels) and resample with soxr to 16 kHz; float32, contiguous. Non-finite samples are
    zeroed here only as a last guard: :func:`load_audio` refuses them first."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise AudioError(f"Audio must be 1-D or (frames, channels); got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    if sr != SAMPLE_RATE:
        x = soxr.resample(x, sr, SAMPLE_RATE, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)
    return np.ascontiguousarray(x, dtype=np.float32)


def _refuse_non_finite(samples: np.ndarray, label: str) -> None:
    """NaN or infinite samples (a float file written by a broken tool) are refused, never silently replaced."""
    if np.issubdtype(samples.dtype, np.floating):
        bad = int(samples.size - np.count_nonzero(np.isfinite(samples)))
        if bad:
            raise AudioError(f"'{label}' holds {bad} sample(s) that are not numbers (NaN or infinity): the file "
                             "is damaged or was written by a broken tool. Export it again as WAV or FLAC.")


class StreamResampler:
    """A live stream (e.g. WebRTC's 48 kHz frames) to 16 kHz mono, chunk by chunk, with soxr's streaming
    resampler: no clicks at chunk edges, a few ms of delay. Int16 input is scaled like :func:`load_audio`."""

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._stream = (soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32",
                                            quality=RESAMPLE_QUALITY) if self.in_rate != self.out_rate else None)

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.asarray(samples)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / float(-np.iinfo(x.dtype).min)
        if x.ndim == 2:  # (frames, channels)
            x = x.mean(axis=1)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._stream is None:
            return x
        return self._stream.resample_chunk(x, last=last)


def load_audio(source: str | Path | bytes | np.ndarray, name: str | None = None,
               sr: int = SAMPLE_RATE) -> np.ndarray:
    """Any supported input → float32 mono 16 kHz samples, refusing what no dataset should hold.

    ``sr`` only applies when ``source`` is already an ndarray (e.g. the browser recorder's samples).
    """
    label = _label(source, name)
    if isinstance(source, np.ndarray):
        samples, rate = source, sr
        if np.issubdtype(samples.dtype, np.integer):  # e.g. int16 PCM from a recorder component
            samples = samples.astype(np.float32) / float(-np.iinfo(samples.dtype).min)
        if samples.ndim == 2 and samples.shape[1] > samples.shape[0]:  # (channels, frames) → (frames, channels)
            samples = samples.T
    else:
        samples, rate = decode(source, name)
    frames = samples.shape[0] if samples.ndim else 0
    if frames == 0:
        raise AudioError(f"'{label}' contains no audio samples.")
    _refuse_non_finite(samples, label)
    if frames / rate > MAX_IMPORT_S:
        raise _too_long(label)
    x = to_mono_16k(samples, rate)
    if x.size == 0:
        raise AudioError(f"'{label}' is too short to contain speech.")
    return x


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16 (rounded, clipped); int16 input is returned unchanged.

    Scaled by 32768 like soundfile/libsndfile read PCM16, so WAV → float → WAV is bit-exact (lossless
    re-imports and exports).
    """
    x = np.asarray(samples)
    if x.dtype == np.int16:
        return x
    return np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write mono 16-bit PCM WAV atomically: temp file in the same folder, fsync, rename.

    A reader (or a crash) sees either no file or the whole file, never half a WAV.
    """
    path = Path(path)
    pcm = to_pcm16(samples)
    if pcm.ndim != 1:
        raise AudioError(f"write_wav expects mono samples; got shape {pcm.shape}.")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sr))
        w.writeframes(pcm.astype("<i2", copy=False).tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, buf.getvalue())
