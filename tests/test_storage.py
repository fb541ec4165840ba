"""Several processes on one dataset never undo each other's edits (real processes, real ext4 inode reuse)."""

from __future__ import annotations

import subprocess
import sys

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
