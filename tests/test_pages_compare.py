"""The Compare page through AppTest: two real tiny runs (LoRA and full), too few runs, disjoint eval sets."""

from __future__ import annotations

import json

import pytest
from apptest_support import checked, open_app, open_page, rerun, texts
from jobs_helpers import make_dataset
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from support_runs import finished_runs, runs_home  # noqa: F401 - fixtures

from voxstudio.runs import queue, runfolder
from voxstudio.training import scoring
from voxstudio.training.config import new_config

PAGE = "pages/8_Compare.py"


def chart_data(at) -> list:
    """(y-axis title, rows) of every vega-lite chart on the page."""
    out = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        out.append((spec["encoding"]["y"]["title"], convert_arrow_bytes_to_pandas_df(chart.proto.data.data)))
    return out


@pytest.mark.slow
def test_two_real_runs_side_by_side(runs_home):  # noqa: F811
    at = open_page(PAGE)
    lora, full = runs_home.lora.name, runs_home.full.name
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted([lora, full])  # both evaluated: picked

    settings = at.dataframe[0].value.set_index("Setting")
    assert settings.loc["method", lora] == "lora" and settings.loc["method", full] == "full"
    assert settings.loc["method", "Differs"] == "≠" and settings.loc["dataset", "Differs"] == ""
    assert "Highlighted (≠): method" in texts(at)
    at.toggle(key="cmp_only_diff").set_value(True)
    only = rerun(at).dataframe[0].value
    assert "method" in set(only["Setting"]) and "dataset" not in set(only["Setting"])

    results = at.dataframe[1].value.set_index("Run")
    full_doc = json.loads((runs_home.full / runfolder.EVAL_RESULTS).read_text())
    assert results.loc[full, "Fine-tuned WER"] == scoring.percent(full_doc["finetuned"]["wer"])
    assert results.loc[full, "Rests on"] == "6 training clips"

    charts = dict(chart_data(at))
    assert set(charts["loss"]["run"]) == {lora, full}  # both runs' loss on one chart
    assert (charts["loss"]["run"] == full).sum() == 300 and (charts["loss"]["run"] == lora).sum() == 20

    docs = {run: json.loads((folder / runfolder.EVAL_RESULTS).read_text())
            for run, folder in ((lora, runs_home.lora), (full, runs_home.full))}
    ids = {run: [u["clip_id"] for u in doc["utterances"]] for run, doc in docs.items()}
    shared = [c for c in ids[lora] if c in ids[full]]
    assert shared and len(shared) < len(ids[full])  # the LoRA run held clips out, the full one did not
    table = at.dataframe[2].value
    assert list(table["Clip"]) == shared
    for run, doc in docs.items():
        wers = {u["clip_id"]: u["finetuned_wer"] for u in doc["utterances"]}
        assert list(table[f"{run} · WER"]) == [wers[c] for c in shared]
    shown = texts(at)
    n, others = len(shared), len(ids[full]) - len(shared)
    assert (f"Compared on the {n} clip{'s' if n > 1 else ''} both runs evaluated; {full} also evaluated "
            f"{others} other{'s' if others > 1 else ''}.") in shown
    assert f"{full} fixed {n}, broke 0 and left 0 the same, of {n} shared clip" in shown  # the full run is exact


def fake_run(name: str, clip_rows: list, hypothesis: str) -> None:
    """A real run folder (create_run freezes its clips) that has finished and evaluated ``clip_rows``."""
    folder = queue.create_run(new_config(run_name=name, dataset="voice", base_model="tiny", max_steps=10))
    utterances = [{"clip_id": c.clip_id, "reference": c.text, "baseline": "", "finetuned": hypothesis,
                   "baseline_wer": 1.0, "finetuned_wer": scoring.wer(c.text, hypothesis)} for c in clip_rows]
    tuned = sum(u["finetuned_wer"] for u in utterances) / len(utterances)
    runfolder.write_json_atomic(folder / runfolder.EVAL_RESULTS, {
        "baseline": {"wer": 1.0, "cer": 1.0, "n": len(clip_rows)}, "finetuned": {"wer": tuned, "cer": tuned,
                                                                               "n": len(clip_rows)},
        "note": "", "utterances": utterances, **scoring.choice(len(clip_rows), False, 1.0, tuned)})
    runfolder.write_status(folder, state="succeeded", phase="done", finetuned_wer=tuned)


def test_disjoint_eval_sets_say_so_and_show_no_utterance_table(home):
    clips = make_dataset("voice", 6).clips()
    fake_run("run-a", clips[:3], "cancel timer")
    fake_run("run-b", clips[3:], "")
    at = open_page(PAGE)
    assert sorted(at.multiselect(key="cmp_runs").value) == ["run-a", "run-b"]
    shown = texts(at)
    assert "These runs evaluated no clip in common, so they cannot be compared utterance by utterance" in shown
    assert not [m.value for m in at.markdown if "shared clip" in m.value]  # no counts on clips not shared
    assert len(at.dataframe) == 2  # settings and results only
    assert list(at.dataframe[1].value["Rests on"]) == ["3 held-out clips", "3 held-out clips"]


def test_fewer_than_two_runs(home):
    clips = make_dataset("voice", 6).clips()
    fake_run("run-a", clips[:3], "cancel timer")
    at = open_page(PAGE)
    assert "Comparing needs at least 2 runs; you have 1." in texts(at) and not at.dataframe
    fake_run("run-b", clips[:3], "")
    at = open_page(PAGE)
    assert len(at.dataframe) == 3
    at.multiselect(key="cmp_runs").unselect("run-a")
    rerun(at)
    assert "Pick at least 2 runs (up to 4) to compare them." in texts(at)
    assert not at.dataframe and not at.get("vega_lite_chart")


def test_evaluate_links_to_compare_with_its_run_and_the_link_picks_it(home):
    clips = make_dataset("voice", 6).clips()
    fake_run("run-a", clips[:3], "cancel timer")
    fake_run("run-b", clips[:3], "")
    fake_run("run-c", clips[:3], "")
    at = open_app("pages/5_Evaluate.py", dataset="voice")
    at.selectbox(key="eval_run").set_value("run-a")
    links = {link.proto.label: link.proto for link in rerun(at).get("page_link")}
    link = links["Compare this run with others: Compare →"]
    assert link.page == "Compare" and link.page_script_hash and link.query_string == "dataset=voice&runs=run-a"
    at.query_params["runs"] = "run-a"
    at = checked(at.switch_page(PAGE).run())
    picked = at.multiselect(key="cmp_runs").value
    assert picked[0] == "run-a" and len(picked) == 2 and "Compared on the 3 clips both runs evaluated." in texts(at)
