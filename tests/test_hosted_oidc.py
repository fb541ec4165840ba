"""Two people on one hosted studio in real Chromium, signed in through a local OpenID Connect provider.

One studio (``VOXSTUDIO_AUTH=oidc``, Streamlit's ``st.login`` against ``oidc-provider-mock`` run locally), one
local Hub (tests/hubserver.py) and the stand-in trainer serve the whole module. Alice and Bob each get a private
workspace: a visitor sees the sign-in page only; neither sees, nor reaches by URL parameter or page path, the
other's datasets, runs or token; Bob cannot stop Alice's run, an admin can stop anyone's; their runs queue FIFO
on one worker; the token Alice types (a canary) and the server's own HF_TOKEN end up in no file of the data
home, no argv and no trainer's environment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hosted_helpers import (
    ARGS,
    CHROMIUM,
    SIGN_IN_TITLE,
    assert_only_sign_in,
    browser_or_skip,
    free_port,
    grep_processes,
    grep_tree,
    main_text,
    new_page,
    studio,
)
from hubserver import HubServer, Token
from jobs_helpers import STANDIN_CMD, make_dataset

from voxstudio import hosting, workspace

pytestmark = pytest.mark.browser

ALICE, BOB, ADMIN = "alice@example.org", "bob@example.org", "admin@example.org"
CANARY = "hf_" + "AliceTypedCanary" * 2  # the token Alice types on the Publish page
SERVER_TOKEN = HubServer.WRITE_TOKEN  # the server's own HF_TOKEN: a valid write token, so a leak would show
COOKIE_SECRET = "oidc-test-cookie-secret-0123456789abcdef"
STEPS = 40
STEP_S = 0.4


def _wait_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the OpenID provider did not start:\n" + log.read_text()[-2000:]) from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sync_playwright = browser_or_skip()
    folder = tmp_path_factory.mktemp("hosted-oidc")
    provider_port, port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    provider_log = folder / "provider.log"
    provider = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port",
                                 str(provider_port)], stdout=open(provider_log, "wb"), stderr=subprocess.STDOUT)
    hub = HubServer(tokens={**HubServer.TOKENS, CANARY: Token("alice", "write")}).start()
    try:
        _wait_http(f"{issuer}/.well-known/openid-configuration", provider, provider_log)
        secrets = folder / "secrets.toml"
        secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{COOKIE_SECRET}"
client_id = "voxstudio-test"
client_secret = "voxstudio-test-secret"
server_metadata_url = "{issuer}/.well-known/openid-configuration"
expose_tokens = ["access"]
""")
        env = {"VOXSTUDIO_AUTH": "oidc", "VOXSTUDIO_ADMINS": ADMIN, "VOXSTUDIO_MAX_QUEUED": "2",
               "HF_TOKEN": SERVER_TOKEN, "HF_ENDPOINT": hub.endpoint, "AUTHLIB_INSECURE_TRANSPORT": "1",
               "VOXSTUDIO_TRAINER_CMD": STANDIN_CMD, "STANDIN_STEP_S": str(STEP_S)}
        with studio(folder, env, ["--secrets.files", str(secrets)], port=port) as (url, home, log):
            homes = {}
            for sub, dataset in ((ALICE, "alice-voice"), (BOB, "bob-voice")):
                ident = hosting.oidc_identity({"iss": issuer, "sub": sub})
                homes[sub] = home / "users" / ident.user_id
                homes[sub].mkdir(parents=True)
                with workspace.use_home(homes[sub]):
                    make_dataset(dataset, 6)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    yield {"url": url, "home": home, "homes": homes, "browser": browser, "people": {},
                           "log": log, "hub": hub, "secrets": [CANARY, SERVER_TOKEN]}
                finally:
                    browser.close()
                    _stop_everything(home)
    finally:
        hub.stop()
        provider.terminate()
        provider.wait(timeout=10)


def _stop_everything(home: Path) -> None:
    from jobs_helpers import cleanup_home

    for h in [home, *sorted((home / "users").iterdir())] if (home / "users").is_dir() else [home]:
        with workspace.use_home(h):
            cleanup_home()


def person(box, sub: str):
    """The signed-in browser page of ``sub`` (signed in through the provider's form on first use)."""
    if sub not in box["people"]:
        context, page = new_page(box["browser"])
        page.goto(box["url"])
        page.get_by_text(SIGN_IN_TITLE).wait_for()
        page.get_by_role("button", name="Sign in").click()
        page.locator("input[name=sub]").fill(sub)  # the provider's own sign-in form
        page.get_by_role("button", name="Authorize").click()
        page.get_by_text(f"Signed in as {sub}").wait_for()
        box["people"][sub] = page
    return box["people"][sub]


def test_visitor_sees_only_the_sign_in_page_everywhere(box):
    context, page = new_page(box["browser"])
    try:
        assert_only_sign_in(page, box["url"], never=("alice-voice", "bob-voice"))
    finally:
        context.close()


def test_each_person_sees_only_their_own_workspace(box):
    url = box["url"]
    alice = person(box, ALICE)
    owner = json.loads((box["homes"][ALICE] / ".owner.json").read_text())
    assert owner["email"] == ALICE and owner["auth"] == "oidc"  # the id the gate chose is the one we computed
    text = main_text(alice)
    assert "alice-voice" in text and "bob-voice" not in text
    bob = person(box, BOB)
    text = main_text(bob)
    assert "bob-voice" in text and "alice-voice" not in text
    for path in ("", "Language", "Record", "Review", "Train", "Evaluate", "Publish", "Try"):
        bob.goto(f"{url}/{path}?dataset=alice-voice")  # Alice's dataset by name, on every page
        bob.get_by_text(f"Signed in as {BOB}").wait_for()
        text, html = main_text(bob), bob.content()
        assert "alice-voice" not in text and "alice-voice" not in html, path
        assert str(box["homes"][ALICE]) not in html
    assert not (box["homes"][BOB] / "datasets" / "alice-voice").exists()


def _sign_in_token(box, sub: str) -> str:
    """The provider's access token of ``sub``, read from Streamlit's signed cookie (expose_tokens = access)."""
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

    cookies = box["people"][sub].context.cookies()
    raw = next(c["value"] for c in cookies if c["name"] == "_streamlit_user_tokens")
    return json.loads(decode_signed_value(COOKIE_SECRET, "_streamlit_user_tokens", raw))["access_token"]


def test_tokens_stay_with_their_owner(box):
    url, hub = box["url"], box["hub"]
    alice, bob = person(box, ALICE), person(box, BOB)
    bob_token = _sign_in_token(box, BOB)
    box["secrets"].append(bob_token)
    hub.tokens[bob_token] = Token("bob", "write")  # Bob signed in with "Hugging Face": his token can publish
    bob.goto(f"{url}/Publish")
    bob.get_by_text("Signed in as bob (write token, from your sign-in).").wait_for()  # never the server's
    alice.goto(f"{url}/Publish")  # Alice's sign-in token is not a Hub token here: it is refused, and nothing
    alice.get_by_test_id("stAlert").first.wait_for()  # falls back to the server's HF_TOKEN
    assert "Signed in as alice (" not in main_text(alice) and "from HF_TOKEN" not in main_text(alice)
    field = alice.get_by_label("Hugging Face token", exact=True)
    field.fill(CANARY)
    field.press("Enter")
    alice.get_by_text("Signed in as alice (write token, from typed token).").wait_for()
    bob.reload()
    bob.get_by_text("Signed in as bob (write token, from your sign-in).").wait_for()
    assert CANARY not in bob.content() and "Signed in as alice (" not in main_text(bob)


def _start_run(page, url: str, dataset: str, steps: int) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{url}/Train?dataset={dataset}")
    main_text(page)  # the page's first script run has finished
    for attempt in range(3):  # a run of this person that ends reruns the whole page, closing an open dropdown
        page.get_by_label("Base model").click()
        option = page.get_by_role("option", name=re.compile("^tiny"))
        try:
            option.wait_for(timeout=5000)
            option.click()
            break
        except PlaywrightTimeout:
            assert attempt < 2, "the base-model dropdown never stayed open"
    page.get_by_text("--model tiny", exact=False).wait_for()  # the command-line twin of the form
    page.get_by_text("Advanced settings").click()
    field = page.get_by_label("Max steps")
    field.fill(str(steps))
    field.press("Enter")
    page.get_by_text(f"--max-steps {steps}", exact=False).wait_for()
    page.get_by_role("button", name="Start training").click()
    queued = page.get_by_text(re.compile(r"Run \S+ queued"))
    queued.wait_for()
    return re.search(r"Run (\S+) queued", queued.inner_text()).group(1)


def _state(box, sub: str, run: str) -> dict:
    return json.loads((box["homes"][sub] / "runs" / run / "status.json").read_text())


def test_runs_queue_fifo_on_one_worker_and_only_an_admin_stops_others(box):
    url, homes = box["url"], box["homes"]
    alice, bob, admin = person(box, ALICE), person(box, BOB), person(box, ADMIN)  # signed in before the clock runs
    a1 = _start_run(alice, url, "alice-voice", STEPS)
    alice.get_by_text(re.compile(rf"step [1-9]\d* / {STEPS}")).wait_for()  # the live fragment reruns, bound
    b1 = _start_run(bob, url, "bob-voice", STEPS)
    bob.get_by_text(re.compile(r"Place 1 in this studio's queue: next in line, 1 training now")).wait_for()
    text, html = main_text(bob), bob.content()
    assert a1 not in text and a1 not in html  # Alice's run is counted, never named
    # Bob's own queued run only: it can leave the queue; nothing of Alice's can be stopped from his page
    assert bob.get_by_role("button", name="Cancel").count() == 1 and bob.get_by_role("button", name="Stop").count() == 0
    assert "Everyone's queue" not in text

    job = json.loads((homes[ALICE] / "runs" / a1 / "job.json").read_text())
    environ = Path(f"/proc/{job['pid']}/environ").read_bytes()
    cmdline = Path(f"/proc/{job['pid']}/cmdline").read_bytes()
    assert CANARY.encode() not in environ + cmdline and SERVER_TOKEN.encode() not in environ + cmdline
    assert f"VOXSTUDIO_HOME={homes[ALICE]}".encode() in environ.split(b"\0")  # the owner's home

    a2 = _start_run(alice, url, "alice-voice", STEPS + 1)  # queued behind Bob's
    admin.goto(f"{url}/Train")
    admin.get_by_text("Everyone's queue (admin)").wait_for()
    panel = main_text(admin)
    assert b1 in panel and a2 in panel and ALICE in panel and BOB in panel, panel  # a1 may be done by now
    row = admin.locator("[data-testid=stHorizontalBlock]").filter(has_text=a2)
    row.get_by_role("button", name="Stop").click()
    deadline = time.monotonic() + 20
    while _state(box, ALICE, a2)["state"] != "stopped":
        assert time.monotonic() < deadline, _state(box, ALICE, a2)
        time.sleep(0.2)

    deadline = time.monotonic() + 120
    while not all(_state(box, s, r)["state"] == "succeeded" for s, r in ((ALICE, a1), (BOB, b1))):
        assert time.monotonic() < deadline, (_state(box, ALICE, a1), _state(box, BOB, b1))
        time.sleep(0.5)
    a_job = json.loads((homes[ALICE] / "runs" / a1 / "job.json").read_text())
    b_job = json.loads((homes[BOB] / "runs" / b1 / "job.json").read_text())
    a_end = _state(box, ALICE, a1)["updated_at"]
    assert a_job["started_at"] < b_job["started_at"] and b_job["started_at"] >= a_end - 0.5  # one at a time
    for sub, run in ((ALICE, a1), (BOB, b1)):
        log = (homes[sub] / "runs" / run / "train.log").read_text()
        assert "token in environment: no" in log  # neither the server's HF_TOKEN nor anyone's typed one
    assert "start" in (homes[BOB] / "order.txt").read_text()  # Bob's trainer wrote into Bob's home


def test_no_script_run_failed(box):
    log = box["log"].read_text()
    assert "Traceback" not in log and "PermissionError" not in log, log[-3000:]


def test_no_token_in_any_file_or_command_line(box):
    leaks = grep_tree(box["home"], box["secrets"])  # typed, signed-in and the server's: none on disk
    assert not leaks, leaks
    assert not grep_processes(box["secrets"])
