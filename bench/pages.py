"""Review page speed with a 10,000-clip dataset (target: < 150 ms per script run).

Builds the dataset fast: a few real clips go through ``Dataset.add_clip``; the remaining rows are copies of
their metadata rows with new clip ids (and hard links to the WAVs), written straight to metadata.jsonl —
the same on-disk form the studio reads. Then times AppTest runs of the Review page and, in the same run,
two baselines: the Home page and the whole 10,000-row table in one unpaginated editor.

    .venv/bin/python bench/pages.py [--clips 10000] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
TARGET_MS = 150.0


def build(n: int) -> str:
    from conftest import speech_manifest

    from voxstudio.data.dataset import Dataset

    ds = Dataset.create("bench-10k", languages=["en", "fr"], speaker="Ada")
    seeds = [ds.add_clip(r["path"], r["text"], language=r["language"], speaker=spk, source="import")
             for r, spk in zip(speech_manifest("clips")[:8], ["Ada", "Bea"] * 4)]
    base = [json.loads(line) for line in (ds.path / "metadata.jsonl").read_text().splitlines()]
    rows = []
    for i in range(n - len(base)):
        row = dict(base[i % len(base)])
        clip_id = f"bench{i:07d}"
        os.link(ds.path / row["file_name"], ds.path / "audio" / f"{clip_id}.wav")
        row.update(file_name=f"audio/{clip_id}.wav", text=f"{row['text']} {i}", phrase_id=f"ph{i % 2000}",
                   sha1=f"{i:040x}")
        rows.append(row)
    with open(ds.path / "metadata.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert len(ds.clips()) == n, len(ds.clips())
    del seeds
    return ds.name


def time_runs(at, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
        assert not at.exception, [e.value for e in at.exception]
    return times


def unpaginated_table(name: str) -> None:
    """Baseline: the same cached table, every row in one editor (what pagination avoids)."""
    import streamlit as st

    from voxstudio.data import dataset as dataset_mod
    from voxstudio.studio import review

    @st.cache_data
    def load(name: str, version: str):
        return review.clips_table(dataset_mod.Dataset.open(name))

    ds = dataset_mod.Dataset.open(name)
    st.data_editor(review.editor_frame(load(name, ds.version())), key="bench_all", hide_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    os.environ["VOXSTUDIO_HOME"] = tempfile.mkdtemp(prefix="voxstudio-bench-")
    try:
        run(args)
    finally:
        shutil.rmtree(os.environ["VOXSTUDIO_HOME"], ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    name = build(args.clips)
    print(f"built {args.clips} clips in {time.perf_counter() - start:.1f} s")

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params["dataset"] = name
    at.run()
    home = time_runs(at, args.runs)
    at.switch_page("pages/3_Review.py")
    start = time.perf_counter()
    at.run()
    cold = (time.perf_counter() - start) * 1000
    assert len(at.data_editor[0].value) == 50, len(at.data_editor[0].value)
    review = time_runs(at, args.runs)

    full = AppTest.from_function(unpaginated_table, args=(name,), default_timeout=120)
    full.run()
    unpaginated = time_runs(full, max(3, args.runs // 3))

    mean_review = statistics.mean(review)
    print(f"Review page, {args.clips} clips, 50 rows/page: mean {mean_review:.0f} ms/run "
          f"(median {statistics.median(review):.0f}, min {min(review):.0f}, max {max(review):.0f}; "
          f"{args.runs} runs) — target < {TARGET_MS:.0f} ms: {'OK' if mean_review < TARGET_MS else 'MISSED'}")
    print(f"Review page first run (cache cold): {cold:.0f} ms")
    print(f"baseline Home page: mean {statistics.mean(home):.0f} ms/run → Review/Home = "
          f"{mean_review / statistics.mean(home):.2f}×")
    page_kb = len(at.data_editor[0].proto.arrow_data.data) / 1024
    full_kb = len(full.data_editor[0].proto.arrow_data.data) / 1024
    print(f"baseline unpaginated {args.clips}-row editor alone: mean {statistics.mean(unpaginated):.0f} ms/run "
          f"(script time; Review/unpaginated = {mean_review / statistics.mean(unpaginated):.2f}×, the Review page "
          f"also renders totals, filters, histogram, playback)")
    print(f"table payload sent to the browser per run: {page_kb:.0f} KiB paginated vs {full_kb:.0f} KiB "
          f"unpaginated ({full_kb / page_kb:.0f}× less)")

if __name__ == "__main__":
    main()
