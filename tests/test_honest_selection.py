"""Honest selection and claims: which weights a run keeps, and what the pages and the card may say about them.

The rule (``voxstudio.training.scoring``): an evaluation is kept as "best" only when its WER is <= the best so
far, which starts at the base model's WER (ties go to the later checkpoint); below ``MIN_HELD_OUT`` scored clips
nothing is chosen and the run keeps its final weights; a model worse than its base is never called best, and
the Train, Evaluate and Publish pages and the model card say so, and how many clips the WER rests on.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from apptest_support import open_app, open_page, rerun, texts
from hubserver import HubServer

from voxstudio.publish import card
from voxstudio.runs import runfolder
from voxstudio.training import scoring
from voxstudio.training.config import RunConfig, new_config
from voxstudio.training.evaluate import eval_results
from voxstudio.training.selection import ClipRef

REFERENCE = "lock the front door"  # 4 words: k wrong words = a WER of k/4


def _row(clip: str, wrong: int) -> dict:
    words = REFERENCE.split()
    hyp = " ".join(["x"] * wrong + words[wrong:])
    return {"clip_id": clip, "reference": REFERENCE, "hypothesis": hyp, "language": "en",
            "wer": scoring.wer(REFERENCE, hyp), "cer": scoring.cer(REFERENCE, hyp), "stopped_by_eos": True,
            "audio_path": f"/nowhere/{clip}.wav"}


def _rows(n: int, wer: float) -> list[dict]:
    return [_row(f"c{i}", round(wer * 4)) for i in range(n)]


# ----------------------------------------------------------------------------------------- the rule, pure

def test_ties_go_to_the_later_checkpoint_and_the_base_is_the_bar():
    assert scoring.keeps(0.5, 0.5)  # a tie with the best so far (at first: the base model) is kept
    assert scoring.keeps(0.25, 0.5) and not scoring.keeps(0.75, 0.5)
    assert scoring.chooses_checkpoints(scoring.MIN_HELD_OUT) and not scoring.chooses_checkpoints(4)
    assert scoring.MIN_HELD_OUT == 5


def test_choice_records_how_the_output_was_chosen():
    assert scoring.choice(35, True, 0.5, 0.25, best_step=200) == {
        "selected_by": "best held-out WER", "worse_than_base": False, "wer_clips": 35, "selection_bias": True,
        "best_step": 200}
    small = scoring.choice(1, False, 0.5, 0.75, best_step=0)
    assert small["selected_by"] == "final weights (held-out set of 1 < 5 clips)"
    assert small["worse_than_base"] and not small["selection_bias"] and small["best_step"] is None
    none = scoring.choice(6, False, 0.25, 0.5)
    assert none["selected_by"] == "final weights (no checkpoint beat the base)" and none["worse_than_base"]
    assert scoring.choice(6, True, 0.5, 0.5, held_out=False)["selected_by"].startswith("best WER on the training")


def test_outcome_of_a_run_recorded_before_the_rule_is_worked_out():
    legacy = eval_results(_rows(3, 0.25), _rows(3, 0.5))  # no selected_by / worse_than_base fields
    claims = scoring.outcome(legacy)
    assert claims.worse_than_base and claims.wer_clips == 3 and claims.too_few and claims.selected_by == ""
    assert claims.rests_on == "3 held-out clips"
    assert "worse than the base model" in claims.worse_sentence() and "3 held-out clips" in claims.worse_sentence()
    one = scoring.outcome({**eval_results(_rows(1, 0.5), _rows(1, 0.25)), "note": "no held-out clips"})
    assert one.rests_on == "1 training clip" and not one.worse_than_base and "1 training clip" in \
        one.few_clips_sentence()


# ----------------------------------------------------------------------------- the callback's decision

def _callback(tmp_path, monkeypatch, n_clips: int, baseline_wer: float):
    from voxstudio.training import callback as cb

    queue: list[float] = []
    monkeypatch.setattr(cb, "Transcriber", lambda *a, **k: None)
    monkeypatch.setattr(cb, "transcribe_clips", lambda transcriber, refs, *a, **k: _rows(len(refs), queue.pop(0)))
    saved: list[int] = []
    refs = [ClipRef(f"c{i}", f"/nowhere/c{i}.wav", REFERENCE, "en") for i in range(n_clips)]
    callback = cb.RunCallback(tmp_path, RunConfig(dataset="d"), None, refs, _rows(n_clips, baseline_wer),
                              save_model=lambda model, folder, meta=None: saved.append(meta["step"]),
                              best_dir=tmp_path / "best", should_stop=lambda: False, log=lambda line: None)
    return callback, queue, saved


def _feed(callback, queue, wers: list[float]) -> None:
    import torch

    model = torch.nn.Linear(1, 1)
    for i, wer in enumerate(wers, start=1):
        queue.append(wer)
        assert callback.evaluate(model, SimpleNamespace(global_step=100 * i))


def test_callback_keeps_the_latest_of_equal_wers(tmp_path, monkeypatch):
    callback, queue, saved = _callback(tmp_path, monkeypatch, n_clips=5, baseline_wer=0.5)
    _feed(callback, queue, [0.5, 0.75, 0.5, 0.25, 0.25, 0.5])
    assert saved == [100, 300, 400, 500]  # the tie with the base, a later tie, a better one, a later tie
    assert callback.best_step == 500 and callback.best == 0.25
    assert runfolder.read_status(tmp_path)["best_wer"] == 0.25
    assert json.loads((tmp_path / "best.json").read_text())["step"] == 500


def test_callback_never_calls_a_checkpoint_worse_than_the_base_best(tmp_path, monkeypatch):
    callback, queue, saved = _callback(tmp_path, monkeypatch, n_clips=6, baseline_wer=0.25)
    _feed(callback, queue, [0.5, 0.75, 0.5])
    assert saved == [] and callback.best_rows is None
    status = runfolder.read_status(tmp_path)
    assert status["best_wer"] is None and status["last_wer"] == 0.5 and status["eval_clips"] == 6


def test_callback_chooses_nothing_on_fewer_than_five_clips(tmp_path, monkeypatch):
    callback, queue, saved = _callback(tmp_path, monkeypatch, n_clips=4, baseline_wer=0.75)
    _feed(callback, queue, [0.25, 0.0])  # better than the base, but 4 clips cannot tell checkpoints apart
    assert saved == [] and callback.best_rows is None and callback.bad_evals == 0  # still paces early stopping
    assert runfolder.read_status(tmp_path)["best_wer"] is None


# ------------------------------------------------------------------- a worse-than-base run on the pages

def _finished_run(run: str, n_clips: int, baseline_wer: float, finetuned_wer: float) -> dict:
    """A finished LoRA run folder as the trainer leaves it when no checkpoint matched the base (no model is
    trained: the weights file is a stand-in, the results are what the trainer would record)."""
    folder = runfolder.run_dir(run)
    (folder / runfolder.OUTPUT).mkdir(parents=True)
    new_config(run_name=run, dataset="voice", base_model="tiny", method="lora").save(folder / runfolder.CONFIG)
    (folder / runfolder.OUTPUT / runfolder.ADAPTER_CONFIG).write_text("{}")
    (folder / runfolder.OUTPUT / "adapter_model.safetensors").write_bytes(b"stand-in")
    doc = eval_results(_rows(n_clips, baseline_wer), _rows(n_clips, finetuned_wer))
    chosen = scoring.choice(n_clips, False, doc["baseline"]["wer"], doc["finetuned"]["wer"])
    runfolder.write_json_atomic(folder / runfolder.EVAL_RESULTS, {**doc, **chosen})
    runfolder.write_json_atomic(folder / runfolder.TRAIN_RESULTS, {"global_step": 300, **chosen})
    # best_wer as an older trainer wrote it (the output's WER): the pages must still not call it best
    runfolder.write_status(folder, state="succeeded", phase="done", step=300, total_steps=300,
                           baseline_wer=baseline_wer, best_wer=finetuned_wer, finetuned_wer=finetuned_wer, **chosen)
    return chosen


def test_worse_than_base_on_the_train_and_evaluate_pages(home):
    _finished_run("worse", 6, 0.25, 0.5)
    train = texts(open_app("pages/4_Train.py"))
    assert "Best WER so far" not in train and "Last WER" in train
    assert "Done: WER 25.0% → 50.0% on 6 held-out clips. The fine-tuned model is worse than the base model" in train
    assert "Output: final weights (no checkpoint beat the base)." in train

    ev = open_app("pages/5_Evaluate.py")
    warnings = [w.value for w in ev.warning]
    assert any("worse than the base model" in w and "do not publish" in w for w in warnings), warnings
    assert "These rates rest on 6 held-out clips. Output: final weights (no checkpoint beat the base)." in texts(ev)
    assert "best" not in " ".join(m.label.lower() for m in ev.metric)


def test_few_held_out_clips_are_said_on_the_evaluate_page(home):
    _finished_run("tiny-set", 1, 0.5, 0.25)
    ev = open_app("pages/5_Evaluate.py")
    assert any("rests on 1 held-out clip: too few" in w.value for w in ev.warning)
    assert "final weights (held-out set of 1 < 5 clips)" in texts(ev)
    assert not any("worse than the base" in w.value for w in ev.warning)


def test_publish_page_warns_before_anything_is_pushed(home, monkeypatch):
    with HubServer() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        _finished_run("worse", 6, 0.25, 0.5)
        at = open_page("pages/6_Publish.py", timeout=120)
        at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
        rerun(at)
        warnings = [w.value for w in at.warning]
        assert any("worse than the base model: WER 50.0% against 25.0% on 6 held-out clips" in w
                   and "would not improve" in w for w in warnings), warnings
        assert "WER measured on 6 held-out clips. Output: final weights (no checkpoint beat the base)." in texts(at)
        assert not [b for b in at.button if b.key == "pub_push"]  # nothing can be pushed yet: the warning comes first
        assert not hub.repos


def test_the_card_of_a_worse_than_base_run_says_so(home):
    _finished_run("worse", 6, 0.25, 0.5)
    text = card.render_model_card(runfolder.run_dir("worse"), artifact="adapter")
    assert "**Warning: The fine-tuned model is worse than the base model: WER 50.0% against 25.0% on 6 held-out " \
           "clips. Use the base model rather than this one.**" in text
    assert "How the published weights were chosen: final weights (no checkpoint beat the base)." in text
    assert "Fine-tuned WER on 6 held-out clips: 50.0%" in text
    assert "best" not in text.split("## Results")[1].split("## Hyperparameters")[0].lower()


# ------------------------------------------------------------------------------------ the real trainer

@pytest.mark.slow
def test_a_one_clip_held_out_set_keeps_the_final_weights(home):
    """4 phrases, eval fraction 0.1: 1 held-out clip. Evaluations every 4 steps (one token each, so they tie or
    differ by luck) must choose nothing: the output is the step-12 weights, and the card says what WER rests on."""
    import torch
    from safetensors.torch import load_file
    from train_helpers import english_rows, make_dataset, make_run, run_trainer

    make_dataset("four", english_rows(4))
    run = make_run("one-clip", "four", method="full", max_steps=12, eval_every=4, max_new_tokens=1)
    proc = run_trainer(run, timeout=600)
    log = (run / runfolder.LOG).read_text()
    assert proc.returncode == 0, log[-3000:]
    assert len(re.findall(r"step \d+: WER", log)) == 3  # it did evaluate: there was something to choose from

    results = json.loads((run / runfolder.EVAL_RESULTS).read_text())
    assert results["wer_clips"] == 1 and results["selected_by"] == "final weights (held-out set of 1 < 5 clips)"
    train_results = json.loads((run / runfolder.TRAIN_RESULTS).read_text())
    assert train_results["selected_by"] == results["selected_by"] and train_results["best_step"] is None
    status = runfolder.read_status(run)
    assert status["best_wer"] is None and status["selected_by"] == results["selected_by"]
    assert status["worse_than_base"] == results["worse_than_base"]
    assert not (run / runfolder.CHECKPOINTS / "best").exists()
    final = load_file(str(run / runfolder.CHECKPOINTS / "checkpoint-12" / "model.safetensors"))
    output = load_file(str(run / runfolder.OUTPUT / "model.safetensors"))
    assert final.keys() == output.keys() and all(torch.equal(final[k], output[k]) for k in final)

    text = card.render_model_card(run, artifact="full")
    assert "Fine-tuned WER on 1 held-out clip:" in text
    assert "The WER rests on 1 held-out clip: too few (under 5)" in text
    assert "How the published weights were chosen: final weights (held-out set of 1 < 5 clips)." in text
