"""The whole data path in a real browser: Chromium with a fake microphone fed from a real speech clip.

Start the studio as users do (``streamlit run Home.py``), create a dataset on the Language page, skip the mic
check, record three phrases by clicking the audio widget's record/stop buttons, check the WAVs and rows on disk,
reload (the Record page must resume at phrase 4) and see the three clips on the Review page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from browser_support import ARGS, CHROMIUM, WAIT_MS, chromium, studio  # noqa: F401 - fixtures
from conftest import ROOT, speech_manifest

FAKE_CLIP = "en/ljspeech_LJ001-0002.wav"  # a real read-speech recording; Chromium loops it as the microphone
TAKE_S = 2.5

pytestmark = pytest.mark.browser


def _fake_mic_wav(tmp_path: Path) -> Path:
    """The fixture clip as 48 kHz mono PCM16, the format Chromium's fake capture device reads best."""
    row = next(r for r in speech_manifest("clips") if r["audio_path"] == FAKE_CLIP)
    data, sr = sf.read(row["path"], dtype="float32", always_2d=False)
    idx = np.linspace(0, len(data) - 1, int(len(data) * 48000 / sr))
    out = tmp_path / "fake_mic.wav"
    sf.write(out, np.interp(idx, np.arange(len(data)), data).astype("float32"), 48000, subtype="PCM_16")
    return out


def _record_one(page, number: int) -> None:
    """Click record, speak (the fake mic plays) for TAKE_S, click stop; wait until the take is saved."""
    page.get_by_text(f"Phrase {number} of", exact=False).first.wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Record", exact=True).click(timeout=WAIT_MS)
    stop = page.get_by_role("button", name="Stop recording")
    stop.wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(int(TAKE_S * 1000))
    stop.click()
    page.get_by_text(f"Last take (phrase {number})").wait_for(timeout=WAIT_MS)
    if page.get_by_text(f"Phrase {number} of", exact=False).count():  # flagged: it stays; move on ourselves
        page.locator(".st-key-rec_next button").click()
    page.get_by_text(f"Phrase {number + 1} of", exact=False).first.wait_for(timeout=WAIT_MS)


def test_record_three_phrases_in_chromium(chromium, studio, tmp_path):  # noqa: F811 - fixtures
    sync_playwright = chromium
    url, home = studio
    fake = _fake_mic_wav(tmp_path)
    args = [*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake}"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.grant_permissions(["microphone"], origin=url)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)

            # Home shows the wizard; step 1 creates the dataset.
            page.goto(url)
            page.get_by_text("Create your first dataset").wait_for()
            page.screenshot(path=shots / "home.png", full_page=True)
            page.goto(f"{url}/Language")
            page.get_by_text("Preview: 60 phrases").wait_for()
            page.get_by_label("Language you will speak").click()
            page.get_by_role("option", name=re.compile("^English")).click()
            speaker = page.get_by_label("Your name (the speaker)")
            speaker.fill("Browser Tester")
            speaker.press("Enter")
            page.get_by_text("I am the speaker, and I agree").click()
            page.get_by_role("button", name=re.compile("Create dataset and save 60 phrases")).click()
            page.get_by_text("Saved 60 phrases to 'browser-tester-en'").wait_for()
            page.screenshot(path=shots / "language.png", full_page=True)

            page.get_by_role("link", name=re.compile("Go to 2 · Record")).click()
            page.locator(".st-key-rec_mic_skip button").click()  # the mic check before the first take
            for number in (1, 2, 3):
                _record_one(page, number)
            assert "dataset=browser-tester-en" in page.url
            page.set_viewport_size({"width": 1280, "height": 1500})  # the whole record tab, from the top
            page.evaluate("document.querySelectorAll('*').forEach(el => { if (el.scrollTop) el.scrollTop = 0; })")
            page.wait_for_timeout(300)
            page.screenshot(path=shots / "record.png")
            page.set_viewport_size({"width": 1280, "height": 900})

            # On disk: three 16 kHz mono WAVs with real sound, plausible lengths, and their rows.
            ds_dir = home / "datasets" / "browser-tester-en"
            rows = [json.loads(line) for line in (ds_dir / "metadata.jsonl").read_text().splitlines()]
            phrases = [json.loads(line) for line in (ds_dir / "phrases.jsonl").read_text().splitlines()]
            assert [r["phrase_id"] for r in rows] == [p["phrase_id"] for p in phrases[:3]]
            assert [r["text"] for r in rows] == [p["text"] for p in phrases[:3]]
            for row in rows:
                info = sf.info(ds_dir / row["file_name"])
                assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
                assert 1.0 < info.duration < TAKE_S + 3.0, info.duration
                assert abs(info.duration - row["duration_s"]) < 0.05
                samples, _ = sf.read(ds_dir / row["file_name"], dtype="float32")
                rms_db = 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12)
                assert rms_db > -45, f"{row['file_name']} is near silent ({rms_db:.1f} dBFS)"
                assert row["source"] == "record" and row["speaker"] == "Browser Tester"

            # A reload loses the session but not the place: the Record page resumes at phrase 4.
            page.reload()
            page.get_by_text("Phrase 4 of 60", exact=False).first.wait_for()
            page.get_by_text("3 of 60 phrases recorded").wait_for()

            # Review lists the three clips.
            page.get_by_role("link", name="Review").first.click()
            page.get_by_text("3 of 3 clips match").wait_for()
            # The grid is a canvas; its accessible table carries the cell texts.
            cells = page.get_by_test_id("stDataFrame").first.locator("td")
            cells.first.wait_for(state="attached")
            page.wait_for_timeout(500)
            shown = cells.all_text_contents()
            page.screenshot(path=shots / "review.png", full_page=True)
            for row in rows:
                assert row["text"] in shown, shown
            page.locator("[data-testid=stAudio]").nth(2).wait_for()  # a player for every clip of the page
            assert page.locator("[data-testid=stAudio]").count() == 3
            page.set_viewport_size({"width": 1280, "height": 1700})
            page.wait_for_timeout(500)
            page.screenshot(path=shots / "review_players.png")
            page.set_viewport_size({"width": 1280, "height": 900})

            # The export download is a zip with the three WAVs and their metadata.
            with page.expect_download() as download:
                page.get_by_role("button", name=re.compile("Download the dataset")).click()
            archive = tmp_path / "export.zip"
            download.value.save_as(archive)
            with zipfile.ZipFile(archive) as zf:
                names = set(zf.namelist())
                assert {row["file_name"] for row in rows} <= names and "metadata.jsonl" in names
            page.screenshot(path=shots / "review.png", full_page=True)
        finally:
            browser.close()
    docs = ROOT / "docs"
    if docs.is_dir() and os.environ.get("VOXSTUDIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shots / "record.png", docs / "record.png")
        shutil.copy(shots / "review_players.png", docs / "review.png")
