"""Train (4) and Evaluate (5) pages driven through Streamlit's AppTest, with real runs on disk.

One test trains the real tiny model from the Start button and follows it to the Evaluate page; the others
use the stand-in trainer (tests/jobs_standin_trainer.py) for the live panel, Stop and Resume.
"""

from __future__ import annotations

import pytest
from apptest_support import open_app, rerun, texts
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_for

from voxstudio import models, workspace
from voxstudio.runs import queue, runfolder, tracking
from voxstudio.runs import status as runstatus
from voxstudio.training import config
from voxstudio.training.config import new_config

TIMEOUT = 120
TRAIN = "pages/4_Train.py"
EVALUATE = "pages/5_Evaluate.py"


def app(page: str, dataset: str | None = None):
    """``page`` opened from Home, with the longer timeout real training needs."""
    return open_app(page, dataset, timeout=TIMEOUT)


@pytest.fixture
def standin(home, monkeypatch):
    use_standin_trainer(monkeypatch, step_s=0.05)
    yield home
    cleanup_home()


def test_pages_on_an_empty_workspace(home):
    train = app(TRAIN)
    assert "No dataset selected" in texts(train) and "No training run yet" in texts(train)
    evaluate = app(EVALUATE)
    assert "No evaluated run yet" in texts(evaluate)


def test_bad_settings_and_a_taken_run_name_change_nothing(standin):
    make_dataset("voice", 3)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    at.text_input(key="train_run_name_voice").set_value("Bad Name").run()
    assert "run name" in "\n".join(e.value for e in at.error)
    assert at.button(key="train_start").disabled
    assert runstatus.list_runs() == []

    queue.create_run(new_config(run_name="taken", dataset="voice", base_model="tiny", max_steps=3))
    at.text_input(key="train_run_name_voice").set_value("taken").run()
    # a used name is bumped, and the page says so: the old run's folder is never touched
    assert at.text_input(key="train_run_name_voice").value == "taken-2"
    assert "A run named 'taken' already exists, so this one will be 'taken-2'." in texts(at)
    assert [s.run for s in runstatus.list_runs()] == ["taken"]


def test_the_default_run_name_skips_used_names(standin):
    make_dataset("voice", 3)
    queue.create_run(new_config(run_name="voice-run-1", dataset="voice", base_model="tiny", max_steps=3))
    at = app(TRAIN, "voice")
    assert at.text_input(key="train_run_name_voice").value == "voice-run-2"


def test_switching_the_base_model_brings_its_method_and_learning_rate(standin):
    make_dataset("voice", 3)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    assert at.radio(key="train_method").value == "full"
    at.selectbox(key="train_model").set_value(models.DEFAULT_BASE_MODEL).run()
    assert at.radio(key="train_method").value == "lora"
    preset = at.radio(key="train_preset").value
    lr = next(n for n in at.number_input if n.key.startswith("train_lr_"))
    assert lr.value == pytest.approx(config.PRESETS[preset]["learning_rate"])  # LoRA's rate, not the tiny one
    at.radio(key="train_method").set_value("full").run()
    lr = next(n for n in at.number_input if n.key.startswith("train_lr_"))
    assert lr.value == pytest.approx(config.PRESETS[preset]["learning_rate"] * config.FULL_LR_FACTOR)
    at.selectbox(key="train_model").set_value("tiny").run()
    assert at.radio(key="train_method").value == "full"


def test_start_live_panel_stop_and_resume(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    make_dataset("voice", 3)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    at.number_input(key="train_steps_tiny_tiny").set_value(400).run()
    assert "voxstudio train --dataset voice --model tiny --method full" in at.code[0].value  # the CLI twin
    at.text_input(key="train_run_name_voice").set_value("page-run").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "page-run queued" in texts(at)
    assert (workspace.runs_dir() / "page-run" / "config.json").is_file()
    # a second click with the same settings under the suggested next name does not start a second run
    at.text_input(key="train_run_name_voice").set_value("page-run-2").run()
    at.button(key="train_start").click().run()
    assert "already queued or running as run 'page-run'" in texts(at)
    assert [s.run for s in runstatus.list_runs()] == ["page-run"]

    wait_for("page-run", "running", step_at_least=2)
    rerun(at)
    shown = texts(at)
    assert "Run `page-run`: 🏃 running" in shown
    assert any("step" in (p.proto.text or "") for p in at.get("progress"))
    assert "step 2/400" in "\n".join(c.value for c in at.code)  # last log lines

    at.button(key="train_stop_page-run").click().run()
    wait_for("page-run", "stopped", timeout=30)
    rerun(at)
    monkeypatch.setenv("STANDIN_STEP_S", "0.001")
    at.button(key="train_resume_page-run").click().run()
    assert wait_for("page-run", "succeeded").step == 400


def test_tiny_run_from_the_start_button_to_the_evaluate_page(home):
    """The real trainer: Start → succeeded, loss in Trackio, history row, then the Evaluate page."""
    make_dataset("voice", 6)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    at.number_input(key="train_steps_tiny_tiny").set_value(20).run()
    at.number_input(key="train_eval_tiny_tiny").set_value(10).run()
    at.text_input(key="train_run_name_voice").set_value("tiny-page").run()
    at.button(key="train_start").click().run()
    try:
        done = wait_for("tiny-page", ("succeeded", "failed", "crashed"), timeout=300)
    finally:
        cleanup_home()
    assert done.state == "succeeded", "\n".join(runstatus.read_log("tiny-page", 40))
    loss = tracking.series("voice", "tiny-page")["train/loss"]
    assert len(loss) >= 10 and all(v > 0 for _, v in loss)

    rerun(at)
    history = at.dataframe[-1].value
    assert list(history["run"]) == ["tiny-page"] and list(history["state"]) == ["succeeded"]
    assert at.get("vega_lite_chart"), "loss chart"

    ev = app(EVALUATE, "voice")
    shown = texts(ev)
    assert "Baseline WER" in shown and "Fine-tuned WER" in shown
    results = runfolder.read_json(runfolder.run_dir("tiny-page") / "eval_results.json")
    table = ev.dataframe[0].value
    assert list(table["clip"]) == [u["clip_id"] for u in results["utterances"]]
    clip = results["utterances"][0]["clip_id"]
    ev.toggle(key=f"eval_listen_tiny-page_{clip}").set_value(True).run()
    assert not ev.exception
    assert ev.get("audio"), "the clip plays"
