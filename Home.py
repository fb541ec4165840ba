"""Home: where the data lives, what is recorded, what this machine can do, and the next step."""

import streamlit as st

from voxstudio import hosting, workspace
from voxstudio.data import dataset as dataset_mod
from voxstudio.publish import release
from voxstudio.runs import hardware
from voxstudio.studio import home, signin, trainpanel, wizard

wizard.page_setup(None, "voxstudio")
st.markdown(
    "Turn **your own voice** into a better speech recognizer: record phrases, fine-tune Mistral's "
    "Voxtral on them, measure the word error rate before and after, and share the result."
)



def training_section() -> None:
    """This person's running and queued runs (refreshing by itself while any is active) and the last result."""
    active = home.active_runs()
    st.subheader("Training")
    for s in active:
        if s.state == "running":
            fraction, line = home.progress(s)
            st.progress(fraction, text=f"**{s.run}** is training: {line}")
        else:
            st.markdown(f"**{s.run}** is {home.queue_line(s)}.")
        wizard.link_to_step(4, f"Watch {s.run} on 4 · Train →", query={trainpanel.WATCH_QUERY: s.run})
    finished = home.last_finished()
    if finished:
        st.markdown(f"**Last finished run:** {finished.sentence()}")
        if finished.outcome.worse_than_base:
            st.warning(finished.outcome.worse_sentence())
        wizard.link_to_step(5, f"See {finished.run} on 5 · Evaluate →")
    if not active and not finished:
        st.caption("No run yet: step 4 trains one.")
    if st.session_state.get("home_was_active") and not active:
        st.session_state["home_was_active"] = False
        st.rerun()  # a run just ended: refresh the whole page (next step, no more polling)
    st.session_state["home_was_active"] = bool(active)


polling = bool(home.active_runs())
st.session_state["home_was_active"] = polling
st.fragment(run_every=home.REFRESH_S if polling else None)(training_section)()

summaries = [wizard.dataset_summary(name) for name in dataset_mod.list_datasets()]
step, why = home.next_step(summaries, home.active_runs(), home.last_finished())

st.subheader("Next step")
st.markdown(f"**{step} · {wizard.step(step).name}**: {why}")
wizard.link_to_step(step, f"Go to {step} · {wizard.step(step).name} →")

st.subheader("The steps")
for s in wizard.STEPS:
    cols = st.columns([1, 3])
    with cols[0]:
        wizard.link_to_step(s.number)
    cols[1].markdown(s.purpose)

st.subheader("Datasets")
if summaries:
    st.dataframe(
        [
            {
                "dataset": s["name"],
                "clips": s["clips"],
                "minutes": round(s["minutes"], 1),
                "flagged": s["flagged"],
                "languages": ", ".join(s["languages"]),
                "phrases recorded": f"{s['recorded_phrases']} / {s['phrases']}" if s["phrases"] else "no phrase list",
            }
            for s in summaries
        ],
        hide_index=True,
    )
else:
    st.caption("No dataset yet. Step 1 creates one.")

left, right = st.columns(2)
with left:
    st.subheader("This machine")
    hw = hardware.detect()
    st.markdown(f"**{'GPU' if hw.has_gpu else 'Hardware'}:** {hw.summary()}")
    st.caption(hw.advice())
    if hosting.is_hosted():
        st.markdown("**Workspace:** your own, private on this studio (no one else signed in here can see it).")
    else:
        st.markdown(f"**Workspace:** `{workspace.home()}`")
        st.caption("Set VOXSTUDIO_HOME to keep your data somewhere else.")
with right:
    st.subheader("Hugging Face Hub")
    if signin.hub_token():
        st.markdown("✓ Your Hugging Face sign-in can publish for you (checked when you publish).")
    elif hosting.is_hosted():
        st.markdown("Paste your own token on the Publish page to share your model: it stays in this browser "
                    "session only.")
    elif release.token_from_environment():
        st.markdown("✓ **HF_TOKEN** is set: publishing can log in (checked when you publish).")
    else:
        st.markdown("Not logged in: set **HF_TOKEN** or paste a token on the Publish page to share your model.")
