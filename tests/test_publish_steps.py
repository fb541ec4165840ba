"""Publishing asks what it must before the first push: a consent to PUBLISH the recordings (separate from the
consent to record them), a licence for the model and one for the data (no silent default), every file that
will be uploaded (the recordings included) and both cards readable before pushing, the read token of a
private model's Space before its Deploy button, and a refusal for a Space that cannot work.

Through the Publish page (AppTest), the CLI (real subprocesses) and the package, against the local Hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import support_runs
from apptest_support import button, open_page, rerun, texts
from hubserver import HubServer

from voxstudio.data import consent
from voxstudio.data.dataset import Dataset
from voxstudio.publish import card, space

finished_runs = support_runs.finished_runs  # fixtures: trained tiny runs (session) and a private copy
runs_home = support_runs.runs_home

ROOT = __import__("conftest").ROOT
TIMEOUT = 180


@pytest.fixture
def hub(monkeypatch):
    """A running local Hub server that the studio talks to (HF_ENDPOINT), with no ambient token."""
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("VOXSTUDIO_HUB_BACKOFF_S", "0.01")
        yield server


def signed_in(run: str, artifact: str | None = None):
    """The Publish page, signed in as alice (typed token), with ``run`` (and ``artifact``) chosen."""
    at = open_page("pages/6_Publish.py", timeout=TIMEOUT)
    at.text_input(key="pub_token").input(HubServer.WRITE_TOKEN)
    rerun(at)
    at.selectbox(key="pub_run").select(run)
    rerun(at)
    if artifact:
        at.radio(key="pub_artifact").set_value(artifact)
        rerun(at)
    return at


def consent_box(at):
    return next(c for c in at.checkbox if c.key.startswith("pub_consent_"))


def widget_order(at) -> list[str]:
    """Keys of the page's widgets in the order a user sees them."""
    return [node.key for node in at.main if getattr(node, "key", None)]


def cli(*argv, endpoint: str, token: str | None = HubServer.WRITE_TOKEN):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update(PYTHONPATH=str(ROOT), VOXSTUDIO_HUB_BACKOFF_S="0.05", OMP_NUM_THREADS="2", HF_ENDPOINT=endpoint)
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "voxstudio", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def one_sentence_refusal(done) -> str:
    """The error line of a refused command: exit 1, one line, no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


# ------------------------------------------------------------------------------------ the package (fast)


def test_consent_to_publish_is_recorded_with_the_dataset_and_covers_only_what_it_says(home):
    ds = Dataset.create("my-voice", languages=["fr"], speaker="Alice",
                        consent={"given": True, "speaker": "Alice", "statement": "I agree.", "given_at": "x"})
    with pytest.raises(ValueError, match=r"no consent to publish .*`voxstudio dataset consent my-voice"):
        consent.check(ds.info, "my-voice", public=False)  # the recording consent does not cover publishing

    record = ds.consent_to_publish("Alice", public=False)
    stored = json.loads((ds.path / "dataset.json").read_text(encoding="utf-8"))["publish_consent"]
    assert stored == record and stored["speaker"] == "Alice" and stored["visibility"] == "private"
    assert stored["statement"].startswith("I am Alice, the speaker of the recordings in dataset 'my-voice'")
    assert "private repository" in stored["statement"] and stored["given_at"][:4].isdigit()
    assert consent.check(ds.info, "my-voice", public=False) == record
    with pytest.raises(ValueError, match=r"publicly \(only to a private repository\).*--public`"):
        consent.check(ds.info, "my-voice", public=True)  # a private consent never covers a public repo
    ds.consent_to_publish("Alice", public=True)
    assert consent.check(ds.info, "my-voice", public=False)["visibility"] == "public"  # public covers private
    assert ds.info["consent"]["statement"] == "I agree."  # the recording consent is left as it was
    text = card.render_dataset_card(ds.info, ds.stats(), {"train": 0}, licence="cc0-1.0")
    assert f"“{ds.info['publish_consent']['statement']}”" in text


def test_cli_records_and_withdraws_the_consent(home, capsys):
    from voxstudio.cli import main

    Dataset.create("my-voice", languages=["fr"], speaker="Alice")
    assert main(["dataset", "consent", "my-voice"]) == 1
    assert "--speaker" in capsys.readouterr().err
    assert main(["dataset", "consent", "my-voice", "--speaker", "Alice", "--public", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["publish_consent"]["visibility"] == "public"
    assert Dataset.open("my-voice").info["publish_consent"] == answer["publish_consent"]
    assert main(["dataset", "consent", "my-voice", "--withdraw"]) == 0
    assert consent.stored(Dataset.open("my-voice").info) is None


def test_a_space_for_an_adapter_whose_base_is_not_on_the_hub_is_refused(hub):
    """`deploy-demo` (space.deploy_demo) reads the adapter's base and refuses before creating anything."""
    for base in ("tiny", "/home/alice/models/voxtral"):
        hub.add_repo(f"alice/voice-{len(base)}", "alice", private=False, files={
            "README.md": b"---\nlicense: mit\n---\n# voice\n\nA LoRA adapter.\n",
            "adapter_config.json": json.dumps({"base_model_name_or_path": base}).encode()})
        with pytest.raises(ValueError, match="No demo Space can load this adapter.*merged model"):
            space.deploy_demo(f"alice/voice-{len(base)}", "demo", HubServer.WRITE_TOKEN, endpoint=hub.endpoint)
    assert not [k for k in hub.repos if k[0] == "space"]


# ------------------------------------------------------------------------------------ the Publish page


@pytest.mark.slow
def test_page_asks_licences_and_consent_then_shows_every_file_and_card_that_arrive(runs_home, hub):
    at = signed_in("pub-lora", "adapter")
    at.toggle(key="pub_with_dataset").set_value(True)
    rerun(at)
    # No licence is chosen for the user, and nothing can be prepared (let alone pushed) before the steps.
    assert at.selectbox(key="pub_licence").value is None and at.selectbox(key="pub_data_licence").value is None
    assert button(at, "pub_prepare").disabled and not [b for b in at.button if b.key == "pub_push"]
    assert "choose the model's licence" in texts(at)
    at.selectbox(key="pub_licence").select("mit")
    at.selectbox(key="pub_data_licence").select("cc-by-nc-4.0")
    rerun(at)
    assert button(at, "pub_prepare").disabled and "tick their consent to publish" in texts(at)
    box = consent_box(at)
    assert not box.value
    assert box.label.startswith("I am Tess, the speaker of the recordings in dataset 'pub-voice'")
    assert "private repository" in box.label
    assert consent.stored(Dataset.open("pub-voice").info) is None
    box.check()
    rerun(at)
    assert not button(at, "pub_prepare").disabled
    button(at, "pub_prepare").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    stored = Dataset.open("pub-voice").info["publish_consent"]  # recorded with the dataset, before any push
    assert stored["speaker"] == "Tess" and stored["statement"] == box.label and stored["given_at"]
    assert not hub.repos

    # Every file that will be uploaded, to which repo, with its size; and each recording inside them.
    files = at.dataframe[0].value
    uploads = {(r, f): b for r, f, b in zip(files["repo"], files["file"], files["bytes"], strict=True)}
    assert {("alice/pub-lora", "adapter_model.safetensors"), ("alice/pub-lora", "README.md"),
            ("alice/pub-lora-data", "README.md")} <= set(uploads)
    parquets = [f for r, f in uploads if r == "alice/pub-lora-data" and f.endswith(".parquet")]
    assert parquets
    recordings = at.dataframe[1].value
    ds = Dataset.open("pub-voice")
    on_disk = {f"audio/{c.clip_id}.wav": ds.audio_path(c).stat().st_size for c in ds.clips()}
    shown = dict(zip(recordings["recording"], recordings["bytes"], strict=True))
    assert shown and set(shown) <= set(on_disk)
    assert all(size == on_disk[name] for name, size in shown.items())  # each recording, with its byte size
    assert set(recordings["in"]) <= set(parquets)
    assert f"{len(shown)} recordings of your voice" in texts(at)

    # Both cards are readable before the push: rendered, and as raw text.
    model_preview = at.text_area(key="pub_card_model").value
    data_preview = at.text_area(key="pub_card_dataset").value
    assert "library_name: peft" in model_preview and "task_categories" in data_preview
    assert "This adapter is shared under `mit`." in model_preview
    assert f"“{stored['statement']}”" in data_preview and "shared under `cc-by-nc-4.0`" in data_preview
    assert any("## Licence" in m.value for m in at.markdown)

    button(at, "pub_push").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    model_files = hub.files("alice/pub-lora")
    data_files = hub.files("alice/pub-lora-data", "dataset")
    # What was previewed is exactly what arrived, byte for byte; and every listed file, with its size.
    assert model_files["README.md"] == model_preview.encode("utf-8")
    assert data_files["README.md"] == data_preview.encode("utf-8")
    arrived = {("alice/pub-lora", f): len(b) for f, b in model_files.items()}
    arrived |= {("alice/pub-lora-data", f): len(b) for f, b in data_files.items()}
    assert arrived == uploads
    assert card.parse_front_matter(data_preview)["license"] == "cc-by-nc-4.0"
    assert card.parse_front_matter(model_preview)["license"] == "mit"
    import pyarrow.parquet as pq

    rows = []
    for name in parquets:
        (runs_home.home / "pq").mkdir(exist_ok=True)
        (runs_home.home / "pq" / "x.parquet").write_bytes(data_files[name])
        rows += pq.read_table(runs_home.home / "pq" / "x.parquet", columns=["audio"]).to_pylist()
    assert sorted(f"audio/{r['audio']['path']}" for r in rows) == sorted(shown)

    # A demo Space cannot load an adapter of the built-in tiny model: the page says so and offers no button.
    assert "No demo Space can load this adapter" in "\n".join(w.value for w in at.warning)
    assert "merged model" in "\n".join(w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "pub_deploy"]
    assert not [k for k in hub.repos if k[0] == "space"]


@pytest.mark.slow
def test_page_refuses_a_public_dataset_push_with_a_private_only_consent(runs_home, hub):
    Dataset.open("pub-voice").consent_to_publish("Tess", public=False)
    at = signed_in("pub-full")
    at.toggle(key="pub_private").set_value(False)
    at.toggle(key="pub_with_dataset").set_value(True)
    at.selectbox(key="pub_licence").select("apache-2.0")
    rerun(at)
    at.selectbox(key="pub_data_licence").select("cc0-1.0")
    rerun(at)
    box = consent_box(at)
    assert "public repository" in box.label and not box.value  # a new statement: asked afresh
    assert button(at, "pub_prepare").disabled
    at.toggle(key="pub_private").set_value(True)
    rerun(at)
    assert consent_box(at).value and "Agreed on" in texts(at)  # exactly this statement was agreed to before


@pytest.mark.slow
def test_private_model_asks_the_read_token_before_the_deploy_button(runs_home, hub):
    at = signed_in("pub-full")
    at.selectbox(key="pub_licence").select("apache-2.0")
    rerun(at)
    button(at, "pub_prepare").click()
    rerun(at)
    button(at, "pub_push").click()
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    assert hub.repo("alice/pub-full").private
    order = widget_order(at)
    assert order.index("pub_read_token") < order.index("pub_deploy")
    assert at.text_input(key="pub_read_token").proto.type == at.text_input(key="pub_read_token").proto.PASSWORD
    assert button(at, "pub_deploy").disabled and "needs a **read** token" in texts(at)
    at.text_input(key="pub_read_token").input(HubServer.READ_TOKEN)
    rerun(at)
    button(at, "pub_deploy").click()  # the first click deploys: the question came before the button
    rerun(at)
    assert not at.error, [e.value for e in at.error]
    repo = hub.repo("alice/pub-full-demo", "space")
    assert {k: v["value"] for k, v in repo.secrets.items()} == {"HF_TOKEN": HubServer.READ_TOKEN}


# ------------------------------------------------------------------------------------ the CLI


@pytest.mark.slow
def test_cli_refuses_a_push_without_licence_or_consent_and_changes_nothing(runs_home, hub):
    no_licence = one_sentence_refusal(cli("publish", "--run", "pub-lora", "--repo", "x", endpoint=hub.endpoint))
    assert "Choose a licence for the model with --licence" in no_licence and "apache-2.0" in no_licence
    no_data_licence = one_sentence_refusal(cli("publish", "--run", "pub-lora", "--repo", "x", "--licence", "mit",
                                               "--with-dataset", endpoint=hub.endpoint))
    assert "--data-licence" in no_data_licence
    no_consent = one_sentence_refusal(cli("publish", "--run", "pub-lora", "--repo", "x", "--licence", "mit",
                                          "--with-dataset", "--data-licence", "cc-by-4.0", endpoint=hub.endpoint))
    assert "no consent to publish" in no_consent
    assert "`voxstudio dataset consent pub-voice --speaker NAME`" in no_consent
    push = one_sentence_refusal(cli("push-dataset", "pub-voice", "--repo", "d", "--licence", "cc-by-4.0",
                                    endpoint=hub.endpoint))
    assert "no consent to publish" in push
    assert not hub.repos and not hub.requests  # refused before a single request reached the Hub

    done = cli("dataset", "consent", "pub-voice", "--speaker", "Tess", endpoint=hub.endpoint)
    assert done.returncode == 0 and "I am Tess" in done.stdout, done.stderr
    public = one_sentence_refusal(cli("push-dataset", "pub-voice", "--repo", "d", "--licence", "cc-by-4.0",
                                      "--public", endpoint=hub.endpoint))
    assert "only to a private repository" in public and "--public`" in public
    assert not hub.repos
    done = cli("push-dataset", "pub-voice", "--repo", "d", "--licence", "cc-by-4.0", endpoint=hub.endpoint)
    assert done.returncode == 0, done.stderr
    readme = hub.files("alice/d", "dataset")["README.md"].decode()
    assert card.parse_front_matter(readme)["license"] == "cc-by-4.0" and "Tess agreed on" in readme
