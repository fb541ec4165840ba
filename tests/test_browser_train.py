"""The training journey in a real browser: Start a tiny run on the Train page, watch it live, read the results.

The studio runs as users start it (``streamlit run Home.py``) with a dataset imported through the CLI. In
Chromium we start a short full fine-tune of the tiny in-code Voxtral, and watch the live panel refresh by
itself (no reload): the step counter grows, train.log lines appear, the run reaches ``succeeded`` with a loss
chart and the WER before → after. The "Go to 5 · Evaluate" link then shows the per-utterance table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from browser_support import ARGS, CHROMIUM, WAIT_MS, chromium, studio  # noqa: F401 - shared fixtures
from conftest import ROOT, speech_manifest

pytestmark = pytest.mark.browser

DATASET = "voice"
RUN = "voice-run-1"
CLIPS = 8  # short English commands: enough for a train/eval split, small enough to train in seconds
STEPS = 120  # the panel refreshes every 2 s: enough steps that even a fast machine shows it mid-way
EVAL_EVERY = 60
RUN_TIMEOUT_S = 240  # generous for a loaded CI machine; a quiet one needs well under a minute
STEP_RE = re.compile(r"step (\d+) / (\d+)")
# train.log lines with a loss: our progress line or the Trainer's own log dict (which comes first varies
# with machine speed, since our progress line is written every few seconds).
LOG_RE = re.compile(r"step \d+/\d+ loss|Trainer: loss \d")


def _import_dataset(home, tmp_path) -> list[dict]:
    """A few real clips imported with the CLI, as a user who already has recordings would."""
    rows = [r for r in speech_manifest("clips") if r["language"] == "en"][:CLIPS]
    source = tmp_path / "recordings"  # the importer only reads files under the manifest's folder
    source.mkdir()
    for r in rows:
        shutil.copy(r["path"], source / r["path"].name)
    manifest = source / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio_path": r["path"].name, "text": r["text"],
                                            "language": r["language"]}) + "\n" for r in rows))
    done = subprocess.run([sys.executable, "-m", "voxstudio", "--home", str(home), "dataset", "import",
                           str(manifest), "--name", DATASET], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return rows


def _set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label)
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_timeout(400)


def _fit_and_shoot(page, path) -> None:
    """A full-page shot of Streamlit's scrolling main area (the window itself never scrolls)."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(max(900, height + 40), 6000)})
    page.wait_for_timeout(500)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_train_tiny_run_live_then_evaluate(chromium, studio, tmp_path):  # noqa: F811 - fixtures by name
    sync_playwright = chromium
    url, home = studio
    rows = _import_dataset(home, tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{url}/Train?dataset={DATASET}")
            page.get_by_text("No training run yet").wait_for()

            page.get_by_label("Base model").click()
            page.get_by_role("option", name=re.compile("^tiny")).click()
            page.get_by_text("Advanced settings").click()
            _set_number(page, "Max steps", STEPS)
            _set_number(page, "Evaluate WER every N steps", EVAL_EVERY)
            page.get_by_text(f"--max-steps {STEPS}", exact=False).wait_for()  # the CLI twin follows the form
            page.get_by_role("button", name="Start training").click()
            page.get_by_text(f"Run {RUN} queued", exact=False).wait_for()

            # The panel refreshes on its own: record what it shows until the run ends, never reloading.
            main = page.get_by_test_id("stMain")
            steps_seen: list[int] = []
            live_shot = shots / "train_live.png"
            log_seen = False
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while True:
                text = main.inner_text()
                found = STEP_RE.search(text)
                if found:
                    assert int(found.group(2)) == STEPS, found.group(0)
                    if not steps_seen or int(found.group(1)) != steps_seen[-1]:
                        steps_seen.append(int(found.group(1)))
                log_seen = log_seen or bool(LOG_RE.search(text))
                if not live_shot.exists() and steps_seen and 0 < steps_seen[-1] < STEPS and "Latest steps" in text:
                    # the live section comes first: above the settings form, while the run trains
                    top = page.get_by_text("Training now").bounding_box()
                    form = page.get_by_text("Model and method").bounding_box()
                    assert top and form and top["y"] < form["y"], (top, form)
                    page.set_viewport_size({"width": 1280, "height": 1500})
                    page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
                    page.wait_for_timeout(300)
                    page.screenshot(path=live_shot)
                    page.set_viewport_size({"width": 1280, "height": 900})
                if f"Run {RUN}: ✅ succeeded" in text:
                    break
                assert not re.search(rf"Run {RUN}: \S+ (failed|crashed|stopped)", text), text[-3000:]
                assert time.monotonic() < deadline, f"no success in {RUN_TIMEOUT_S} s:\n{text[-3000:]}"
                page.wait_for_timeout(700)

            assert steps_seen == sorted(steps_seen) and steps_seen[-1] == STEPS, steps_seen
            assert any(0 < step < STEPS for step in steps_seen), f"no refresh showed the run mid-way: {steps_seen}"
            assert log_seen, "train.log lines with the step and loss appeared while it ran"
            assert live_shot.exists(), "the live section with its latest steps was seen mid-run"
            page.get_by_text(f"step {STEPS} / {STEPS}").wait_for()
            done = page.get_by_text(re.compile(r"^Done: WER \d+\.\d% → \d+\.\d% on \d+ held-out clips?\."))
            done.wait_for()
            assert page.get_by_text("Training loss").count() == 1
            page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length >= 2")
            history = page.get_by_test_id("stDataFrame").last.locator("td")
            history.first.wait_for(state="attached")
            page.wait_for_timeout(500)
            assert RUN in history.all_text_contents() and "succeeded" in history.all_text_contents()
            page.get_by_text("Training now").wait_for(state="detached")  # the run ended: the page redrew once
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')")
            train_shot = shots / "train.png"
            _fit_and_shoot(page, train_shot)

            # The finished page is still: no refresh timer is left ticking once the run has ended.
            before = main.inner_text()
            page.wait_for_timeout(2500)
            assert main.inner_text() == before

            # Next step: the per-utterance comparison on the Evaluate page.
            page.get_by_role("link", name=re.compile("Go to 5 · Evaluate")).click()
            page.get_by_text(re.compile(r"^Per utterance \(\d+\)")).wait_for()
            results = json.loads((home / "runs" / RUN / "eval_results.json").read_text())
            references = [u["reference"] for u in results["utterances"]]
            assert references and set(references) <= {r["text"] for r in rows}
            cells = page.get_by_test_id("stDataFrame").first.locator("td")
            cells.first.wait_for(state="attached")
            page.wait_for_timeout(500)
            shown = cells.all_text_contents()
            for reference in references:
                assert reference in shown, shown
            page.get_by_text("Fine-tuned WER").first.wait_for()
            _fit_and_shoot(page, shots / "evaluate.png")
        finally:
            browser.close()
    docs = ROOT / "docs"
    if docs.is_dir() and os.environ.get("VOXSTUDIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(train_shot, docs / "train.png")
        shutil.copy(live_shot, docs / "train_live.png")
