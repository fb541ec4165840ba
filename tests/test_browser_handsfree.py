"""The Record page's recorder in real Chromium with a fake microphone.

* Hands-free: the microphone plays a real session (three LJ Speech phrases with 3 s pauses, tests/session_audio.py,
  looped by Chromium) over WebRTC on localhost (no ICE servers); the page saves one clip per phrase with a
  plausible length and row, moves on by itself, and saves nothing while paused.
* Keys drive the click-to-record flow (``st.audio_input``): R records and stops, P plays the last take, ← S Enter X
  navigate; a key typed into a text field does nothing.
* The last take's player is on the next phrase's screen, and on a phone-sized viewport its verdict is above the
  fold. Screenshots go to docs/ (record_handsfree.png, record_phone.png) with VOXSTUDIO_UPDATE_SCREENSHOT=1;
  docs/record.png comes from tests/test_browser_record.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest
import session_audio
import soundfile as sf
from browser_support import ARGS, CHROMIUM, WAIT_MS, chromium, studio  # noqa: F401  (fixtures)
from conftest import ROOT

from voxstudio.data.dataset import Dataset

pytestmark = pytest.mark.browser
PHRASES = [f"Phrase number {n}, read for the browser test." for n in range(1, 9)]


def _launch(p, fake):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        *ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--allow-loopback-in-peer-connection",
        f"--use-file-for-fake-audio-capture={fake}"])


def _dataset(home, name):  # the test has set VOXSTUDIO_HOME to the studio's home
    ds = Dataset.create(name, languages=["en"], speaker="Browser Tester", consent={"given": True})
    ds.set_phrases(PHRASES)
    return ds


def _rows(ds):
    path = ds.path / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _open(context, url, name, width=1280, height=900):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/Record?dataset={name}")
    page.locator(".st-key-rec_mic_skip button").click()  # the mic check comes first on an empty dataset
    page.get_by_text("Phrase 1 of 8", exact=False).first.wait_for()
    return page


IDLE = "() => !document.querySelector('[data-testid=stStatusWidget]')"  # the script run has ended


def test_hands_free_session_saves_one_clip_per_phrase_and_pauses(chromium, studio, tmp_path, monkeypatch):  # noqa: F811
    url, home = studio
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    ds = _dataset(home, "hands-free")
    fake = tmp_path / "session48k.wav"
    spans = session_audio.write(fake, rate=48000)
    speech = [end - start for start, end in spans]
    with chromium() as p:
        browser = _launch(p, fake)
        try:
            context = browser.new_context()
            context.grant_permissions(["microphone"], origin=url)
            page = _open(context, url, "hands-free")
            page.locator(".st-key-rec_mode").get_by_text("Hands-free", exact=True).click()
            page.locator(".st-key-rec_hf_toggle button").click()  # Start, once
            try:
                # the fake microphone loops the session file: a phrase the VAD misses (a loaded machine can drop
                # frames) comes round again, so wait for a few loops before calling it stuck
                page.get_by_text("Last take (phrase 2)").wait_for(timeout=180_000)
            except Exception:  # what the page showed, and what was saved, for the failure report
                page.screenshot(path=tmp_path / "stuck.png", full_page=True)
                print("saved rows:", _rows(ds))
                raise
            page.get_by_text("Phrase 3 of 8", exact=False).first.wait_for()  # it moved on by itself
            shots = tmp_path / "handsfree.png"
            page.set_viewport_size({"width": 1280, "height": 1300})
            page.screenshot(path=shots)
            page.locator(".st-key-rec_hf_toggle button").click()  # Pause
            page.get_by_text("Paused", exact=False).first.wait_for()
            paused_with = len(_rows(ds))
            page.wait_for_timeout(12_500)  # longer than any stretch of the session without an utterance ending
            assert len(_rows(ds)) == paused_with, "a take was saved while paused"
            page.locator(".st-key-rec_hf_toggle button").click()  # Resume
            deadline = time.monotonic() + 40
            while len(_rows(ds)) <= paused_with and time.monotonic() < deadline:
                page.wait_for_timeout(500)
            page.locator(".st-key-rec_hf_stop button").click()
        finally:
            browser.close()
    rows = _rows(ds)
    assert len(rows) > paused_with >= 2
    phrases = ds.phrases()
    assert [r["phrase_id"] for r in rows] == [p["phrase_id"] for p in phrases[: len(rows)]]  # one clip per phrase
    assert [r["text"] for r in rows] == [p["text"] for p in phrases[: len(rows)]]
    for row in rows:
        info = sf.info(ds.path / row["file_name"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.duration - row["duration_s"]) < 0.05 and row["source"] == "record"
        # a whole phrase plus its margins: never two phrases in one clip, never a sentence split in two
        assert any(s + 0.3 <= row["duration_s"] <= s + 1.0 for s in speech), (row["duration_s"], speech)
    if os.environ.get("VOXSTUDIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shots, ROOT / "docs" / "record_handsfree.png")


def test_keys_drive_the_recorder_and_the_last_take_plays_on_the_next_phrase(chromium, studio, tmp_path,  # noqa: F811
                                                                            monkeypatch):
    url, home = studio
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    ds = _dataset(home, "keys")
    fake = tmp_path / "session48k.wav"
    session_audio.write(fake, rate=48000)
    with chromium() as p:
        browser = _launch(p, fake)
        try:
            context = browser.new_context()
            context.grant_permissions(["microphone"], origin=url)
            page = _open(context, url, "keys")
            page.wait_for_function("() => window.__voxRecordKeysInstalled === true")  # the page's last element
            body = page.locator("body")
            body.press("r")  # record
            page.get_by_role("button", name="Stop recording").wait_for()
            page.wait_for_timeout(4000)
            body.press("r")  # stop: the take is saved, checked, and the page moves on
            page.get_by_text("Last take (phrase 1)").wait_for()
            page.get_by_text("Phrase 2 of 8", exact=False).first.wait_for()
            assert len(_rows(ds)) == 1
            player = page.locator(".st-key-rec_last audio")
            player.wait_for(state="attached")
            body.press("p")  # play the last take, from phrase 2's screen
            page.wait_for_function("() => { const a = document.querySelector('.st-key-rec_last audio');"
                                   " return a && !a.paused && a.currentTime > 0; }")
            body.press("p")
            # Typing in a text field is typing: "s" in the phrase list's search box skips nothing.
            page.locator(".st-key-rec_jump input").click()
            page.keyboard.type("s")
            page.keyboard.press("Escape")
            page.wait_for_timeout(800)
            assert page.get_by_text("Phrase 2 of 8", exact=False).count()
            page.evaluate("document.activeElement && document.activeElement.blur()")
            body.press("ArrowLeft")
            page.get_by_text("Phrase 1 of 8 · ✓ recorded", exact=False).first.wait_for()
            page.wait_for_function(IDLE)  # a key pressed mid-rerun can land on a button being replaced
            body.press("s")  # skip to the next phrase without a take
            page.get_by_text("Phrase 2 of 8", exact=False).first.wait_for()
            page.wait_for_function(IDLE)  # a key pressed mid-rerun can land on a button being replaced
            body.press("Enter")
            page.get_by_text("Phrase 3 of 8", exact=False).first.wait_for()
            page.wait_for_function(IDLE)  # a key pressed mid-rerun can land on a button being replaced
            body.press("x")  # phrase 3 has no take: re-record the last one
            page.get_by_text("Record phrase 1 again", exact=False).wait_for()
            page.get_by_text("Phrase 1 of 8", exact=False).first.wait_for()
            assert "phrase=1" in page.url
        finally:
            browser.close()


def test_on_a_phone_the_verdict_is_above_the_fold(chromium, studio, tmp_path, monkeypatch):  # noqa: F811
    url, home = studio
    monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
    _dataset(home, "phone")
    fake = tmp_path / "session48k.wav"
    session_audio.write(fake, rate=48000)
    with chromium() as p:
        browser = _launch(p, fake)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                          is_mobile=True, has_touch=True)
            context.grant_permissions(["microphone"], origin=url)
            page = _open(context, url, "phone", width=390, height=844)
            page.get_by_role("button", name="Record", exact=True).click()
            page.get_by_role("button", name="Stop recording").wait_for()
            page.wait_for_timeout(4000)
            page.get_by_role("button", name="Stop recording").click()
            verdict = page.get_by_text("Last take (phrase 1)")
            verdict.wait_for()
            page.get_by_text("Phrase 2 of 8", exact=False).first.wait_for()
            page.wait_for_timeout(500)
            page.evaluate("window.scrollTo(0, 0)")
            box = page.locator(".st-key-rec_last").bounding_box()
            page.screenshot(path=tmp_path / "record_phone.png")
            assert box is not None and box["y"] + 60 < 844, box  # the verdict's first lines show without scrolling
            assert re.search(r"Phrase 2 of 8", page.inner_text("body"))
        finally:
            browser.close()
    if os.environ.get("VOXSTUDIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(tmp_path / "record_phone.png", ROOT / "docs" / "record_phone.png")
