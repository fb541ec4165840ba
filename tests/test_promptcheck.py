"""Did you read the prompt? The real mechanism with the built-in tiny model: a saved take is transcribed on the
checker's background thread (torch imported there, not by the page), scored against its prompt and flagged when
the CER passes the language's limit; the result is saved beside the dataset. The tiny model's weights are random,
so what it "hears" is noise: a take whose prompt is that very transcript passes, any real sentence is flagged —
the rule, not the model, is under test. Plus the rule itself and which machines run the check."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from voxstudio.data.dataset import Dataset
from voxstudio.runs import hardware
from voxstudio.studio import promptcheck


def test_the_rule_and_the_limits():
    assert promptcheck.limit("en") == promptcheck.CER_LIMIT and promptcheck.limit("pt-br") == promptcheck.CER_LIMIT
    assert promptcheck.limit("pl") == promptcheck.CER_LIMIT_OTHER
    right = promptcheck.judge("Lock the front door.", "lock the front door", "en")
    assert not right["flagged"] and right["cer"] == 0.0 and right["message"] == ""
    close = promptcheck.judge("Lock the front door.", "lock the front floor", "en")
    assert not close["flagged"] and 0 < close["cer"] < promptcheck.CER_LIMIT
    wrong = promptcheck.judge("Lock the front door.", "what time is it", "en")
    assert wrong["flagged"] and wrong["cer"] > promptcheck.CER_LIMIT
    assert wrong["message"].startswith("You said “what time is it” — that is not the phrase")


def test_which_machines_run_the_check(monkeypatch):
    monkeypatch.delenv(promptcheck.ENV, raising=False)
    hardware.detect.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: a CPU-only machine
    try:
        off = promptcheck.setting()
        assert off.model is None and "needs a GPU" in off.reason
    finally:
        hardware.detect.cache_clear()
    monkeypatch.setenv(promptcheck.ENV, "off")
    assert promptcheck.setting().model is None
    monkeypatch.setenv(promptcheck.ENV, "tiny")
    assert promptcheck.setting().model == "tiny"


def test_importing_the_checker_loads_no_torch():
    code = "import sys; import voxstudio.studio.promptcheck, voxstudio.studio.recorder; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


@pytest.mark.slow
def test_the_tiny_model_flags_a_take_of_the_wrong_phrase(home, clips):
    ds = Dataset.create("check", languages=["en"], speaker="Ada")
    rows = [c for c in clips if c["audio_path"].startswith("en/stp_")][:2]
    ds.set_phrases([{"phrase_id": f"p{i}", "text": r["text"], "language": "en"} for i, r in enumerate(rows)])
    wrong_phrase = ds.phrases()[1]  # the take is of rows[0], saved as phrase 2: the wrong sentence
    clip, _ = ds.add_take(rows[0]["path"], wrong_phrase)

    checker = promptcheck.Checker("tiny")  # the real path: inference.load_transcriber on its own thread
    checker.submit(ds.path, clip.clip_id, ds.audio_path(clip), clip.text, clip.language, clip.phrase_id)
    assert checker.state(ds.path, clip.clip_id) == {"state": "pending"}
    assert checker.wait(600), "the tiny model did not transcribe in time"
    done = checker.state(ds.path, clip.clip_id)
    assert done["state"] == "done", done
    assert done["flagged"] and done["cer"] > promptcheck.limit("en") and done["model"] == "tiny"
    assert done["message"].startswith("You said “")
    assert promptcheck.results(ds.path)[clip.clip_id]["flagged"] is True  # saved beside the dataset

    # The same audio with what the model heard as its prompt: the check passes (the limit, not the model, decides).
    heard = done["heard"]
    checker.submit(ds.path, "same-audio", ds.audio_path(clip), heard, "en")
    assert checker.wait(600)
    again = checker.state(ds.path, "same-audio")
    assert again["state"] == "done" and again["heard"] == heard and again["cer"] == 0.0 and not again["flagged"]
