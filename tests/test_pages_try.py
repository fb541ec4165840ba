"""Page 7 (Try) through AppTest on a real finished tiny run: loading says so, models stay loaded between clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import support_runs
from apptest_support import button, open_page, rerun, texts

from voxstudio.runs import models as runmodels

finished_runs = support_runs.finished_runs  # fixtures: trained tiny runs (session) and a private copy
runs_home = support_runs.runs_home


def _upload_and_go(at, wav: str):
    at.file_uploader(key="try_upload").upload(Path(wav).name, Path(wav).read_bytes(), "audio/wav")
    rerun(at)
    button(at, "try_go").click()
    return rerun(at)


@pytest.mark.slow
def test_try_loads_each_model_once_and_says_so(runs_home, monkeypatch):
    calls = {"base": 0, "finetuned": 0}
    real_base, real_finetuned = runmodels.load_base, runmodels.load_finetuned

    def counting(kind, real):
        def load(models):
            calls[kind] += 1
            return real(models)
        return load

    monkeypatch.setattr(runmodels, "load_base", counting("base", real_base))
    monkeypatch.setattr(runmodels, "load_finetuned", counting("finetuned", real_finetuned))
    (first_text, first), (second_text, second) = sorted(runs_home.train_texts.items())[:2]

    at = open_page("pages/7_Try.py", timeout=180)
    at.selectbox(key="try_run").select("pub-full")
    at.selectbox(key="try_language").select("en")
    rerun(at)
    _upload_and_go(at, first)
    assert not at.error, [e.value for e in at.error]
    shown = texts(at)
    assert "Loading the base model (tiny) — first time takes up to ~30 s" in shown
    assert "Loading the fine-tuned model (full fine-tune of `pub-full`)" in shown
    assert [s.label for s in at.status] == ["Base model: model loaded (kept loaded for the next clip)",
                                            "Fine-tuned model: model loaded (kept loaded for the next clip)"]
    timings = [c.value for c in at.caption if "transcribed in" in c.value]
    assert len(timings) == 2 and all(t.startswith("loaded in ") for t in timings), timings
    assert "kept loaded for the next clip" in shown
    assert f"> {first_text}" in [m.value for m in at.markdown]
    assert calls == {"base": 1, "finetuned": 1}

    _upload_and_go(at, second)  # the next clip: nothing loads again
    assert not at.error, [e.value for e in at.error]
    timings = [c.value for c in at.caption if "transcribed in" in c.value]
    assert len(timings) == 2 and all(t.startswith("already loaded · transcribed in ") for t in timings), timings
    assert f"> {second_text}" in [m.value for m in at.markdown]
    assert calls == {"base": 1, "finetuned": 1}
