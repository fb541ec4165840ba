"""Train (4) and Evaluate (5) pages driven through Streamlit's AppTest, with real runs on disk.

One test trains the real tiny model from the Start button and follows it to the Evaluate page; the others
use the stand-in trainer (tests/jobs_standin_trainer.py) for the live panel, Stop and Resume.
"""

from __future__ import annotations

import urllib.request

import pytest
from apptest_support import open_app, rerun, texts
from conftest import ROOT
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_for
from streamlit.testing.v1 import AppTest

from voxstudio import models, workspace
from voxstudio.runs import dashboard, queue, runfolder, tracking
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
    steps = next(d.value for d in at.dataframe if "grad-norm" in d.value.columns)  # from Trackio, newest first
    assert list(steps["step"])[:2] == [20, 19] and steps["loss"].notna().all()
    assert "Trainer: loss " in "\n".join(c.value for c in at.code)  # the Trainer's dicts, as named values
    at.button(key="train_trackio_tiny-page").click().run()  # a real `trackio show` for this home
    try:
        link = next(m.value for m in at.markdown if "Open the Trackio dashboard of project `voice`" in m.value)
        url = link.split("](", 1)[1].split(")", 1)[0]
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200 and "project=voice" in url
    finally:
        dashboard.stop_dashboard()

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


def _flat(node):
    """Every element of the page in the order a user reads it."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _flat(child)


def _position(at, predicate) -> int:
    return next(n for n, e in enumerate(_flat(at.main)) if predicate(e))


def _start(at, name: str, steps: int) -> None:
    at.number_input(key="train_steps_tiny_tiny").set_value(steps).run()
    at.text_input(key="train_run_name_voice").set_value(name).run()
    at.button(key="train_start").click().run()
    assert f"Run {name} queued" in texts(at)


def test_the_live_panel_follows_the_running_run_while_another_is_queued(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    make_dataset("voice", 3)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    _start(at, "first", 600)
    wait_for("first", "running", step_at_least=1)
    _start(at, "second", 500)  # queued behind the first: the panel must not jump to it
    rerun(at)
    shown = texts(at)
    assert "Run `first`: 🏃 running" in shown and "Run `second`" not in shown
    assert "place 1 in the queue" in shown  # its row in the list of runs (the live panel says the rest)
    live = _position(at, lambda e: getattr(e, "type", "") == "markdown" and "Run `first`" in str(e.value))
    form = _position(at, lambda e: getattr(e, "type", "") == "subheader" and e.value == "Model and method")
    assert live < form, "the live panel comes before the settings form"

    at.selectbox(key="train_live_pick").set_value("second").run()  # the user's pick sticks…
    assert "Run `second`: ⏳ queued" in texts(at)
    rerun(at)
    assert "Run `second`: ⏳ queued" in texts(at)
    at.selectbox(key="train_live_pick").set_value("first").run()  # …until they pick again
    assert "Run `first`: 🏃 running" in texts(at)

    linked = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT)  # Home's "Watch second on Train"
    linked.query_params.update({"dataset": "voice", "watch": "second"})
    linked.run()
    linked.switch_page(TRAIN).run()
    assert "Run `second`: ⏳ queued" in texts(linked)  # the link's run, not the one training
    assert "watch" not in linked.query_params  # taken once: the user's own pick decides from here
    linked.selectbox(key="train_live_pick").set_value("first").run()
    assert "Run `first`: 🏃 running" in texts(rerun(linked))

    at.button(key="train_stop_first").click().run()
    wait_for("first", "stopped", timeout=30)
    wait_for("second", "running", step_at_least=1)
    rerun(at)
    assert "Run `second`: 🏃 running" in texts(at)  # the first ended: the panel follows the one training now
    assert "place 1" not in texts(at).lower()


def test_history_says_how_long_and_how_well_and_use_these_settings_refills_the_form(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.001")
    make_dataset("voice", 3)
    queue.submit(new_config(run_name="past", dataset="voice", base_model="tiny", method="full", max_steps=37,
                            learning_rate=0.00123, seed=7))
    wait_for("past", "succeeded")
    at = app(TRAIN, "voice")
    table = at.dataframe[-1].value
    row = table[table["run"] == "past"].iloc[0]
    assert row["steps"] == "37/37" and row["final loss"] == f"{1 / 37:.4g}"
    assert row["duration"] not in ("", "–") and row["fine-tuned WER"] == "–"
    assert not table.isin(["None"]).any().any() and not table.isna().any().any()

    at.button(key="train_reuse").click().run()
    assert "Settings filled from run 'past'" in texts(at)
    assert at.selectbox(key="train_model").value == "tiny" and at.radio(key="train_method").value == "full"
    assert at.number_input(key="train_steps_tiny_tiny").value == 37
    assert at.number_input(key="train_lr_tiny_tiny_full").value == pytest.approx(0.00123)
    assert at.number_input(key="train_seed").value == 7
    at.text_input(key="train_run_name_voice").set_value("again").run()
    at.button(key="train_start").click().run()
    frozen = runfolder.read_json(runfolder.run_dir("again") / "config.json")
    assert (frozen["max_steps"], frozen["learning_rate"], frozen["seed"]) == (37, pytest.approx(0.00123), 7)


def test_presets_save_load_and_refuse_bad_names(standin):
    make_dataset("voice", 3)
    at = app(TRAIN, "voice")
    at.selectbox(key="train_model").set_value("tiny").run()
    at.number_input(key="train_steps_tiny_tiny").set_value(42).run()
    at.text_input(key="train_preset_name").set_value("Bad Name").run()
    at.button(key="train_save_preset").click().run()
    assert any("Preset name 'Bad Name' is not valid" in e.value for e in at.error)
    assert not (workspace.home() / "presets").exists()
    at.text_input(key="train_preset_name").set_value("tiny-42").run()
    at.button(key="train_save_preset").click().run()
    assert "Saved preset 'tiny-42'" in texts(at)
    at.button(key="train_save_preset").click().run()  # the same name again: asks to replace
    assert any("already exists" in e.value for e in at.error)
    (workspace.home() / "presets" / "broken.json").write_text('{"max_steps": -3}')

    fresh = app(TRAIN, "voice")  # another visit: the preset is on disk, the form at its defaults
    assert any("Preset 'broken' cannot be used" in w.value for w in fresh.warning)
    assert fresh.selectbox(key="train_saved_preset").options == ["tiny-42"]
    fresh.selectbox(key="train_saved_preset").set_value("tiny-42").run()
    fresh.button(key="train_load_preset").click().run()
    assert fresh.selectbox(key="train_model").value == "tiny"
    assert fresh.number_input(key="train_steps_tiny_tiny").value == 42
    assert "Settings filled from your preset 'tiny-42'" in texts(fresh)
