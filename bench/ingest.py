"""Ingest benchmark: import the 100 shared clips with ``Dataset.add_clip`` and compare with a per-file ffmpeg CLI.

    .venv/bin/python bench/ingest.py [--clips DIR] [--repeat N]

``add_clip`` does the whole job (decode, downmix, soxr resample, analysis, quality flags, duplicate check, atomic
fsynced WAV, locked fsynced metadata row). The baseline does less: one ``ffmpeg`` process per file that decodes,
resamples to 16 kHz mono and writes a PCM16 WAV (no analysis, no metadata). Target: ≥ 20 clips/s on 2 cores.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxstudio.data.dataset import Dataset  # noqa: E402

DEFAULT_CLIPS = ROOT.parent / "shared" / "speech" / "clips"


def load_manifest(folder: Path) -> list[dict]:
    rows = []
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row["path"] = folder / row["audio_path"]
        rows.append(row)
    return rows


def run_voxstudio(rows: list[dict]) -> float:
    """Seconds to import every row into a fresh dataset in a fresh data home."""
    with tempfile.TemporaryDirectory(prefix="vox-bench-") as tmp:
        os.environ["VOXSTUDIO_HOME"] = tmp
        ds = Dataset.create("bench")
        start = time.perf_counter()
        for row in rows:
            ds.add_clip(row["path"], row["text"], language=row["language"], source="import", name=row["path"].name)
        elapsed = time.perf_counter() - start
        assert len(ds.clips()) == len(rows)
    return elapsed


def run_ffmpeg(rows: list[dict], ffmpeg: str) -> float:
    """Seconds for one ffmpeg process per file: decode + resample to 16 kHz mono + write PCM16 WAV."""
    with tempfile.TemporaryDirectory(prefix="vox-bench-ffmpeg-") as tmp:
        start = time.perf_counter()
        for i, row in enumerate(rows):
            subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(row["path"]), "-ac", "1",
                            "-ar", "16000", "-c:a", "pcm_s16le", str(Path(tmp) / f"{i}.wav")], check=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = load_manifest(args.clips)
    audio_s = sum(r["duration_s"] for r in rows)
    print(f"{len(rows)} clips, {audio_s / 60:.1f} min of audio, {os.cpu_count()} CPUs visible")

    ours = [run_voxstudio(rows) for _ in range(args.repeat)]
    ours_rate = len(rows) / statistics.median(ours)
    print(f"voxstudio add_clip : {ours_rate:6.1f} clips/s  (median of {args.repeat}; runs "
          + ", ".join(f"{t:.2f}s" for t in ours) + ")")

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg baseline    : skipped (ffmpeg not installed)")
        return
    base = [run_ffmpeg(rows, ffmpeg) for _ in range(args.repeat)]
    base_rate = len(rows) / statistics.median(base)
    print(f"ffmpeg per file    : {base_rate:6.1f} clips/s  (median of {args.repeat}; runs "
          + ", ".join(f"{t:.2f}s" for t in base) + ")")
    print(f"ratio              : {ours_rate / base_rate:6.1f}x faster than the ffmpeg baseline")


if __name__ == "__main__":
    main()
