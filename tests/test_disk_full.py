"""A full disk: every clip reported saved is there, nothing reported failed is there, one sentence, the dataset
still exports. The data home is a real, small tmpfs mounted for the test (CI runs as root)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import speech_manifest

from voxstudio import workspace
from voxstudio.data import exporters, importers
from voxstudio.data.dataset import Dataset

SENTENCE = r"^The disk holding .* is full: \d+ MB free; free some space or move VOXSTUDIO_HOME"


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """VOXSTUDIO_HOME on a 1.5 MB tmpfs."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.decode().strip()}")
    monkeypatch.setenv("VOXSTUDIO_HOME", str(mount))
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path) -> None:
    """Take every byte left on the disk holding ``path`` (a real full disk, not a simulated error)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def rows():
    return speech_manifest("clips")


def check_consistent(ds: Dataset, saved: set[str], tmp_path) -> None:
    """What the user was told is exactly what is on disk, and the dataset exports."""
    live = {c.clip_id for c in Dataset.open(ds.name).clips()}
    assert live == saved
    wavs = {p.stem for p in (ds.path / "audio").glob("*.wav")}
    assert wavs == saved  # no orphan WAV of a refused clip, no row without audio
    assert not list(ds.path.rglob("*.tmp"))  # no temp leftovers
    lines = (ds.path / "metadata.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(line.strip() for line in lines[:-1])  # no torn or half row
    manifest = exporters.export_jsonl(ds, tmp_path / f"export-{uuid.uuid4().hex[:6]}")
    assert len(manifest.read_text().splitlines()) == len(saved)


def test_adding_until_the_disk_is_full_tells_the_truth(small_disk, tmp_path):
    ds = Dataset.create("full", languages=["en", "fr", "de", "es", "pt"])
    saved, failures = set(), []
    for r in rows():
        try:
            clip = ds.add_clip(r["path"], r["text"], language=r["language"], source="import")
        except OSError as exc:
            failures.append(str(exc))
            if len(failures) >= 4:
                break
            continue
        saved.add(clip.clip_id)
    assert saved and failures, "the disk never filled up"
    for message in failures:
        assert re.match(SENTENCE, message), message
        assert "Errno" not in message
    check_consistent(ds, saved, tmp_path)


def test_an_import_into_a_full_disk_stops_with_one_sentence(small_disk, tmp_path):
    ds = Dataset.create("imp", languages=["en", "fr", "de", "es", "pt"])
    source = tmp_path / "recordings"  # a folder of WAVs with same-name .txt transcripts
    source.mkdir()
    for i, r in enumerate(rows()):
        (source / f"{i:03d}{Path(r['path']).suffix}").write_bytes(Path(r["path"]).read_bytes())
        (source / f"{i:03d}.txt").write_text(r["text"])
    report = importers.import_source(ds, source, language="en")
    assert report.imported and report.stopped
    full = [reason for _, reason in report.refused if "is full" in reason]
    assert len(full) == 1  # said once, not once per remaining item
    assert re.match(SENTENCE, report.stopped)
    assert len(report.imported) + len(report.refused) < len(rows())  # it stopped instead of trying the rest
    check_consistent(ds, {c.clip_id for c in report.imported}, tmp_path)


def test_edits_on_a_full_disk_change_nothing_or_everything(small_disk, tmp_path):
    ds = Dataset.create("edit", languages=["en", "fr", "de", "es", "pt"])
    saved = set()
    for r in rows():
        try:
            saved.add(ds.add_clip(r["path"], r["text"], language=r["language"], source="import").clip_id)
        except OSError:
            break
    filler = small_disk / "filler"
    fill(filler)  # take whatever is left
    clip = ds.clips()[0]
    with pytest.raises(OSError, match=SENTENCE):
        ds.update_clip(clip.clip_id, text="an edit that cannot be written " * 3)
    assert Dataset.open("edit").get(clip.clip_id).text == clip.text  # the failed edit changed nothing
    os.unlink(filler)
    ds.update_clip(clip.clip_id, text="written once there is room")
    assert Dataset.open("edit").get(clip.clip_id).text == "written once there is room"
    check_consistent(ds, saved, tmp_path)
    assert workspace.is_disk_full(OSError(28, "x"))


@pytest.mark.slow
def test_training_on_a_full_disk_fails_saying_so_and_keeps_the_dataset(small_disk, tmp_path):
    from train_helpers import run_trainer

    from voxstudio.runs import queue, runfolder
    from voxstudio.training.config import new_config

    ds = Dataset.create("train-full", languages=["en"])
    saved = set()
    for r in [r for r in rows() if r["audio_path"].startswith("en/stp")][:3]:
        saved.add(ds.add_clip(r["path"], r["text"], language="en", source="import").clip_id)
    run = queue.create_run(new_config(run_name="on-full-disk", dataset="train-full", base_model="tiny",
                                      max_steps=2, eval_fraction=0.0, max_new_tokens=2))
    fill(small_disk / "filler")  # nothing left for features or checkpoints
    assert run_trainer(run).returncode == 1
    status = runfolder.read_status(run)
    assert status["state"] == "failed" and re.match(SENTENCE, status["message"]), status
    os.unlink(small_disk / "filler")
    check_consistent(ds, saved, tmp_path)
