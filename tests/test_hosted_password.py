"""The password mode in real Chromium: one studio (``VOXSTUDIO_AUTH=password``) for the whole module.

Visitors see the sign-in page only, on every page path and with any ``?dataset=``; the right password signs in
and a signed, expiring cookie keeps a reload signed in; a new browser, a tampered or an expired cookie do not;
signing out ends it; wrong passwords are rate-limited with a "wait N s" sentence (last: it locks this client).
"""

from __future__ import annotations

import os
import re

import pytest
from hosted_helpers import (
    ARGS,
    CHROMIUM,
    SIGN_IN_TITLE,
    assert_only_sign_in,
    browser_or_skip,
    main_text,
    new_page,
    studio,
)
from jobs_helpers import make_dataset

from voxstudio import hosting, workspace

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SECRET = "hosted-password-test-secret-0123456789"
SERVER_TOKEN = "hf_" + "PWserverCanary" * 3


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sync_playwright = browser_or_skip()
    folder = tmp_path_factory.mktemp("hosted-password")
    env = {"VOXSTUDIO_AUTH": "password", "VOXSTUDIO_PASSWORD": PASSWORD, "VOXSTUDIO_SECRET": SECRET,
           "HF_TOKEN": SERVER_TOKEN}
    with studio(folder, env) as (url, home, log):
        owner = home / "users" / "owner"  # the one owner's workspace, with a dataset in it
        owner.mkdir(parents=True)
        with workspace.use_home(owner):
            make_dataset("owners-voice", 2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield url, home, browser
            finally:
                browser.close()


def _sign_in(page, url: str, password: str = PASSWORD) -> None:
    page.goto(url)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _try_password(page, password: str) -> str:
    """Type and submit one password; the page's text once that script run has finished."""
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("stAlert").first.wait_for()
    page.wait_for_timeout(800)  # this submit's script run, not the last one's alert
    text = main_text(page)
    page.get_by_label("Password", exact=True).fill("")
    return text


def _token(secret_env: dict, **kw) -> str:
    """A session token as the server would sign it (same secret and password), for cookie tests."""
    saved = {k: os.environ.get(k) for k in secret_env}
    os.environ.update(secret_env)
    try:
        return hosting.sign_session(hosting.PASSWORD_USER, **kw)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_visitor_sees_only_the_sign_in_page_everywhere(box):
    url, home, browser = box
    context, page = new_page(browser)
    try:
        assert_only_sign_in(page, url, never=("owners-voice",))
    finally:
        context.close()


def test_password_signs_in_and_the_cookie_keeps_it(box):
    url, home, browser = box
    context, page = new_page(browser)
    try:
        _sign_in(page, url)
        page.get_by_text("Signed in as studio owner").wait_for()
        assert "owners-voice" in main_text(page)  # the owner's own workspace
        cookie = next(c for c in context.cookies() if c["name"] == hosting.COOKIE_NAME)
        assert PASSWORD not in cookie["value"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
        page.reload()  # a new Streamlit session: the signed cookie signs it in
        page.get_by_text("Signed in as studio owner").wait_for()
        page.goto(f"{url}/Train")
        page.get_by_text("Signed in as studio owner").wait_for()

        other, other_page = new_page(browser)  # another browser without the cookie
        try:
            other_page.goto(url)
            other_page.get_by_text(SIGN_IN_TITLE).wait_for()
            env = {"VOXSTUDIO_PASSWORD": PASSWORD, "VOXSTUDIO_SECRET": SECRET}
            for bad in (cookie["value"][:-3] + "AAA", _token(env, ttl_s=-5), _token({**env,
                        "VOXSTUDIO_SECRET": "another-secret-0123456789"})):
                other.add_cookies([{"name": hosting.COOKIE_NAME, "value": bad, "url": url}])
                other_page.goto(f"{url}/Review")
                other_page.get_by_text(SIGN_IN_TITLE).wait_for()
                assert "Signed in as" not in main_text(other_page)
            other.add_cookies([{"name": hosting.COOKIE_NAME, "value": _token(env), "url": url}])
            other_page.goto(url)  # a valid one (as the server signs) does sign in: the check is the signature
            other_page.get_by_text("Signed in as studio owner").wait_for()
        finally:
            other.close()

        page.get_by_role("button", name="Sign out").click()
        page.get_by_text(SIGN_IN_TITLE).wait_for()
        page.wait_for_function(f"() => !document.cookie.includes('{hosting.COOKIE_NAME}=')")
        context.add_cookies([{"name": hosting.COOKIE_NAME, "value": cookie["value"], "url": url}])  # replayed:
        page.reload()
        page.get_by_text(SIGN_IN_TITLE).wait_for()  # that token was revoked at sign-out
        assert "Signed in as" not in main_text(page)
    finally:
        context.close()


def test_wrong_passwords_are_rate_limited(box):
    """Last in this module: it locks this client (127.0.0.1) out for a while."""
    url, home, browser = box
    context, page = new_page(browser)
    try:
        page.goto(url)
        page.get_by_text(SIGN_IN_TITLE).wait_for()
        for n in range(hosting.SignInLimiter.FREE):
            text = _try_password(page, f"wrong {n}")
            assert "Wrong password." in text, text[-500:]
        assert re.search(r"Too many wrong passwords from this browser: wait 30 s before trying again", text), text
        text = _try_password(page, PASSWORD)  # even the right one waits now
        assert re.search(r"Too many wrong passwords from this browser: wait \d+ s", text), text[-500:]
        assert "Signed in as" not in text
        fresh, fresh_page = new_page(browser)  # a new browser session from the same client waits too
        try:
            _sign_in(fresh_page, url)
            fresh_page.get_by_text(re.compile(r"wait \d+ s before trying again")).wait_for()
        finally:
            fresh.close()
    finally:
        context.close()
