"""Compare 2–4 runs: their settings side by side (differences marked), their results, their curves overlaid, and
which utterances each one fixed or broke on the clips they all evaluated.

UI only: every number comes from voxstudio.runs.compare (which reads the run folders and Trackio).
"""

import streamlit as st

from voxstudio.runs import compare
from voxstudio.runs import status as runstatus
from voxstudio.studio import wizard

DIFF_STYLE = "background-color: #fff3cd"

wizard.page_setup(None, "Compare runs")

statuses = runstatus.list_runs()  # this person's runs only, newest first
names = [s.run for s in statuses]
if len(names) < compare.MIN_RUNS:
    st.info(f"Comparing needs at least {compare.MIN_RUNS} runs; you have {len(names)}. Train another on the "
            "Train page (say, another learning rate or LoRA against full).")
    wizard.link_to_step(4, "Go to 4 · Train")
    st.stop()

default = compare.default_pick(names, compare.evaluated(statuses), st.query_params.get("runs"))
picked = st.multiselect("Runs to compare", names, default=default, max_selections=compare.MAX_RUNS,
                        key="cmp_runs", help="newest first; the two most recent evaluated runs are picked for you")
if sentence := compare.too_few(picked):
    st.info(sentence)
    st.stop()

views = [compare.load(run) for run in picked]

# ---------------------------------------------------------------- settings
st.subheader("Settings")
only_diff = st.toggle("Only differences", key="cmp_only_diff")
rows = compare.settings_rows(views, only_differences=only_diff)
if rows:
    import pandas as pd

    frame = pd.DataFrame(rows)
    styled = frame.style.apply(
        lambda r: [DIFF_STYLE if r[compare.DIFFERS] else ""] * len(r), axis=1)
    st.dataframe(styled, hide_index=True, key="cmp_settings", column_config={
        compare.DIFFERS: st.column_config.TextColumn(width="small", help="the runs' values differ"),
    })
    st.caption(f"Highlighted ({compare.DIFF_MARK}): {', '.join(compare.differing(views)) or 'none'}.")
else:
    st.caption("These runs have the same settings.")

# ---------------------------------------------------------------- results
st.subheader("Results")
st.dataframe(compare.results_rows(views), hide_index=True, key="cmp_results")
st.caption("WER and CER on each run's own eval clips (\"Rests on\"); the change is fine-tuned minus baseline, in "
           "points (negative is better).")
for warning in compare.warnings(views):
    st.warning(warning)


# ---------------------------------------------------------------- curves
def overlay(key: str, title: str, axis: str, scale: float = 1.0) -> None:
    """One chart with a line per run (legend: run name); a run with no points says so."""
    points, empty = compare.curves(views, key, scale)
    st.caption(title)
    if points:
        st.vega_lite_chart({
            "data": {"values": points},
            "mark": {"type": "line", "point": len(points) <= 2 * len(views)},
            "encoding": {
                "x": {"field": "step", "type": "quantitative", "title": "step"},
                "y": {"field": "value", "type": "quantitative", "title": axis},
                "color": {"field": "run", "type": "nominal", "title": "Run", "sort": picked},
            },
        }, width="stretch")
    for run in empty:
        st.caption(f"{run}: no {title.lower()} points logged.")


st.subheader("Curves")
left, right = st.columns(2)
with left:
    overlay(compare.LOSS, "Training loss", "loss")
with right:
    overlay(compare.EVAL_WER, "Eval WER", "WER %", scale=100)
    st.caption("Each run's eval WER rests on its own eval clips: "
               + ", ".join(f"{v.run} {compare.MISSING if v.eval_clips is None else v.eval_clips}" for v in views)
               + ".")

# ---------------------------------------------------------------- per utterance
st.subheader("Per utterance")
shared = compare.shared_clips(views)
st.caption(shared.sentence())
if shared.n:
    st.caption("Fixed: the base model got the clip wrong and this run does better. Broke: this run does worse "
               "than the base model. Same: neither. Each run is judged against its own baseline.")
    for run, counts in compare.tally(views, shared).items():
        st.markdown(compare.tally_sentence(run, counts, shared.n))
    wer_cols = [c for v in views for c in (compare.wer_column(v.run), compare.baseline_column(v.run))]
    st.dataframe(compare.utterance_rows(views, shared), hide_index=True, key="cmp_utterances", column_config={
        compare.baseline_column(): st.column_config.NumberColumn(format="percent"),
        **{c: st.column_config.NumberColumn(format="percent") for c in wer_cols},
        "Reference": st.column_config.TextColumn(width="medium"),
        "Clip": st.column_config.TextColumn(width="small"),
    })

st.divider()
st.markdown("**Next:** look at one run word by word, or share the best one.")
n1, n2 = st.columns(2)
with n1:
    wizard.link_to_step(5, "One run in detail: 5 · Evaluate →")
with n2:
    wizard.link_to_step(6, "Share it: 6 · Publish →")
