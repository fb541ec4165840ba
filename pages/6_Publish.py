"""Step 6: push a finished run to the Hugging Face Hub (private by default) and deploy a demo Space."""

import hashlib

import streamlit as st

from voxstudio.publish import hub, release, space
from voxstudio.runs import models as runmodels
from voxstudio.studio import wizard
from voxstudio.training import scoring

wizard.page_setup(6, "6 · Publish")
st.markdown(
    "Publish a finished run as a model repo with a truthful model card, optionally with its dataset, "
    "then deploy a demo Space that transcribes with exactly that model."
)

# ---------------------------------------------------------------- token and account
st.subheader("Your Hugging Face account")
typed = st.text_input(
    "Hugging Face token", type="password", key="pub_token",
    help="Kept in this browser session only: never saved to disk, logs or cards. "
         "Leave empty to use HF_TOKEN from the environment.",
)
token = (typed or "").strip() or release.token_from_environment()
if not token:
    st.info("Paste a token with **write** access (create one at https://huggingface.co/settings/tokens) "
            "or start the studio with HF_TOKEN set.")
    ready = runmodels.finished_runs()
    if ready:
        st.caption(f"Ready to publish once you are signed in: {len(ready)} finished run(s), latest `{ready[0]}`. "
                   "Meanwhile you can try a model locally.")
        wizard.link_to_step(7, "Go to 7 · Try →")
    else:
        st.caption("No finished training run yet either: train a model first.")
        wizard.link_to_step(4, "Go to 4 · Train →")
    st.stop()

fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]
who = st.session_state.get("pub_who")
if not who or who.get("fingerprint") != fingerprint:
    try:
        account = hub.account(token)
    except hub.HubError as exc:
        st.session_state.pop("pub_who", None)
        st.error(str(exc))
        st.stop()
    who = {"fingerprint": fingerprint, "account": account}
    st.session_state["pub_who"] = who
account = who["account"]
source = "typed token" if (typed or "").strip() else "HF_TOKEN"
st.success(f"Signed in as **{account.name}** ({account.role} token, from {source}).")
if account.role == "read":
    st.warning("This token can only read: pushing needs a token with write access.")

# ---------------------------------------------------------------- what to publish
st.subheader("Model")
runs = runmodels.finished_runs()
if not runs:
    st.info("No finished training run yet: train a model first, then publish it here.")
    wizard.link_to_step(4, "Go to 4 · Train")
    st.stop()
run = st.selectbox("Finished run", runs, key="pub_run")
summary = release.run_summary(run)
cols = st.columns(4)
cols[0].metric("Method", summary["method"])
cols[1].metric("Base model", summary["base_model"].split("/")[-1])
for col, label, key in ((cols[2], "WER before", "baseline_wer"), (cols[3], "WER after", "finetuned_wer")):
    col.metric(label, scoring.percent(summary[key]))

choices = release.artifact_choices(run)
artifact = st.radio("Publish as", choices, format_func=release.ARTIFACTS.get, key="pub_artifact")
name = st.text_input("Model repo name", value=release.default_repo_name(run, artifact), key=f"pub_repo_{artifact}")
try:
    repo_id = hub.resolve_repo_id(name, who=account)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
private = st.toggle("Private repo", value=True, key="pub_private",
                    help="Private repos are visible only to you (and your organisation).")
with_dataset = st.toggle("Also push the dataset (your recordings)", value=False, key="pub_with_dataset",
                         disabled=not summary["dataset"])
dataset_repo = None
if with_dataset:
    dataset_name = st.text_input("Dataset repo name", value=f"{repo_id.split('/')[-1]}-data", key="pub_dataset_repo")
    try:
        dataset_repo = hub.resolve_repo_id(dataset_name, who=account)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    st.caption("The dataset card states the speaker's consent, languages, durations and licence.")

wanted = (run, artifact, repo_id, dataset_repo)
if st.button("Prepare the files", key="pub_prepare"):
    with st.spinner("Exporting (merging takes a while for a real model)…"):
        try:
            st.session_state["pub_staged"] = release.stage(run, artifact, repo_id, dataset_repo)
        except (ValueError, FileNotFoundError, OSError) as exc:
            st.error(str(exc))
staged = st.session_state.get("pub_staged")
if staged is None or (staged.run, staged.artifact, staged.repo_id, staged.dataset_repo) != wanted:
    st.info("Press **Prepare the files** to see exactly what will be uploaded.")
    st.stop()

st.markdown(f"**{len(staged.files)} files, {release.human_size(staged.total_bytes)}** will be uploaded to "
            f"`{repo_id}` ({'private' if private else 'public'}) in one commit:")
st.dataframe([{"file": path, "size": release.human_size(size)} for path, size in staged.files],
             hide_index=True)

if st.button("Push to the Hub", type="primary", key="pub_push", disabled=account.role == "read"):
    bar = st.progress(0.0, text="Starting…")
    try:
        result = release.publish(staged, token, private=private, dataset=summary["dataset"] if with_dataset else None,
                                 progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=text))
    except (hub.HubError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["pub_result"] = {
            "run": run, "artifact": artifact, "model": result["model"].url, "repo_id": result["model"].repo_id,
            "dataset": result["dataset"].url if result["dataset"] else None,
        }
pushed = st.session_state.get("pub_result")
if pushed:
    st.success(f"Published: [{pushed['repo_id']}]({pushed['model']})"
               + (f" · dataset: [{pushed['dataset']}]({pushed['dataset']})" if pushed["dataset"] else ""))

# ---------------------------------------------------------------- demo Space
st.subheader("Demo Space")
if not pushed or pushed["run"] != run or pushed["artifact"] != artifact:
    st.info("Push the model first; then deploy a Gradio demo Space for it here.")
    st.stop()
space_name = st.text_input("Space name", value=f"{pushed['repo_id'].split('/')[-1]}-demo", key="pub_space")
hardware_keys = list(space.HARDWARE)
suggested = release.suggested_hardware(run)
hardware = st.selectbox("Hardware", hardware_keys, index=hardware_keys.index(suggested),
                        format_func=space.HARDWARE.get, key="pub_hardware")
space_private = st.toggle("Private Space", value=True, key="pub_space_private")
read_token = st.text_input(
    "Read-only token for the Space (needed only when the model is private)", type="password",
    key="pub_read_token",
    help="Stored as the Space's HF_TOKEN secret so it can download your private model. "
         "Your write token is never given to the Space.",
)
if st.button("Deploy the demo", key="pub_deploy"):
    bar = st.progress(0.0, text="Starting…")
    try:
        url = space.deploy_demo(
            pushed["repo_id"], space_name, token, hardware=hardware, private=space_private,
            base_model=release.demo_base_model(run, artifact), read_token=(read_token or "").strip() or None,
            progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=text),
        )
    except (hub.HubError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["pub_space_url"] = url
if st.session_state.get("pub_space_url"):
    st.success(f"Demo Space: {st.session_state['pub_space_url']} (it builds for a few minutes before answering).")
