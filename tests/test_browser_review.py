"""Review in real Chromium, from the keyboard only: J/K walk the clip cards (the cursor is painted on the card),
P plays and pauses the clip under the cursor, F marks a left-out clip fine, X moves it to the trash (the cursor lands
on the clip that took its place), U undoes the move — each checked on disk, not only on screen."""

from __future__ import annotations

import pytest
import soundfile as sf
from browser_support import ARGS, CHROMIUM, chromium, new_page, serve  # noqa: F401 - shared fixtures
from conftest import speech_manifest

from voxstudio.data import quality
from voxstudio.data.dataset import Dataset
from voxstudio.studio import keys

pytestmark = pytest.mark.browser
CARDS = f'[class*="st-key-{keys.REVIEW_CARD}"]'


def _dataset() -> tuple[Dataset, list[str]]:
    ds = Dataset.create("keys", languages=["en"], speaker="Ada")
    rows = [r for r in speech_manifest("clips") if r["language"] == "en"][:3]
    for r in rows:
        data, sr = sf.read(r["path"], dtype="float32")
        ds.add_clip(data, r["text"], language="en", source="import")
    data, sr = sf.read(rows[0]["path"], dtype="float32")
    ds.add_clip(data[: sr // 4], "far too short", language="en", source="import")  # left out of training
    return ds, [c.clip_id for c in ds.clips()]


def _card_ids(page) -> list[str]:
    prefix = f"st-key-{keys.REVIEW_CARD}"
    return page.eval_on_selector_all(CARDS, "(els, p) => els.map((el) => Array.from(el.classList)"
                                            ".find((c) => c.startsWith(p)).slice(p.length))", prefix)


def _cursor(page) -> list[str]:
    """The clip ids of the cards painted as current (one, or none before the first key)."""
    prefix = f"st-key-{keys.REVIEW_CARD}"
    return page.eval_on_selector_all(CARDS + '[aria-current="true"]',
                                     "(els, p) => els.map((el) => Array.from(el.classList)"
                                     ".find((c) => c.startsWith(p)).slice(p.length))", prefix)


def _wait_cursor(page, clip_id: str) -> None:
    page.wait_for_function(f"(id) => !!document.querySelector('.st-key-{keys.REVIEW_CARD}' + id + "
                           "'[aria-current=\"true\"]')", arg=clip_id)


def test_review_rows_from_the_keyboard(chromium, tmp_path, monkeypatch):  # noqa: F811 - fixture
    sync_playwright = chromium
    with serve(tmp_path, {}) as (url, home, _log):
        monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
        ds, _ = _dataset()
        short = next(c for c in ds.clips() if c.text == "far too short")
        assert short.reviewed != quality.KEEP
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                _context, page = new_page(browser)
                page.goto(f"{url}/Review?dataset=keys")
                page.get_by_text("4 of 4 clips match").wait_for()
                page.locator("[data-testid=stAudio]").nth(3).wait_for()
                page.get_by_text("Keys: J next clip").wait_for()
                order = _card_ids(page)
                assert sorted(order) == sorted(c.clip_id for c in ds.clips()) and _cursor(page) == []

                page.keyboard.press("j")
                assert _cursor(page) == [order[0]]
                page.keyboard.press("j")
                page.keyboard.press("j")
                assert _cursor(page) == [order[2]]
                page.keyboard.press("k")
                assert _cursor(page) == [order[1]]

                # a letter typed on the table's grid is the grid's (it starts editing a cell): no shortcut fires
                page.evaluate("() => { window.__voxClicks = []; document.addEventListener('click', (e) => "
                              "window.__voxClicks.push(e.target.closest('[class*=\"st-key-\"]')?.className), true); }")
                page.get_by_test_id("stDataFrame").first.click(position={"x": 200, "y": 50})  # a transcript cell
                page.keyboard.press("j")
                page.keyboard.press("x")
                page.keyboard.press("Escape")
                assert page.evaluate("() => window.__voxClicks.filter((c) => c && c.includes('rev_trash_'))") == []
                assert _cursor(page) == [order[1]] and len(ds.clips()) == 4
                page.locator("h1").first.click()  # out of the grid again

                player = f".st-key-{keys.REVIEW_CARD}{order[1]} audio"
                page.keyboard.press("p")
                page.wait_for_function(f"() => !document.querySelector('{player}').paused")
                page.keyboard.press("p")
                page.wait_for_function(f"() => document.querySelector('{player}').paused")
                others = [i for i in order if i != order[1]]
                assert page.evaluate("(ids) => ids.every((id) => document.querySelector("
                                     f"'.st-key-{keys.REVIEW_CARD}' + id + ' audio').paused)", others)

                # F on the left-out clip marks it fine; the cursor stays on it through the rerun
                at = order.index(short.clip_id)
                for _ in range(abs(at - 1)):
                    page.keyboard.press("j" if at > 1 else "k")
                assert _cursor(page) == [short.clip_id]
                page.keyboard.press("f")
                page.locator(f".st-key-rev_unkeep_{short.clip_id}").wait_for()
                assert ds.get(short.clip_id).reviewed == quality.KEEP
                _wait_cursor(page, short.clip_id)

                # X moves it to the trash; the cursor lands on the card that took its place
                page.keyboard.press("x")
                page.get_by_text("Moved 1 clip to the trash.").wait_for()
                assert short.clip_id not in {c.clip_id for c in ds.clips()}
                assert short.clip_id in {c.clip_id for c in ds.trashed()}
                page.get_by_text("3 of 3 clips match").wait_for()
                rest = [i for i in order if i != short.clip_id]
                _wait_cursor(page, rest[min(at, len(rest) - 1)])

                # U undoes the move: the clip is back, on disk and on the page
                page.keyboard.press("u")
                page.get_by_text("✓ Restored 1 clip.").wait_for()
                assert short.clip_id in {c.clip_id for c in ds.clips()}
                page.get_by_text("4 of 4 clips match").wait_for()
                assert len(_cursor(page)) == 1
            finally:
                browser.close()
