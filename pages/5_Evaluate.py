"""Step 5: did fine-tuning help? Baseline vs fine-tuned WER/CER, and every held-out utterance word by word.

Rates with the language hint (each clip's ``lang:xx``, what training mostly prompts and inference defaults to)
and, below them, without it (auto mode: the model detects the language), measured at the end of training.

Reads the run's eval_results.json (written by the trainer with the same inference code as the Try page);
no model is loaded here, so the page is instant.
"""

import html

import streamlit as st

from voxstudio import models
from voxstudio.runs import status as runstatus
from voxstudio.studio import wizard
from voxstudio.training import scoring

DIFF_STYLE = {
    "equal": "{ref}",
    "substitute": '<span style="background:#fde2e1;text-decoration:line-through">{ref}</span> '
                  '<span style="background:#d9f2dc">{hyp}</span>',
    "delete": '<span style="background:#fde2e1;text-decoration:line-through">{ref}</span>',
    "insert": '<span style="background:#d9f2dc">{hyp}</span>',
}

wizard.page_setup(5, "5 · Evaluate")


def diff_html(reference: str, hypothesis: str | None, language: str | None) -> str:
    """The hypothesis against the reference: struck red = missed or wrong, green = what the model said."""
    if hypothesis is None:
        return "<i>not measured</i>"
    words = scoring.word_diff(reference, hypothesis, language)
    if not words:
        return "<i>(empty)</i>"
    if not (hypothesis or "").strip():
        return f'<i>(said nothing)</i> <span style="background:#fde2e1;text-decoration:line-through">' \
               f"{html.escape(reference)}</span>"
    return " ".join(DIFF_STYLE[w["op"]].format(ref=html.escape(w["ref"] or ""), hyp=html.escape(w["hyp"] or ""))
                    for w in words)


def shown_text(hypothesis: str | None) -> str | None:
    """An empty transcript is a result worth seeing ("the model said nothing"), not a blank cell."""
    if hypothesis is None:
        return None
    return hypothesis if hypothesis.strip() else "(said nothing)"


runs = [s for s in runstatus.list_runs() if runstatus.results(s.run)["eval"]]
if not runs:
    st.info("No evaluated run yet. Train a model on the Train page: it measures WER before and after.")
    wizard.link_to_step(4, "Go to 4 · Train")
    st.stop()

names = [s.run for s in runs]
preferred = st.session_state.get("train_watch")
run = st.selectbox("Run", names, index=names.index(preferred) if preferred in names else 0, key="eval_run")
status = next(s for s in runs if s.run == run)
results = runstatus.results(run)["eval"]
base, tuned = results.get("baseline") or {}, results.get("finetuned") or {}

st.caption(f"Dataset `{status.config.get('dataset')}` · base `{status.config.get('base_model')}` · "
           f"{status.config.get('method')} · run {status.state}")
if models.is_tiny(status.config.get("base_model")):
    st.caption("The tiny test model has random weights: these numbers prove the pipeline works, not that it "
               "recognises speech.")
if status.state != "succeeded":
    st.warning(f"This run is {status.state}: the numbers below are what it measured so far.")


def rate_metrics(base: dict, tuned: dict, suffix: str = "") -> None:
    """Baseline vs fine-tuned WER and CER side by side (no change is neither green nor red)."""
    cols = st.columns(4)
    before, after = base.get("wer"), tuned.get("wer")
    cols[0].metric(f"Baseline WER{suffix}", scoring.percent(before))
    cols[1].metric(f"Fine-tuned WER{suffix}", scoring.percent(after), delta=scoring.delta(before, after),
                   delta_color="inverse" if scoring.points(before, after) else "off")
    cols[2].metric(f"Baseline CER{suffix}", scoring.percent(base.get("cer")))
    cols[3].metric(f"Fine-tuned CER{suffix}", scoring.percent(tuned.get("cer")))


rate_metrics(base, tuned)
if cut := scoring.cut_off_sentence(base, tuned):  # budgets grow with clip length
    st.caption(cut)
auto = results.get("auto") or {}
auto_base, auto_tuned = auto.get("baseline") or {}, auto.get("finetuned") or {}
st.caption("With the language hint (each clip's `lang:xx`), as the run was trained and as Try, "
           "`voxstudio transcribe` and the demo Space prompt by default. Without it (auto, the model detects "
           "the language):")
rate_metrics(auto_base, auto_tuned, " (auto)")
if cut := scoring.cut_off_sentence(auto_base, auto_tuned):
    st.caption(f"Auto: {cut}")
if not auto_tuned:
    st.caption("Auto mode is measured when training ends; runs trained before voxstudio measured it have none.")
if results.get("note"):
    st.caption(f"Note: {results['note']}.")
claims = scoring.outcome(results)  # the trainer's record: what the WER rests on, how the output was chosen
st.caption(f"These rates rest on {claims.rests_on}."
           + (f" Output: {claims.selected_by}." if claims.selected_by else "")
           + (f" {claims.bias_sentence()}" if claims.selection_bias else ""))
if claims.worse_than_base:
    st.warning(f"{claims.worse_sentence()} Fine-tuning did not help: do not publish this model as an improvement.")
if claims.too_few and claims.finetuned is not None:
    st.warning(claims.few_clips_sentence())

utterances = results.get("utterances") or []
st.subheader(f"Per utterance ({len(utterances)})")
st.dataframe([{
    "reference": u["reference"], "baseline": shown_text(u.get("baseline")), "baseline WER": u.get("baseline_wer"),
    "fine-tuned": shown_text(u.get("finetuned")), "fine-tuned WER": u.get("finetuned_wer"),
    "fine-tuned (auto)": shown_text(u.get("finetuned_auto")), "fine-tuned WER (auto)": u.get("finetuned_auto_wer"),
    "clip": u["clip_id"],
} for u in utterances], hide_index=True, column_config={
    "reference": st.column_config.TextColumn(width="medium"),
    "baseline": st.column_config.TextColumn(width="medium"),
    "fine-tuned": st.column_config.TextColumn(width="medium"),
    "fine-tuned (auto)": st.column_config.TextColumn(width="medium"),
    "baseline WER": st.column_config.NumberColumn(format="percent"),
    "fine-tuned WER": st.column_config.NumberColumn(format="percent"),
    "fine-tuned WER (auto)": st.column_config.NumberColumn(format="percent"),
    "clip": st.column_config.TextColumn(width="small"),
})

st.subheader("Word by word")
st.caption("Struck red: a word the model missed or got wrong · green: what the model wrote instead.")
only_changed = st.toggle("Only utterances the fine-tuned model still gets wrong", key="eval_only_wrong")
shown = [u for u in utterances if not only_changed or (u.get("finetuned_wer") or 0) > 0]
for u in shown:
    with st.container(border=True):
        st.markdown(f"**{html.escape(u['reference'])}** · `{u['clip_id']}`")
        st.markdown(f"baseline ({scoring.percent(u.get('baseline_wer'))}): "
                    f"{diff_html(u['reference'], u.get('baseline'), u.get('language'))}", unsafe_allow_html=True)
        st.markdown(f"fine-tuned ({scoring.percent(u.get('finetuned_wer'))}): "
                    f"{diff_html(u['reference'], u.get('finetuned'), u.get('language'))}", unsafe_allow_html=True)
        if u.get("finetuned_auto") is not None:
            st.markdown(f"fine-tuned, auto ({scoring.percent(u.get('finetuned_auto_wer'))}): "
                        f"{diff_html(u['reference'], u.get('finetuned_auto'), u.get('language'))}",
                        unsafe_allow_html=True)
        if st.toggle("Listen", key=f"eval_listen_{run}_{u['clip_id']}"):
            audio = runstatus.utterance_audio(run, u["clip_id"])
            if audio:
                st.audio(audio, format="audio/wav")
            else:
                st.caption("This clip is no longer in the dataset.")

st.divider()
st.markdown("**Next:** hear it on your own voice, then share it.")
n1, n2 = st.columns(2)
with n1:
    wizard.link_to_step(7, "Try it: 7 · Try →")
with n2:
    wizard.link_to_step(6, "Share it: 6 · Publish →")
wizard.link_to_page("Compare", "Compare this run with others: Compare →", {"runs": run})
