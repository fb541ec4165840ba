"""The Record page's upload tab through Streamlit's AppTest: a zip, a folder's files, and the report it shows."""

from __future__ import annotations

from pathlib import Path

from apptest_support import open_app, texts
from layout_sources import LJ_CLIPS, ljspeech, rows_of, zip_folder

from voxstudio.data.dataset import Dataset


def test_the_upload_tab_takes_a_zip_and_says_what_a_lone_manifest_expected(home, tmp_path):
    ds = Dataset.create("mine", languages=["en"], speaker="Ada")
    archive = zip_folder(ljspeech(tmp_path, rows_of(LJ_CLIPS)), tmp_path / "lj.zip", "LJSpeech-1.1/")
    at = open_app("pages/2_Record.py", dataset="mine")
    at.file_uploader(key="rec_upload_0").set_value([("lj.zip", archive.read_bytes(), "application/zip")]).run()
    at.button(key="rec_import").click().run()
    shown = texts(at)
    assert "Imported 3 clips" in shown
    assert "Detected: zip lj.zip → LJ Speech folder (LJSpeech-1.1, metadata.csv) — 3 row(s)" in shown
    assert sorted(c.text for c in ds.clips()) == sorted(r["text"] for r in rows_of(LJ_CLIPS))
    assert {c.speaker for c in ds.clips()} == {"Ada"}

    manifest = b'{"audio_path": "wavs/a.wav", "text": "a"}\n{"audio_path": "wavs/b.wav", "text": "b"}\n'
    at.file_uploader(key="rec_upload_1").set_value([("list.jsonl", manifest, "application/json")]).run()
    at.button(key="rec_import").click().run()
    warning = "list.jsonl: names 2 audio file(s) that were not uploaded: a.wav, b.wav."
    assert any(str(w.value).startswith(warning) for w in at.warning), [w.value for w in at.warning]
    assert "Nothing to import" not in texts(at)
    assert len(ds.clips()) == 3 and not list(Path(home).rglob("voxstudio-upload-*"))
