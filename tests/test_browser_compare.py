"""The Compare page in a real browser, on two real tiny runs (LoRA and full, same dataset).

The studio serves a copy of the session's trained home; Chromium opens /Compare, which picks the two evaluated
runs by itself: both names, the differing method, both curves (one chart line per run) and the per-utterance
sentence must be on screen. With VOXSTUDIO_UPDATE_SCREENSHOT=1 the screenshot becomes docs/compare.png.
"""

from __future__ import annotations

import os
import shutil

import pytest
from browser_support import ARGS, CHROMIUM, chromium, main_text, new_page, serve  # noqa: F401 - fixtures
from conftest import ROOT
from support_runs import FULL_RUN, LORA_RUN, finished_runs  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_compare_two_real_runs_in_chromium(chromium, finished_runs, tmp_path):  # noqa: F811 - fixtures
    shutil.copytree(finished_runs, tmp_path / "home", symlinks=True)
    shot = tmp_path / "compare.png"
    with serve(tmp_path, {}) as (url, _home, _log), chromium() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context, page = new_page(browser)
            context.set_default_timeout(60_000)
            page.set_viewport_size({"width": 1400, "height": 2200})  # Streamlit scrolls inside: a tall window
            page.goto(f"{url}/Compare")
            page.get_by_text("Per utterance").wait_for()
            page.locator("[data-testid=stVegaLiteChart]").first.wait_for()
            text = main_text(page)
            for needed in (LORA_RUN, FULL_RUN, "Settings", "Results", "Curves", "method", "fixed"):
                assert needed in text, (needed, text[:3000])
            assert page.locator("[data-testid=stVegaLiteChart]").count() >= 2  # loss and WER, both runs each
            page.get_by_text("Only differences").click()  # the settings that differ, and nothing else
            page.wait_for_function("() => !document.body.innerText.includes('warmup steps')")
            assert "learning rate" in main_text(page)
            page.screenshot(path=shot)
        finally:
            browser.close()
    if os.environ.get("VOXSTUDIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "compare.png")
