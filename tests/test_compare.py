"""voxstudio.runs.compare on hand-built runs: fixed/broke counting, the shared clips, settings differences."""

from __future__ import annotations

from voxstudio.runs import compare
from voxstudio.runs.compare import BROKE, FIXED, SAME, RunView


def utterance(clip_id: str, baseline_wer: float | None, finetuned_wer: float | None) -> dict:
    return {"clip_id": clip_id, "reference": f"text of {clip_id}", "baseline": "b", "finetuned": "f",
            "baseline_wer": baseline_wer, "finetuned_wer": finetuned_wer}


def view(run: str, rows: list[dict], **config) -> RunView:
    cfg = {"dataset": "voice", "base_model": "tiny", "method": "lora", "learning_rate": 1e-4, "lora_r": 16,
           "seed": 0, "languages": ["en"], **config}
    doc = {"baseline": {"wer": 0.5, "cer": 0.3, "n": len(rows)}, "finetuned": {"wer": 0.25, "cer": 0.1, "n": len(rows)},
           "wer_clips": len(rows), "selected_by": "best held-out WER", "worse_than_base": False, "utterances": rows}
    return RunView(run=run, state="succeeded", config=cfg, eval=doc, train_clips=20, eval_clips=len(rows),
                   utterances={u["clip_id"]: u for u in rows})


def test_verdict_fixed_broke_same():
    assert compare.verdict(1.0, 0.0) == FIXED  # wrong, now exact
    assert compare.verdict(0.5, 0.25) == FIXED  # wrong, now better
    assert compare.verdict(0.0, 0.5) == BROKE  # right, now wrong
    assert compare.verdict(0.25, 0.5) == BROKE  # better before
    assert compare.verdict(0.0, 0.0) == SAME
    assert compare.verdict(0.5, 0.5) == SAME
    assert compare.verdict(1 / 3, 0.1 + 0.1 + 0.1 + 1 / 3 - 0.3) == SAME  # float noise is not a change


def test_tally_counts_each_run_against_its_own_baseline_on_shared_clips_only():
    a = view("run-a", [utterance("c1", 1.0, 0.0), utterance("c2", 0.0, 0.5), utterance("c3", 0.5, 0.5),
                       utterance("c4", 0.5, 0.0), utterance("only-a", 1.0, 0.0)])
    b = view("run-b", [utterance("c4", 0.5, 1.0), utterance("c3", 0.5, 0.0), utterance("c2", 0.0, 0.0),
                       utterance("c1", 1.0, 1.0)])
    shared = compare.shared_clips([a, b])
    assert shared.clip_ids == ["c1", "c2", "c3", "c4"]  # the first run's order; "only-a" left out
    counts = compare.tally([a, b], shared)
    assert (counts["run-a"][FIXED], counts["run-a"][BROKE], counts["run-a"][SAME]) == (2, 1, 1)
    assert (counts["run-b"][FIXED], counts["run-b"][BROKE], counts["run-b"][SAME]) == (1, 1, 2)
    assert compare.tally_sentence("run-a", counts["run-a"], shared.n) == (
        "run-a fixed 2, broke 1 and left 1 the same, of 4 shared clips.")
    assert shared.sentence() == "Compared on the 4 clips both runs evaluated; run-a also evaluated 1 other."
    rows = compare.utterance_rows([a, b], shared)
    assert [r["Clip"] for r in rows] == ["c1", "c2", "c3", "c4"]
    assert rows[0]["Baseline WER"] == 1.0 and rows[0]["run-a · WER"] == 0.0 and rows[0]["run-b · WER"] == 1.0
    assert rows[0]["run-a · verdict"] == FIXED and rows[0]["run-b · verdict"] == SAME
    assert rows[3]["run-b · verdict"] == BROKE


def test_shared_clips_three_runs_unmeasured_and_disjoint():
    a = view("a", [utterance(f"c{i}", 1.0, 0.0) for i in range(10)])
    b = view("b", [utterance(f"c{i}", 1.0, 0.0) for i in range(8)] + [utterance("c9", 1.0, None)])
    c = view("c", [utterance(f"c{i}", 1.0, 0.0) for i in range(12)])
    shared = compare.shared_clips([a, b, c])
    assert shared.clip_ids == [f"c{i}" for i in range(8)]  # c8 not in b, c9 not measured by b
    assert shared.sentence() == ("Compared on the 8 clips all 3 runs evaluated; a also evaluated 2 others, "
                                 "c also evaluated 4 others.")
    disjoint = compare.shared_clips([view("x", [utterance("x1", 1, 0)]), view("y", [utterance("y1", 1, 0)])])
    assert disjoint.n == 0 and disjoint.sentence().startswith("These runs evaluated no clip in common")
    assert compare.shared_clips([a, view("empty", [])]).n == 0


def test_different_baselines_get_a_column_per_run():
    a = view("a", [utterance("c1", 1.0, 0.5)])
    b = view("b", [utterance("c1", 0.5, 0.5)], base_model="other")
    row = compare.utterance_rows([a, b], compare.shared_clips([a, b]))[0]
    assert "Baseline WER" not in row and row["Baseline WER · a"] == 1.0 and row["Baseline WER · b"] == 0.5
    assert row["a · verdict"] == FIXED and row["b · verdict"] == SAME


def test_settings_rows_mark_differences_and_filter_them():
    a = view("lora-run", [], method="lora", learning_rate=1e-4)
    b = view("full-run", [], method="full", learning_rate=1e-5, languages=[])
    rows = {r["Setting"]: r for r in compare.settings_rows([a, b])}
    assert rows["method"]["lora-run"] == "lora" and rows["method"]["full-run"] == "full"
    assert rows["method"]["Differs"] == "≠" and rows["dataset"]["Differs"] == ""
    assert rows["LoRA r"]["lora-run"] == "16" and rows["LoRA r"]["full-run"] == "–"  # LoRA settings: LoRA runs
    assert rows["languages"]["lora-run"] == "English" and rows["languages"]["full-run"].startswith("every")
    assert rows["train clips"]["lora-run"] == "20"
    assert compare.differing([a, b]) == ["method", "learning rate", "LoRA r", "languages"]
    only = compare.settings_rows([a, b], only_differences=True)
    assert [r["Setting"] for r in only] == compare.differing([a, b])
    assert compare.settings_rows([a, view("twin", [], method="lora")], only_differences=True) == []


def test_results_rows_and_warnings():
    good = view("good", [utterance("c1", 1.0, 0.0)])
    worse = RunView(run="worse", state="succeeded", config={}, eval={
        "baseline": {"wer": 0.2, "cer": 0.1, "n": 6}, "finetuned": {"wer": 0.3, "cer": 0.2, "n": 6},
        "wer_clips": 6, "selected_by": "final weights (no checkpoint beat the base)", "worse_than_base": True})
    pending = RunView(run="pending", state="running", config={}, eval=None)
    rows = {r["Run"]: r for r in compare.results_rows([good, worse, pending])}
    assert rows["good"]["Baseline WER"] == "50.0%" and rows["good"]["Fine-tuned WER"] == "25.0%"
    assert rows["good"]["Change"] == "-25.0 points" and rows["good"]["Rests on"] == "1 held-out clip"
    assert rows["worse"]["Change"] == "+10.0 points" and rows["worse"]["Rests on"] == "6 held-out clips"
    assert rows["pending"]["Fine-tuned WER"] == "–" and rows["pending"]["Rests on"] == "not measured yet"
    said = compare.warnings([good, worse, pending])
    assert any(w.startswith("worse: The fine-tuned model is worse than the base model") for w in said)
    assert any(w.startswith("good: The WER rests on 1 held-out clip") for w in said)
    assert "pending: no eval results yet (the run is running)." in said


def test_default_pick_and_too_few():
    names, evaluated = ["n4", "n3", "n2", "n1", "n0"], ["n3", "n1", "n0"]
    assert compare.default_pick(names, evaluated) == ["n3", "n1"]
    assert compare.default_pick(names, evaluated, "n0,n4,ghost,n0") == ["n0", "n4"]
    assert compare.default_pick(names, evaluated, "n4") == ["n4", "n3"]  # topped up to two
    assert compare.default_pick(names, evaluated, "n0,n1,n2,n3,n4") == ["n0", "n1", "n2", "n3"]
    assert compare.too_few(["n3"]) == "Pick at least 2 runs (up to 4) to compare them."
    assert compare.too_few(["n3", "n1"]) == ""
