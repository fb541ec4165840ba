"""Step 7: say something (or upload a clip) and hear what the base and the fine-tuned model make of it."""

import streamlit as st

from voxstudio import languages
from voxstudio.data import audio
from voxstudio.runs import models as runmodels
from voxstudio.studio import formatting, tryout, wizard

UPLOAD_TYPES = ["wav", "flac", "ogg", "opus", "mp3", "webm", "m4a"]

wizard.page_setup(7, "7 · Try")
st.markdown(
    "Record or upload a clip: the base model and your fine-tuned model transcribe it side by side, "
    "with the same inference code as the demo Space."
)


@st.cache_resource(show_spinner=False, max_entries=2)  # kept loaded for every clip and rerun of every session
def _base_model(run: str, stamp: tuple) -> tryout.Loaded:
    return tryout.load_timed(runmodels.load_base, runmodels.run_models(run))


@st.cache_resource(show_spinner=False, max_entries=2)
def _finetuned_model(run: str, stamp: tuple) -> tryout.Loaded:
    return tryout.load_timed(runmodels.load_finetuned, runmodels.run_models(run))


runs = runmodels.finished_runs()
if not runs:
    st.info("No finished training run yet: train a model first, then come back to try it.")
    wizard.link_to_step(4, "Go to 4 · Train")
    st.stop()

run = st.selectbox("Run", runs, key="try_run")
try:
    models = runmodels.run_models(run)
except (FileNotFoundError, ValueError) as exc:
    st.error(str(exc))
    st.stop()
kind = "LoRA adapter" if models.is_adapter else "full fine-tune"
st.caption(f"Base: `{models.base_model}` · fine-tuned: {kind} of run `{run}`")
if runmodels.is_tiny(models):
    st.warning("This run fine-tuned the **tiny test model** (random weights): expect gibberish from the base "
               "model and, at best, memorised training phrases from the fine-tuned one.")
stamp = (str(models.output), models.output.stat().st_mtime)  # the folder too: one cache serves every session

choices = tryout.language_choices(models)
if st.session_state.get("try_language_run") != run or st.session_state.get("try_language") not in choices:
    # each run opens on the language it was trained with (what its prompts carried), not the last run's choice
    st.session_state["try_language"] = tryout.default_language(models)
    st.session_state["try_language_run"] = run
language = st.selectbox(
    "Language", choices, format_func=languages.label, key="try_language",
    help="Preset to the language the run was trained with (its prompts carry that hint); 'auto' lets the model "
         "detect the language.",
)
rec_col, up_col = st.columns(2)
recorded = rec_col.audio_input("Record a clip", key="try_record")
uploaded = up_col.file_uploader("…or upload one", type=UPLOAD_TYPES, key="try_upload")
clip = recorded or uploaded
if clip is None:
    st.info("Record or upload a clip to transcribe it.")
    st.stop()

try:
    samples = tryout.clip_samples(clip.getvalue(), getattr(clip, "name", None) or "recording.wav")
except ValueError as exc:
    st.error(str(exc))
    st.stop()
st.audio(clip.getvalue())
st.caption(f"{formatting.fmt_duration(samples.size / audio.SAMPLE_RATE)} of audio")

if st.button("Transcribe with both models", type="primary", key="try_go"):
    results = {}
    bound = tryout.load_bound_s(models)
    for label, loader, what in (("Base model", _base_model, f"the base model ({models.base_model})"),
                                ("Fine-tuned model", _finetuned_model, f"the fine-tuned model ({kind} of `{run}`)")):
        box = st.status(f"{label}: loading…", expanded=True)
        box.markdown(f"Loading {what} — first time takes up to ~{bound} s. Stages: reading the run's config → "
                     "loading the weights (the loader reports no fractions) → ready.")
        try:
            loaded = loader(run, stamp)
            fresh = loaded.uses == 0  # loaded by this very call, not an earlier clip's
            loaded.uses += 1
            box.update(label=f"{label}: " + (f"loaded in {loaded.load_seconds:.1f} s" if fresh else "already loaded")
                       + " · transcribing…")
            transcript = tryout.transcribe(loaded.transcriber, samples, language)
            results[label] = (transcript, loaded.load_seconds if fresh else None)
            box.update(label=f"{label}: model loaded (kept loaded for the next clip)", state="complete",
                       expanded=False)
        except Exception as exc:  # show the failure in its column; never swap in another model
            results[label] = (f"Could not run the {label.lower()}: {exc}", None)
            box.update(label=f"{label}: could not load or run", state="error", expanded=False)
    st.session_state["try_results"] = {"clip": clip.file_id, "run": run, "results": results}

shown = st.session_state.get("try_results")
if shown and shown.get("clip") == clip.file_id and shown.get("run") == run:
    for col, (label, (result, load_s)) in zip(st.columns(2), shown["results"].items()):
        with col:
            st.subheader(label)
            if isinstance(result, str):
                st.error(result)
                continue
            st.markdown(f"> {result.text}" if result.text.strip() else "> *(no words: the transcript is empty)*")
            limit = getattr(result, "max_new_tokens", None)
            note = "" if result.stopped_by_eos else (
                f" · cut off at the {limit}-token limit for this clip's length: the transcript may be incomplete"
                if limit else " · cut off at the token limit: the transcript may be incomplete")
            st.caption(tryout.timing_line(load_s, result.seconds) + note)
    if not any(isinstance(result, str) for result, _ in shown["results"].values()):
        st.caption("Both models stay loaded (kept loaded for the next clip): the next clip only transcribes.")
    st.divider()
    wizard.link_to_step(6, "Happy with it? Share it: 6 · Publish →")
