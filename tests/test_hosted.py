"""A hosted studio without a browser: sign-in rules, one home per person, one fair queue, tokens, uploads only.

The browser journeys (real sign-in in Chromium, two people) are tests/test_hosted_oidc.py and
tests/test_hosted_password.py; here the same rules are checked where they live (``voxstudio.hosting``,
``workspace``, ``runs``, ``data.importers``) and every page is opened through AppTest without signing in.
"""

from __future__ import annotations

import hmac
import io
import json
import threading
import time
import zipfile

import pytest
from apptest_support import ROOT, texts
from jobs_helpers import cleanup_home, make_dataset, use_standin_trainer, wait_raw
from streamlit.testing.v1 import AppTest

from voxstudio import hosting, workspace
from voxstudio.data import importers
from voxstudio.runs import queue, runfolder
from voxstudio.runs import status as runstatus
from voxstudio.studio import wizard
from voxstudio.training.config import new_config

PASSWORD = "correct horse battery"
SERVER_TOKEN = "hf_" + "SERVERcanary" * 3
TRAINER_TOKEN = "hf_" + "TRAINERread" * 3


@pytest.fixture
def hosted(home, monkeypatch):
    monkeypatch.setenv("VOXSTUDIO_AUTH", "password")
    monkeypatch.setenv("VOXSTUDIO_PASSWORD", PASSWORD)
    monkeypatch.setenv("VOXSTUDIO_SECRET", "test-secret-" + "x" * 20)
    yield home
    workspace.set_resolver(None)
    workspace.bind_session_home(None)


# ------------------------------------------------------------------------------------------------ settings


def test_modes_and_what_each_needs(monkeypatch):
    monkeypatch.delenv("VOXSTUDIO_AUTH", raising=False)
    assert hosting.auth_mode() == "none" and not hosting.is_hosted() and hosting.config_problems() == []
    monkeypatch.setenv("VOXSTUDIO_AUTH", "passwd")
    with pytest.raises(ValueError, match="not a sign-in mode"):
        hosting.is_hosted()  # a typo never opens the studio
    monkeypatch.setenv("VOXSTUDIO_AUTH", "password")
    monkeypatch.setenv("VOXSTUDIO_PASSWORD", "short")
    assert "at least 8 characters" in hosting.config_problems()[0]
    assert not hosting.check_password("short")  # a too-short password never lets anyone in
    monkeypatch.setenv("VOXSTUDIO_AUTH", "oidc")
    assert hosting.config_problems() == []  # Authlib is a requirement
    monkeypatch.setenv("VOXSTUDIO_MAX_QUEUED", "2")
    assert hosting.max_queued() == 2


def test_password_is_compared_in_constant_time(hosted, monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hosting.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert hosting.check_password(PASSWORD) and not hosting.check_password(PASSWORD + " ")
    assert not hosting.check_password("") and len(calls) == 3
    assert all(len(a) == len(b) == 32 for a, b in calls)  # digests: the typed length leaks nothing


def test_wrong_passwords_wait_longer_and_longer():
    limiter = hosting.SignInLimiter()
    now = 1000.0
    for _ in range(limiter.FREE):
        assert limiter.wait_s("1.2.3.4", now) == 0
        limiter.failed("1.2.3.4", now)
    assert limiter.wait_s("1.2.3.4", now) == limiter.FIRST_WAIT_S
    assert limiter.wait_s("5.6.7.8", now) == 0  # another client is not held up
    limiter.failed("1.2.3.4", now)
    assert limiter.wait_s("1.2.3.4", now) == 2 * limiter.FIRST_WAIT_S
    assert limiter.wait_s("1.2.3.4", now + 2 * limiter.FIRST_WAIT_S) == 0
    assert "wait 60 s" in hosting.wait_sentence(limiter.wait_s("1.2.3.4", now))
    limiter.succeeded("1.2.3.4")
    assert limiter.wait_s("1.2.3.4", now) == 0


def test_session_token_is_signed_expires_and_dies_with_the_password(hosted, monkeypatch):
    token = hosting.sign_session("owner")
    assert hosting.verify_session(token) == "owner" and PASSWORD not in token
    payload, signature = token.split(".")
    assert hosting.verify_session(f"{payload}.{signature[:-2]}xx") is None  # tampered signature
    forged = hosting._b64(json.dumps({"u": "owner", "exp": int(time.time()) + 10**6, "n": "0"}).encode())
    assert hosting.verify_session(f"{forged}.{signature}") is None  # payload swapped under a real signature
    assert hosting.verify_session(hosting.sign_session("owner", ttl_s=-1)) is None  # expired
    assert hosting.verify_session("") is None and hosting.verify_session("a.b.c") is None
    monkeypatch.setenv("VOXSTUDIO_PASSWORD", PASSWORD + " new")
    assert hosting.verify_session(token) is None  # a new password signs everyone out
    monkeypatch.delenv("VOXSTUDIO_SECRET")
    first = hosting.sign_session("owner")  # no secret configured: one is made and kept, 0600, in the root
    secret_file = workspace.root() / hosting.SECRET_FILE
    assert secret_file.stat().st_mode & 0o777 == 0o600 and hosting.verify_session(first) == "owner"


def test_identity_is_a_stable_opaque_id_and_admins_by_id_or_email(monkeypatch):
    alice = hosting.oidc_identity({"iss": "https://huggingface.co", "sub": "123", "email": "a@x.org", "name": "A"})
    again = hosting.oidc_identity({"iss": "https://huggingface.co", "sub": "123", "email": "new@x.org"})
    other = hosting.oidc_identity({"iss": "https://evil.example", "sub": "123"})
    assert alice.user_id == again.user_id != other.user_id  # the subject decides, the issuer separates
    assert workspace.is_slug(alice.user_id) and "123" not in alice.user_id
    assert hosting.oidc_identity({"email": "no-sub@x.org"}) is None
    unverified = hosting.oidc_identity({"iss": "x", "sub": "9", "email": "a@x.org", "email_verified": False})
    assert unverified.email == ""  # an unverified e-mail never makes anyone an admin
    monkeypatch.setenv("VOXSTUDIO_ADMINS", f"A@X.org, {other.user_id}")
    assert hosting.is_admin(alice) and hosting.is_admin(other) and not hosting.is_admin(again)
    assert not hosting.is_admin(None)


# ------------------------------------------------------------------------------------------------ homes


def test_each_thread_works_in_its_own_home(hosted):
    """Streamlit sessions are threads of one process: a home bound in one is invisible to another."""
    seen = {}
    barrier = threading.Barrier(2)

    def person(user: str):
        workspace.bind_session_home(workspace.user_home(user))
        barrier.wait()
        seen[user] = (workspace.home(), workspace.datasets_dir())

    threads = [threading.Thread(target=person, args=(u,)) for u in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["alice"][0] == hosted / "users" / "alice" and seen["bob"][1] == hosted / "users" / "bob" / "datasets"
    assert workspace.home() == hosted  # this thread never bound one
    with workspace.use_home(workspace.user_home("carol")):
        assert workspace.home().name == "carol"
    assert workspace.home() == hosted


def test_a_studio_run_without_a_sign_in_reaches_no_home(hosted):
    from voxstudio.studio import signin

    workspace.set_resolver(signin._resolve)  # what the gate installs
    with pytest.raises(PermissionError, match="Nobody is signed in"):
        workspace.home()
    assert not hosting.server_paths_allowed()  # fail closed


@pytest.mark.parametrize("page", ["Home.py", *[s.page for s in (*wizard.STEPS, *wizard.EXTRA_PAGES)]])
def test_every_page_shows_only_the_sign_in_page(hosted, page):
    workspace.bind_session_home(workspace.user_home("owner"))
    make_dataset("secret-voice", 2)  # the owner's data exists, but nobody is signed in
    workspace.bind_session_home(None)
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.query_params["dataset"] = "secret-voice"
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["voxstudio · sign in"]
    shown = texts(at)
    for secret in ("secret-voice", "Workspace", "GPU", "CPU", "HF_TOKEN", "Current dataset"):
        assert secret not in shown
    assert [w.label for w in at.text_input] == ["Password"] and not at.selectbox and not at.dataframe


def test_signed_in_owner_sees_their_own_workspace(hosted):
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception and [t.value for t in at.title] == ["voxstudio"]
    assert "Signed in as **studio owner**" in texts(at)
    assert (hosted / "users" / "owner" / ".owner.json").is_file()
    assert "your own, private" in texts(at)


# ------------------------------------------------------------------------------------------------ queue


def _cfg(run: str, steps: int = 4, **kw):
    kw.setdefault("base_model", "tiny")
    return new_config(run_name=run, dataset="voice", max_steps=steps, **kw)


def test_one_fifo_queue_for_everyone_and_trainers_get_their_owners_home(hosted, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SERVER_TOKEN)
    use_standin_trainer(monkeypatch, step_s=0.05)
    homes = {user: workspace.user_home(user) for user in ("alice", "bob")}
    for home in homes.values():
        with workspace.use_home(home):
            make_dataset("voice", 2)
    try:
        order = [("alice", "a1"), ("bob", "b1"), ("alice", "a2"), ("bob", "b2")]
        for n, (user, run) in enumerate(order):
            with workspace.use_home(homes[user]):
                queue.create_run(_cfg(run, steps=4 + n))  # distinct settings
            time.sleep(0.02)
        with workspace.use_home(homes["bob"]):
            assert runstatus.queue_position("b1") == (2, 0) and runstatus.queue_position("a1") is None
            queue.start("b1")  # one supervisor for the box, whoever starts it
        for user, run in order:
            with workspace.use_home(homes[user]):
                wait_raw(run, "succeeded", timeout=60)
        starts = []
        for user, run in order:
            folder = homes[user] / "runs" / run
            job = runfolder.read_json(folder / runfolder.JOB)
            starts.append((job["started_at"], run, runfolder.read_status(folder)["updated_at"]))
            log = (folder / runfolder.LOG).read_text()
            assert "token in environment: no" in log and SERVER_TOKEN not in log  # the server's token stays
        assert [r for _, r, _ in sorted(starts)] == ["a1", "b1", "a2", "b2"]  # FIFO across people
        for (_, _, ended), (started, _, _) in zip(sorted(starts), sorted(starts)[1:]):
            assert started >= ended - 0.5  # one at a time (the next starts once the previous has ended)
        for user in homes:  # each trainer ran with VOXSTUDIO_HOME = its owner's home
            assert (homes[user] / "order.txt").read_text().count("start") == 2
        assert (hosted / "runs" / ".supervisor.lock").exists()  # the box's lock, in the root
    finally:
        for home in homes.values():
            with workspace.use_home(home):
                cleanup_home()


def test_trainers_get_only_the_operators_read_token(hosted, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SERVER_TOKEN)
    env = hosting.trainer_env({"HF_TOKEN": SERVER_TOKEN, "VOXSTUDIO_PASSWORD": PASSWORD, "PATH": "/bin"})
    assert env == {"PATH": "/bin", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"}  # not even a stored login token
    monkeypatch.setenv(hosting.TRAINER_TOKEN_ENV, TRAINER_TOKEN)
    assert hosting.trainer_env({"HF_TOKEN": SERVER_TOKEN})["HF_TOKEN"] == TRAINER_TOKEN
    assert hosting.server_hub_token() == TRAINER_TOKEN  # preflight's model check uses the same
    monkeypatch.setenv("VOXSTUDIO_AUTH", "none")
    assert hosting.trainer_env({"HF_TOKEN": SERVER_TOKEN})["HF_TOKEN"] == SERVER_TOKEN  # local: as before
    from voxstudio.publish import release

    assert release.token_from_environment() == SERVER_TOKEN
    monkeypatch.setenv("VOXSTUDIO_AUTH", "password")
    assert release.token_from_environment() == ""  # hosted: never offered to a visitor


def test_per_person_limit_of_queued_runs_and_admin_stop(hosted, monkeypatch):
    monkeypatch.setenv("VOXSTUDIO_MAX_QUEUED", "2")
    alice, bob = workspace.user_home("alice"), workspace.user_home("bob")
    for home in (alice, bob):
        with workspace.use_home(home):
            make_dataset("voice", 2)
    workspace.bind_session_home(alice)
    queue.create_run(_cfg("a1", 4))
    queue.create_run(_cfg("a2", 5))
    with pytest.raises(queue.QuotaError, match="allows 2 per person"):
        queue.create_run(_cfg("a3", 6))
    assert not (alice / "runs" / "a3").exists()
    with workspace.use_home(bob):
        queue.create_run(_cfg("b1", 4))  # another person's quota is their own
        with pytest.raises(FileNotFoundError):
            queue.stop("a1")  # bob's stop reaches bob's runs only
    assert runstatus.status("a1").state == "queued"
    with pytest.raises(ValueError, match="folder on the server"):
        queue.create_run(_cfg("a4", 7, base_model=str(bob / "runs" / "b1")))  # not even through a base model
    assert queue.stop_in(alice, "a1").state == "stopped"  # an admin's Stop
    queue.create_run(_cfg("a3", 6))  # a slot is free again


# ------------------------------------------------------------------------------------------------ imports


def test_hosted_imports_take_uploads_only(hosted, clips, tmp_path):
    workspace.bind_session_home(workspace.user_home("owner"))
    from voxstudio.data.dataset import Dataset

    ds = Dataset.create("up", languages=["en"], speaker="me")
    wav = clips[0]["path"]
    with pytest.raises(ValueError, match="imports uploaded files only"):
        importers.import_source(ds, wav.parent)  # a folder on the server
    with pytest.raises(ValueError, match="imports uploaded files only"):
        importers.import_source(ds, wav)
    server_file = tmp_path / "server-only.wav"  # exists on the server, never uploaded
    server_file.write_bytes(clips[1]["path"].read_bytes())
    manifest = "\n".join(json.dumps({"audio_path": p, "text": "hello"}) for p in
                         (str(server_file), "../../etc/x.wav", "~/y.wav", wav.name)) + "\n"
    report = importers.import_uploads(ds, [("manifest.jsonl", manifest.encode()), (wav.name, wav.read_bytes())],
                                      language="en")
    reasons = " | ".join(f"{item}: {why}" for item, why in report.refused)
    assert len(report.imported) == 1, reasons  # the uploaded file itself, nothing from the server
    assert "server-only.wav" in reasons and "not uploaded" in reasons  # refused: it names a server file
    assert len(ds.clips()) == 1 and "server-only" not in json.dumps([c.__dict__ for c in ds.clips()], default=str)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/manifest.jsonl", json.dumps({"audio_path": str(server_file), "text": "hi"}) + "\n")
        link = zipfile.ZipInfo("pack/link.wav")
        link.external_attr = 0o120777 << 16  # a symbolic link entry: never unpacked as a link
        zf.writestr(link, str(server_file))
    report = importers.import_uploads(ds, [("pack.zip", buf.getvalue())], language="en")
    assert not report.imported and len(ds.clips()) == 1, report.refused
    assert hosting.link_refusal(wav) is None  # a plain file
    (tmp_path / "l.wav").symlink_to(wav)
    assert "symbolic link" in hosting.link_refusal(tmp_path / "l.wav")
    assert "is a path on the server" in hosting.path_refusal("/etc/passwd")
    assert "leaves the upload" in hosting.path_refusal("a/../../b.wav") and hosting.path_refusal("a/b.wav") is None
    workspace.bind_session_home(None)
    assert hosting.server_paths_allowed()  # the operator's CLI on the same box may read server paths
    assert hosting.path_refusal("/etc/passwd") is None
