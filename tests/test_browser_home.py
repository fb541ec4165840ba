"""Home in real Chromium: the Training section follows a running run by itself (no reload), and when the run
ends the page stops saying it trains."""

from __future__ import annotations

import re
import time

import pytest
from browser_support import ARGS, CHROMIUM, WAIT_MS, chromium, serve  # noqa: F401 - shared fixtures
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_for

from voxstudio.runs import queue
from voxstudio.training.config import new_config

pytestmark = pytest.mark.browser
STEP_RE = re.compile(r"first is training: step (\d+) / 40")


def test_home_training_section_refreshes_by_itself(chromium, tmp_path, monkeypatch):  # noqa: F811
    sync_playwright = chromium
    with serve(tmp_path, {}) as (url, home, _log):
        monkeypatch.setenv("VOXSTUDIO_HOME", str(home))
        use_standin_trainer(monkeypatch, step_s=0.4)
        try:
            make_dataset("voice", 3)
            queue.submit(new_config(run_name="first", dataset="voice", base_model="tiny", max_steps=40))
            wait_for("first", "running", step_at_least=1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.set_default_timeout(WAIT_MS)
                    page.goto(url)
                    main = page.get_by_test_id("stMain")
                    page.get_by_text(STEP_RE).wait_for()
                    first_step = int(STEP_RE.search(main.inner_text()).group(1))
                    assert "first is training: watch it on Train." in main.inner_text()  # the next step
                    seen = {first_step}
                    deadline = time.monotonic() + 60
                    while len(seen) < 3:  # the bar moves on without any reload or click
                        found = STEP_RE.search(main.inner_text())
                        if found:
                            seen.add(int(found.group(1)))
                        assert time.monotonic() < deadline, f"the Training section stayed at steps {seen}"
                        page.wait_for_timeout(500)
                    wait_for("first", "succeeded", timeout=60)
                    page.get_by_text("No run yet: step 4 trains one.").wait_for()  # the ended run: polling stops
                    assert "is training" not in main.inner_text()
                finally:
                    browser.close()
        finally:
            cleanup_home()
