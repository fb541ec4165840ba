"""A take is never lost: SIGKILL in the middle of appends, torn last lines and two writers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from audio_helpers import SPEECH_TEXT, SPEECH_WAV

from voxstudio.data.dataset import Dataset

APPENDER = Path(__file__).resolve().parent / "dataset_appender.py"
ROOT = Path(__file__).resolve().parent.parent


def _start(name: str, count: int, tag: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(APPENDER), name, str(count), tag, *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _saved(lines: list[str]) -> list[str]:
    return [line.split()[1] for line in lines if line.startswith("saved ")]


def _assert_whole(ds: Dataset) -> list[str]:
    """Every live row points at a complete 16 kHz WAV of the stated length; returns the clip ids."""
    ids = []
    for clip in ds.clips():
        info = sf.info(str(ds.audio_path(clip)))
        assert info.samplerate == 16000 and info.duration == pytest.approx(clip.duration_s, abs=1e-3)
        ids.append(clip.clip_id)
    assert len(set(ids)) == len(ids)
    return ids


def test_sigkill_mid_append_loses_no_saved_clip(home):
    ds = Dataset.create("crash", languages=["en"])
    confirmed: list[str] = []
    for round_, wait_for in enumerate((3, 6, 1)):
        proc = _start("crash", 1000, f"r{round_}")
        lines = []
        while len(_saved(lines)) < wait_for:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        proc.send_signal(signal.SIGKILL)  # while it is writing the next clip
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        confirmed += _saved(lines + proc.stdout.readlines())
        live = _assert_whole(Dataset.open("crash"))
        assert set(confirmed) <= set(live)  # everything reported saved is there, complete
        assert len(live) <= len(confirmed) + round_ + 1  # at most the in-flight clip of each kill on top
    after = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")  # the next append works
    assert _assert_whole(ds)[-1] == after.clip_id
    for line in (ds.path / "metadata.jsonl").read_text("utf-8").splitlines():
        json.loads(line)  # no damaged line left behind


def test_torn_last_line_is_skipped_then_repaired(home, clips):
    ds = Dataset.create("torn", languages=["en"])
    for row in clips[1:4]:
        ds.add_clip(row["path"], row["text"], language="en")
    meta = ds.path / "metadata.jsonl"
    whole = meta.read_bytes()
    good, version = ds.clips(), ds.version()
    row = json.dumps(good[0].to_row())
    with open(meta, "ab") as f:  # what a process killed in the middle of write() leaves
        f.write(row[: len(row) // 2].encode())
    assert Dataset.open("torn").clips() == good and ds.stats()["clips"] == 3
    assert ds.version() == version  # a torn tail is not content
    new = ds.add_clip(SPEECH_WAV, SPEECH_TEXT, language="en")
    assert ds.clips() == [*good, new]
    assert meta.read_bytes().startswith(whole) and meta.read_bytes().endswith(b"\n")
    assert all(json.loads(line) for line in meta.read_text("utf-8").splitlines())
    # a complete last row that only lost its newline is kept, not cut
    meta.write_bytes(meta.read_bytes().rstrip(b"\n"))
    newer = ds.add_clip(clips[5]["path"], clips[5]["text"], language="en")
    assert ds.clips() == [*good, new, newer]
    # a torn line is also survived by edits and deletes
    with open(meta, "ab") as f:
        f.write(b'{"file_name": "audio/x')
    ds.update_clip(new.clip_id, text="cancel the timer")
    ds.delete(newer.clip_id)
    assert [c.clip_id for c in ds.clips()] == [*(c.clip_id for c in good), new.clip_id]


def test_two_writers_at_once_lose_nothing(home):
    Dataset.create("tabs", languages=["en"])
    count = 20
    procs = [_start("tabs", count, tag, "--wait") for tag in ("tab1", "tab2")]
    for proc in procs:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
    for proc in procs:  # both tabs press "save" at the same moment
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(_saved(out.splitlines()))
    ds = Dataset.open("tabs")
    live = _assert_whole(ds)
    assert sorted(live) == sorted(outs[0] + outs[1]) and len(live) == 2 * count
    assert {c.source for c in ds.clips()} == {"tab1", "tab2"}
    assert sorted(p.stem for p in (ds.path / "audio").glob("*.wav")) == sorted(live)
    started = [min(c.created_at for c in ds.clips() if c.source == t) for t in ("tab1", "tab2")]
    ended = [max(c.created_at for c in ds.clips() if c.source == t) for t in ("tab1", "tab2")]
    assert started[0] < ended[1] and started[1] < ended[0], "the two writers did not overlap"


def test_edits_and_deletes_by_another_process_are_seen_at_once(home, clips):
    ds = Dataset.create("shared", languages=["en"])
    a = ds.add_clip(clips[1]["path"], clips[1]["text"], language="en")
    b = ds.add_clip(clips[2]["path"], clips[2]["text"], language="en")
    assert ds.get(a.clip_id).text == clips[1]["text"]  # this process has read (and cached) the rows
    code = ("import sys; from voxstudio.data.dataset import Dataset; ds = Dataset.open('shared'); "
            "ds.update_clip(sys.argv[1], text='edited in the other tab'); ds.delete(sys.argv[2])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, a.clip_id, b.clip_id], check=True, env=env, cwd=ROOT, timeout=60)
    assert [(c.clip_id, c.text) for c in ds.clips()] == [(a.clip_id, "edited in the other tab")]
    assert [c.clip_id for c in ds.trashed()] == [b.clip_id]
