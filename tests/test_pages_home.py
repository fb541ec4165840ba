"""Home's Training section through AppTest: a real running run (the stand-in trainer under the supervisor), a
queued one with its place, the last finished run's result, and the next step that follows the runs."""

from __future__ import annotations

import pytest
from apptest_support import open_app, texts
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_for

from voxstudio.runs import queue, runfolder
from voxstudio.studio import home as home_view
from voxstudio.studio import wizard
from voxstudio.training.config import new_config


@pytest.fixture
def standin(home, monkeypatch):
    use_standin_trainer(monkeypatch, step_s=0.2)
    yield home
    cleanup_home()


def _finished_run(name: str, baseline: float, finetuned: float, n: int = 6) -> None:
    """A run folder as the trainer leaves it: succeeded, weights in output/, eval_results.json."""
    folder = queue.create_run(new_config(run_name=name, dataset="voice", base_model="tiny", max_steps=1 + n))
    (folder / runfolder.OUTPUT).mkdir(exist_ok=True)
    (folder / runfolder.OUTPUT / "adapter_config.json").write_text("{}")
    (folder / runfolder.OUTPUT / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    runfolder.write_json_atomic(folder / runfolder.EVAL_RESULTS, {
        "baseline": {"wer": baseline, "n": n}, "finetuned": {"wer": finetuned, "n": n}, "wer_clips": n,
        "worse_than_base": finetuned > baseline, "selected_by": "best held-out WER"})
    runfolder.write_status(folder, state="succeeded", phase="done", step=n, total_steps=n)
    assert runfolder.finished(folder)


def test_home_shows_the_running_and_queued_runs_first(standin):
    make_dataset("voice", 3)
    queue.submit(new_config(run_name="first", dataset="voice", base_model="tiny", max_steps=400))
    wait_for("first", "running", step_at_least=2)
    queue.submit(new_config(run_name="second", dataset="voice", base_model="tiny", max_steps=401))
    at = open_app()
    shown = texts(at)
    bars = [p.proto.text for p in at.get("progress")]
    assert len(bars) == 1 and bars[0].startswith("**first** is training: step ") and " / 400 · ETA " in bars[0]
    assert " · loss 0." in bars[0]
    assert "**second** is queued: place 1 in this studio's queue, 1 training now." in shown
    links = [p.proto.label for p in at.get("page_link")]
    assert "Watch first on 4 · Train →" in links and "Watch second on 4 · Train →" in links
    queries = {p.proto.label: p.proto.query_string for p in at.get("page_link")}
    assert "watch=second" in queries["Watch second on 4 · Train →"]  # Train opens on that run (test_pages_train)
    assert "watch=first" in queries["Watch first on 4 · Train →"]
    assert "**4 · Train**: `first` is training: watch it on Train." in shown
    assert shown.index("Training") < shown.index("Next step")


def test_home_shows_the_last_result_and_points_to_evaluate(home):
    make_dataset("voice", 3)
    _finished_run("worse", baseline=0.25, finetuned=0.5)
    at = open_app()
    shown = texts(at)
    assert ("**Last finished run:** `worse`: WER 25.0% (base) → 50.0% (fine-tuned) on 6 held-out clips, worse "
            "than the base (+25.0 points).") in shown
    assert any("worse than the base model" in w.value for w in at.warning)
    assert "See worse on 5 · Evaluate →" in [p.proto.label for p in at.get("page_link")]
    assert "**5 · Evaluate**: `worse` has finished" in shown


def test_home_without_runs_keeps_the_dataset_advice(home):
    make_dataset("voice", 3)
    shown = texts(open_app())
    assert "No run yet: step 4 trains one." in shown
    assert "**3 · Review**: Review the 3 clips of 'voice', then train." in shown


def test_a_run_finished_long_ago_leaves_the_dataset_advice(home):
    make_dataset("voice", 3)
    _finished_run("old", baseline=0.5, finetuned=0.25)
    finished = home_view.last_finished()
    summaries = [wizard.dataset_summary("voice")]
    assert home_view.next_step(summaries, [], finished, now=finished.finished_at + 60)[0] == 5
    later = finished.finished_at + home_view.JUST_FINISHED_S + 1
    assert home_view.next_step(summaries, [], finished, now=later) == wizard.next_step(summaries)
