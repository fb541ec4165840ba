"""Several processes on one dataset never undo each other's edits (real processes, real ext4 inode reuse)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from jobs_helpers import make_dataset

from voxstudio.data import rowlog
from voxstudio.data.dataset import Dataset

EDITOR = ROOT / "tests" / "dataset_editor.py"


class Editor:
    """The other process: long-lived, with its own warm cache."""

    def __init__(self, name: str):
        self.proc = subprocess.Popen([sys.executable, str(EDITOR), name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def __call__(self, *words: str) -> str:
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().rstrip("\n")
        assert answer.startswith("ok"), answer
        return answer[3:]

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def two_editors(home):
    ds = make_dataset("shared", 6)
    other = Editor("shared")
    yield ds, other
    other.close()


def test_a_warm_process_and_another_editor_never_lose_an_edit(two_editors):
    ds, other = two_editors
    ids = [c.clip_id for c in ds.clips()]
    for k, clip_id in enumerate(ids):  # every text the same length: rewrites keep the file's size
        ds.update_clip(clip_id, text=f"start {k:02d}")
    expected = {c.clip_id: c.text for c in ds.clips()}
    for i in range(24):
        ds.clips()  # keep this process's cache warm, as a studio rerun does
        a, b, c = ids[i % 6], ids[(i + 1) % 6], ids[(i + 2) % 6]
        other("edit", b, f"other {i:02d}")  # two rewrites by the other process: ext4 hands the first
        other("edit", c, f"again {i:02d}")  # inode number back, with a file of the same size
        expected[b], expected[c] = f"other {i:02d}", f"again {i:02d}"
        assert {x.clip_id: x.text for x in ds.clips()} == expected, f"round {i}: stale view"
        ds.update_clip(a, text=f"owner {i:02d}")  # must start from the other's edits, not write old rows back
        expected[a] = f"owner {i:02d}"
        assert other("text", b) == expected[b] and other("text", a) == expected[a]
    assert {x.clip_id: x.text for x in Dataset.open("shared").clips()} == expected


def test_deletes_and_restores_by_the_other_process_survive_my_edits(two_editors):
    ds, other = two_editors
    ids = [c.clip_id for c in ds.clips()]
    for i in range(20):
        victim, mine = ids[i % 6], ids[(i + 3) % 6]
        ds.clips()
        other("delete", victim)
        ds.update_clip(mine, text=f"edit {i:02d}")
        live = {c.clip_id for c in ds.clips()}
        assert victim not in live and mine in live, f"round {i}: the delete was undone"
        other("restore", victim)
        ds.update_clip(mine, text=f"edit {i:02d} again")
        clips = {c.clip_id: c for c in ds.clips()}
        assert set(clips) == set(ids), f"round {i}: the restore was undone"
        assert ds.audio_path(clips[victim]).is_file()  # restored WAV has its row
    assert not ds.trashed()


def test_a_rewrite_killed_halfway_leaves_readers_correct_and_is_settled(home):
    ds = make_dataset("gen", 3)
    path = ds.path / "metadata.jsonl"
    rowlog._bump_generation(path, odd=True)  # exactly what a rewrite killed before its rename leaves
    assert rowlog.generation(path) % 2 == 1
    assert [c.clip_id for c in Dataset.open("gen").clips()] == [c.clip_id for c in ds.clips()]
    ds.update_clip(ds.clips()[0].clip_id, text="after the kill")  # the next rewrite settles the counter
    assert rowlog.generation(path) % 2 == 0 and Dataset.open("gen").clips()[0].text == "after the kill"


def test_restoring_a_duplicate_is_refused_and_changes_nothing(home):
    from conftest import speech_manifest

    row = speech_manifest("clips")[0]
    ds = Dataset.create("dups", languages=[row["language"]])
    first = ds.add_clip(row["path"], row["text"], language=row["language"])
    ds.delete(first.clip_id)
    again = ds.add_clip(row["path"], row["text"], language=row["language"])  # allowed: the first is in the trash
    with pytest.raises(ValueError, match=r"^'Clip .*' is a duplicate: the same recording with the same text"):
        ds.restore(first.clip_id)
    assert [c.clip_id for c in ds.clips()] == [again.clip_id]
    assert [c.clip_id for c in ds.trashed()] == [first.clip_id]  # still restorable once the other is gone
    ds.delete(again.clip_id)
    assert ds.restore(first.clip_id).clip_id == first.clip_id


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)


def test_random_sigkills_of_two_writers_and_an_editor_lose_nothing_after_check_repair(home):
    """Writers and an editor SIGKILLed at random moments: every clip and edit they reported stays; after
    ``dataset check --repair`` no row lacks audio and no audio lacks a row."""
    import random
    import signal
    import time

    from voxstudio.cli import main
    from voxstudio.data import integrity

    rng = random.Random(7)
    ds = make_dataset("kills", 4)
    appender = ROOT / "tests" / "dataset_appender.py"
    saved: set[str] = {c.clip_id for c in ds.clips()}
    edits: dict[str, str] = {}
    for round_ in range(6):
        writers = [_spawn(str(appender), "kills", "50", f"w{round_}{k}") for k in range(2)]
        editor = _spawn(str(EDITOR), "kills")
        target = sorted(saved)[round_ % len(saved)]
        for n in range(rng.randint(1, 4)):  # acknowledged edits must survive the kills
            text = f"edit {round_} {n}"
            editor.stdin.write(f"edit {target} {text}\n")
            editor.stdin.flush()
            assert editor.stdout.readline().startswith("ok")
            edits[target] = text
        editor.stdin.write(f"edit {target} unacknowledged {round_}\n")  # may or may not land before the kill
        editor.stdin.flush()
        for w in writers:
            for _ in range(rng.randint(0, 3)):
                line = w.stdout.readline()
                if line.startswith("saved "):
                    saved.add(line.split()[1])
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next write
        for proc in (*writers, editor):
            proc.send_signal(signal.SIGKILL)
        for w in writers:  # lines printed before the kill count as reported saves
            for line in w.stdout.read().splitlines():
                if line.startswith("saved "):
                    saved.add(line.split()[1])
        for proc in (*writers, editor):
            proc.wait(timeout=30)
        fresh = Dataset.open("kills")
        live = {c.clip_id: c for c in fresh.clips()}
        assert saved <= set(live), f"round {round_}: reported clips lost: {saved - set(live)}"
        for clip_id, text in edits.items():
            assert live[clip_id].text in (text, f"unacknowledged {round_}"), f"round {round_}: edit lost"
        edits = {k: live[k].text for k in edits}
        assert main(["--home", str(home), "dataset", "check", "kills", "--repair"]) == 0
        report = integrity.check(Dataset.open("kills"))
        assert report.ok and not report.problems, integrity.describe(report)
        wavs = {p.stem for p in (fresh.path / "audio").glob("*.wav")}
        assert wavs == {c.clip_id for c in Dataset.open("kills").clips()}  # 0 orphans, 0 rows without audio


def test_check_finds_and_repairs_each_kind_of_leftover(home, capsys):
    from voxstudio.cli import main
    from voxstudio.data import integrity, rowlog

    ds = make_dataset("fsck", 4)
    a, b, c, d = ds.clips()
    (ds.path / "audio" / "orphan0000.wav").write_bytes(ds.audio_path(a).read_bytes())  # a take never saved
    (ds.path / "audio" / ".x.wav.123.tmp").write_bytes(b"half")  # an interrupted atomic write
    ds.audio_path(b).unlink()  # a row whose audio is gone
    rowlog.append(ds.path / "metadata.jsonl", [c.to_row()])  # the same clip twice
    ds.delete(d.clip_id)
    (ds.path / "trash" / f"{d.clip_id}.wav").unlink()  # a trash entry without audio
    rowlog._bump_generation(ds.path / "metadata.jsonl", odd=True)  # a rewrite killed half-way

    assert main(["--home", str(home), "dataset", "check", "fsck"]) == 1
    out = capsys.readouterr().out
    for sentence in integrity.SENTENCES.values():
        assert sentence in out
    assert main(["--home", str(home), "dataset", "check", "fsck", "--repair", "--json"]) == 0
    assert all(p["repaired"] for p in json.loads(capsys.readouterr().out)["problems"])
    ds = Dataset.open("fsck")
    assert sorted(x.clip_id for x in ds.clips()) == sorted([a.clip_id, c.clip_id])
    assert integrity.check(ds).ok and not integrity.check(ds).problems
    lost = [r for r in rowlog.read_rows(ds.path / "trash" / "trash.jsonl") if r.get("missing_audio")]
    assert [Path(r["file_name"]).stem for r in lost] == [b.clip_id]  # set aside, not silently dropped


def test_the_studio_runs_the_safe_repairs_when_it_opens_a_dataset(home):
    from apptest_support import open_app

    ds = make_dataset("open", 2)
    (ds.path / "audio" / "orphan0000.wav").write_bytes(b"RIFF")
    (ds.path / ".dataset.json.77.tmp").write_bytes(b"{")
    open_app("pages/3_Review.py", "open")
    assert not (ds.path / "audio" / "orphan0000.wav").exists() and not (ds.path / ".dataset.json.77.tmp").exists()
    assert len(Dataset.open("open").clips()) == 2
