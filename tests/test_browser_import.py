"""Bringing data in through the real Record page in Chromium: a zip, a whole folder (the folder picker), a
folder's files selected together, and a manifest uploaded without its audio."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser_support import ARGS, CHROMIUM, WAIT_MS, chromium, studio  # noqa: F401 - fixtures
from layout_sources import FR_WAVS, LJ_CLIPS, common_voice, ljspeech, rows_of, zip_folder

from voxstudio.data.dataset import Dataset

pytestmark = pytest.mark.browser


def _rows(home: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (home / "datasets" / name / "metadata.jsonl").read_text().splitlines()]


def _import(page, uploader: int, files, expect: str) -> None:
    """Give ``files`` to the upload tab's uploader number ``uploader`` (0: files, 1: a folder), wait until they
    are uploaded, press Import files and wait for ``expect``."""
    from playwright.sync_api import expect as expect_that  # the chromium fixture skips without playwright

    button = page.get_by_role("button", name="Import files")
    expect_that(button).to_be_disabled()  # a fresh upload tab
    page.get_by_test_id("stFileUploaderDropzoneInput").nth(uploader).set_input_files(files)
    expect_that(button).to_be_enabled(timeout=WAIT_MS)  # every file arrived and the page ran again
    button.click()
    page.get_by_text(expect).first.wait_for()


def test_upload_a_zip_a_folder_and_a_folders_files_on_the_record_page(chromium, studio, tmp_path,  # noqa: F811
                                                                      monkeypatch):
    sync_playwright = chromium
    url, home = studio
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    Dataset.create("mine", languages=["en"], speaker="Tester")
    lj = ljspeech(tmp_path / "lj", rows_of(LJ_CLIPS))
    archive = zip_folder(lj, tmp_path / "LJSpeech-1.1.zip", "LJSpeech-1.1/")
    cv = common_voice(tmp_path / "cv", rows_of(FR_WAVS), "fr", train=1)
    loose = tmp_path / "loose"
    loose.mkdir()
    for row in rows_of(("en/stp_nevermind.wav", "en/stp_pause_timer.wav")):
        (loose / Path(row["audio_path"]).name).write_bytes(Path(row["path"]).read_bytes())
        (loose / f"{Path(row['audio_path']).stem}.txt").write_text(row["text"])
    manifest = tmp_path / "list.jsonl"
    manifest.write_text('{"audio_path": "wavs/a.wav", "text": "a"}\n{"audio_path": "wavs/b.wav", "text": "b"}\n')
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{url}/Record?dataset=mine")
            page.get_by_role("tab", name=re.compile("Upload files")).click()

            _import(page, 0, str(archive), "Imported 3 clips")  # a zip the CLI imports
            page.get_by_text("Detected: zip LJSpeech-1.1.zip → LJ Speech folder").wait_for()
            page.screenshot(path=shots / "zip.png", full_page=True)
            assert len(_rows(home, "mine")) == 3

            _import(page, 1, str(cv), "Imported 2 clips")  # a Common Voice folder through the folder picker
            page.get_by_text("Detected: Common Voice folder").wait_for()
            assert {r["language"] for r in _rows(home, "mine")[3:]} == {"fr"}

            _import(page, 0, sorted(str(f) for f in loose.iterdir()), "Imported 2 clips")  # a folder's files
            _import(page, 0, str(manifest), "names 2 audio file(s) that were not uploaded: a.wav, b.wav")
            page.screenshot(path=shots / "manifest.png", full_page=True)
        except Exception:
            page.screenshot(path=shots / "failed.png", full_page=True)  # kept in tmp_path for a look
            raise
        finally:
            browser.close()
    rows = _rows(home, "mine")
    assert len(rows) == 7 and all(r["source"] == "import" for r in rows)
    assert {r["speaker"] for r in rows} >= {"Tester"}
    assert sorted(r["text"] for r in rows) == sorted(
        r["text"] for r in rows_of(LJ_CLIPS + FR_WAVS + ("en/stp_nevermind.wav", "en/stp_pause_timer.wav")))
