"""Step 6: push a finished run to the Hugging Face Hub (private by default) and deploy a demo Space.

Publishing asks what it must before the first push: the model's licence, and for the dataset its licence and
the speaker's separate consent to publish; then every file (every recording) and both cards are shown before
the Push button. The release steps and their refusals live in voxstudio.publish.release."""

import hashlib

import streamlit as st

from voxstudio import hosting
from voxstudio.publish import hub, licences, release, space
from voxstudio.runs import models as runmodels
from voxstudio.studio import signin, wizard
from voxstudio.training import scoring

wizard.page_setup(6, "6 · Publish")
st.markdown(
    "Publish a finished run as a model repo with a truthful model card, optionally with its dataset, "
    "then deploy a demo Space that transcribes with exactly that model."
)

# ---------------------------------------------------------------- token and account
st.subheader("Your Hugging Face account")
if "pub_token" not in st.session_state and st.session_state.get("pub_token_kept"):
    # Streamlit drops a widget's value when its page is left: the session keeps its own copy for coming back
    st.session_state["pub_token"] = st.session_state["pub_token_kept"]
typed = st.text_input(
    "Hugging Face token", type="password", key="pub_token",
    help="Kept only for this browser tab's session: never saved to disk, logs or cards. " + signin.token_fallback(),
)
st.session_state["pub_token_kept"] = typed or ""
st.caption("A typed token is kept only for this browser tab's session: it stays while you move between pages, "
           "is gone on reload or when the tab closes, and is never written to disk.")
token = (typed or "").strip() or signin.hub_token() or release.token_from_environment()  # hosted: never the server's
account = None
if not token:
    st.info("Pushing needs a token with **write** access (create one at https://huggingface.co/settings/tokens)"
            + ("." if hosting.is_hosted() else " or start the studio with HF_TOKEN set.")
            + f" Until then everything below shows what would be published, under the placeholder namespace "
              f"`{release.PLACEHOLDER_NAMESPACE}`.")
else:
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]
    who = st.session_state.get("pub_who")
    if not who or who.get("fingerprint") != fingerprint:
        try:
            with st.spinner(f"Checking your token with the Hub (up to {hub.WHOAMI_BUDGET_S:g} s)…"):
                checked = hub.account_within(token)
        except hub.HubError as exc:
            st.session_state.pop("pub_who", None)
            st.error(str(exc))
            st.stop()
        who = {"fingerprint": fingerprint, "account": checked}
        st.session_state["pub_who"] = who
    account = who["account"]
    source = "typed token" if (typed or "").strip() else "your sign-in" if signin.hub_token() else "HF_TOKEN"
    st.success(f"Signed in as **{account.name}** ({account.role} token, from {source}).")
    if account.role == "read":
        st.warning("This token can only read: pushing needs a token with write access.")
namespace = account or hub.Account(name=release.PLACEHOLDER_NAMESPACE)  # repo names before anyone signs in

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
# honest claims, before anything is pushed (the rule and its sentences: training.scoring)
claims = summary["claims"]
st.caption(f"WER measured on {claims.rests_on}." + (f" Output: {claims.selected_by}." if claims.selected_by else ""))
if claims.worse_than_base:
    st.warning(f"{claims.worse_sentence()} Publishing it would not improve on the base model; the model card "
               "says so too.")
if claims.too_few:
    st.warning(claims.few_clips_sentence())

choices = release.artifact_choices(run)
artifact = st.radio("Publish as", choices, format_func=release.ARTIFACTS.get, key="pub_artifact")
no_space = release.space_refusal(run, artifact)
if no_space:
    st.caption(no_space)
name = st.text_input("Model repo name", value=release.default_repo_name(run, artifact), key=f"pub_repo_{artifact}")
try:
    repo_id = hub.resolve_repo_id(name, who=namespace)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
private = st.toggle("Private repo", value=True, key="pub_private",
                    help="Private repos are visible only to you (and your organisation). This applies to the "
                         "dataset too.")
visibility = "private" if private else "public"
licence = st.selectbox("Licence of the model", list(licences.MODEL), index=None, format_func=licences.label,
                       placeholder="Choose a licence…", key="pub_licence",
                       help="Nothing is chosen for you: the licence goes into the model card.")

# ---------------------------------------------------------------- the dataset, with its own consent
st.subheader("Dataset (optional)")
with_dataset = st.toggle("Also push the dataset (your recordings)", value=False, key="pub_with_dataset",
                         disabled=not summary["dataset"])
dataset_repo = data_licence = statement = agreed_at = None
consented = False
if with_dataset:
    dataset = summary["dataset"]
    dataset_name = st.text_input("Dataset repo name", value=f"{repo_id.split('/')[-1]}-data", key="pub_dataset_repo")
    try:
        dataset_repo = hub.resolve_repo_id(dataset_name, who=namespace)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    data_licence = st.selectbox("Licence of the recordings and transcripts", list(licences.DATA), index=None,
                                format_func=licences.label, placeholder="Choose a licence…", key="pub_data_licence")
    st.markdown("**Consent to publish.** The consent given on the Language page covers storing the recordings "
                "and fine-tuning on them here. Pushing them puts the speaker's voice on the Hub: the speaker "
                "agrees to that separately, and the dataset card quotes it.")
    speaker = st.text_input("Speaker (the person whose voice it is)", value=release.dataset_speaker(dataset),
                            key="pub_speaker")
    if not speaker.strip():
        st.info("Name the speaker to see the statement they agree to.")
    else:
        statement, agreed_at = release.consent_question(dataset, speaker, public=not private)
        consented = st.checkbox(statement, value=agreed_at is not None,  # a new statement asks afresh
                                key=f"pub_consent_{hashlib.sha256(statement.encode()).hexdigest()[:12]}")
        if agreed_at:
            st.caption(f"Agreed on {agreed_at[:10]}, stored with the dataset.")

# ---------------------------------------------------------------- what will be published
st.subheader("Before pushing")
missing = [step for step, done in (
    ("choose the model's licence", licence is not None),
    ("choose the recordings' licence", not with_dataset or data_licence is not None),
    ("name the speaker and tick their consent to publish", not with_dataset or consented),
) if not done]
if missing:
    st.info("Still to do before the files can be prepared: " + "; ".join(missing) + ".")
wanted = (run, artifact, repo_id, private, licence, dataset_repo, data_licence, statement)
if st.button("Prepare the files", key="pub_prepare", disabled=bool(missing)):
    with st.spinner("Exporting the files (an adapter: seconds; merging a real model: up to a few minutes)…"):
        try:
            if with_dataset and agreed_at is None:  # the box was ticked for this statement just now
                release.give_consent(dataset, speaker, public=not private)
            st.session_state["pub_staged"] = release.stage(run, artifact, repo_id, dataset_repo, licence=licence,
                                                           data_licence=data_licence, private=private)
            st.session_state["pub_staged_for"] = wanted
        except (hub.HubError, ValueError, FileNotFoundError, OSError) as exc:
            st.error(str(exc))
staged = st.session_state.get("pub_staged")
if missing or staged is None or st.session_state.get("pub_staged_for") != wanted:
    st.info("Press **Prepare the files** to see every file that will be uploaded and read the cards first.")
    st.stop()

uploads = release.upload_list(staged)
targets = f"`{repo_id}`" + (f" and `{dataset_repo}`" if staged.dataset_folder else "")
st.markdown(f"**{len(uploads)} files, {release.human_size(staged.total_bytes)}** will be uploaded to {targets} "
            f"({visibility}), one commit per repo:")
st.dataframe([{"repo": repo, "file": path, "size": release.human_size(size), "bytes": size}
              for repo, path, size in uploads], hide_index=True)
if staged.dataset_folder:
    recordings = release.recordings(staged)
    st.markdown(f"**{len(recordings)} recordings of your voice** ({release.human_size(sum(r.size for r in recordings))}"
                f") travel inside the dataset files above; "
                + ("anyone will be able to download and listen to them:" if not private
                   else "you and your organisations will be able to download and listen to them:"))
    st.dataframe([{"recording": r.path, "size": release.human_size(r.size), "bytes": r.size, "in": r.file,
                   "text": r.text} for r in recordings], hide_index=True)
for kind, text in release.cards(staged).items():
    if text is None:
        continue
    repo = repo_id if kind == "model" else dataset_repo
    with st.expander(f"The {kind} card, as it will arrive on `{repo}` (README.md)"):
        front, body = release.split_card(text)
        rendered, raw = st.tabs(["As it reads", "Raw text"])
        rendered.markdown(body)
        rendered.caption("Metadata (front matter):")
        rendered.code(front, language="yaml")
        raw.text_area(f"README.md of `{repo}`, {len(text.encode('utf-8')):,} bytes, exactly as it will be uploaded",
                      value=text, height=400, disabled=True, key=f"pub_card_{kind}")

if account is None:
    st.caption(f"These files use the placeholder namespace `{release.PLACEHOLDER_NAMESPACE}`: signing in puts your "
               "account's name there, in the repo names and the cards.")
    st.info("Pushing needs a write token: paste one above (or sign in) to push these files to the Hub.")
if st.button("Push to the Hub", type="primary", key="pub_push", disabled=account is None or account.role == "read",
             help=None if account else "Pushing needs a write token."):
    bar = st.progress(0.0, text="Starting…")
    try:
        result = release.publish(staged, token, private=private,
                                 progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=text))
    except (hub.HubError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["pub_result"] = {
            "run": run, "artifact": artifact, "model": result["model"].url, "repo_id": result["model"].repo_id,
            "private": result["model"].private, "dataset": result["dataset"].url if result["dataset"] else None,
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
if no_space:
    st.warning(no_space)
    st.stop()
space_name = st.text_input("Space name", value=f"{pushed['repo_id'].split('/')[-1]}-demo", key="pub_space")
hardware_keys = list(space.HARDWARE)
suggested = release.suggested_hardware(run)
hardware = st.selectbox("Hardware", hardware_keys, index=hardware_keys.index(suggested),
                        format_func=space.HARDWARE.get, key="pub_hardware")
space_private = st.toggle("Private Space", value=True, key="pub_space_private")
read_token = ""
if pushed["private"]:
    st.markdown(f"`{pushed['repo_id']}` is private, so the Space needs a **read** token to download it. Create "
                "one with *Read* access at https://huggingface.co/settings/tokens: it is stored as the Space's "
                "HF_TOKEN secret; your write token is never given to the Space.")
    read_token = (st.text_input("Read-only token for the Space", type="password", key="pub_read_token") or "").strip()
    if not read_token:
        st.caption("Paste the read token to deploy the demo.")
if st.button("Deploy the demo", key="pub_deploy", disabled=bool(pushed["private"] and not read_token)):
    bar = st.progress(0.0, text="Starting…")
    try:
        url = space.deploy_demo(
            pushed["repo_id"], space_name, token, hardware=hardware, private=space_private,
            base_model=release.demo_base_model(run, artifact), read_token=read_token or None,
            progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text=text),
        )
    except (hub.HubError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["pub_space_url"] = url
if st.session_state.get("pub_space_url"):
    st.success(f"Demo Space: {st.session_state['pub_space_url']} (it builds for a few minutes before answering).")
