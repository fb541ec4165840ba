"""The sign-in gate of a hosted studio (``VOXSTUDIO_AUTH=password|oidc``, settings: ``voxstudio.hosting``).

:func:`gate` runs first on every page (``wizard.page_setup``, Home included), before anything that reads the
data home: a visitor who is not signed in gets the sign-in page and ``st.stop()`` — no dataset, run, hardware or
token, whatever the URL. A signed-in person's script run is bound to their own home (``users/<user_id>/``) with
``workspace.bind_session_home`` (a context variable of the script thread, never os.environ); callbacks and
fragment reruns, which Streamlit may run on a fresh thread before any gate, reach the same home through the
resolver installed here, which reads this session's identity and refuses (PermissionError) when there is none.

- **password**: one shared ``VOXSTUDIO_PASSWORD``, one owner (``hosting.PASSWORD_USER``), one workspace. The
  comparison is constant time and wrong tries are rate-limited per client address (``hosting.LIMITER``).
  Signing in stores the identity in ``st.session_state`` and sets an HMAC-signed, expiring session cookie
  (``hosting.sign_session``) from a script in ``st.html`` (our own, never user input) — Streamlit only reads cookies
  (``st.context.cookies``) — so a reload or a new tab stays signed in; signing out revokes that token.
- **oidc**: Streamlit's ``st.login`` / ``st.user`` / ``st.logout`` with the provider of ``.streamlit/secrets.toml``
  ``[auth]`` (Hugging Face's OpenID Connect in the README); the id is a hash of the token's issuer and subject.
  With ``expose_tokens = ["access"]`` the provider's access token is the person's own Hub token
  (:func:`hub_token`), kept in their session only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from voxstudio import atomicfile, hosting, workspace

IDENTITY_KEY = "signin_identity"  # {"user_id", "name", "email", "exp"} of this browser session
COOKIE_TOKEN_KEY = "signin_cookie_token"  # the session token this session's cookie carries
SIGNED_OUT_KEY = "signin_signed_out"  # the cookie still has to be expired in the browser
OWNER_FILE = ".owner.json"  # in each person's home: who it belongs to (for the operator and the admin queue)
_revoked: set[str] = set()  # session tokens signed out in this process


def _resolve() -> Path | None:
    """The signed-in person's home for code that runs before (or without) this run's gate."""
    if not hosting.is_hosted():
        return None
    ident = current_identity() if get_script_run_ctx(suppress_warning=True) is not None else None
    if ident is None:
        raise PermissionError("Nobody is signed in: a hosted studio opens a workspace only for a signed-in person.")
    return hosting.home_for(ident)


def current_identity() -> hosting.Identity | None:
    """The person signed in to this browser session (None when nobody is, or their sign-in expired)."""
    data = st.session_state.get(IDENTITY_KEY)
    if not isinstance(data, dict) or float(data.get("exp") or 0) <= time.time():
        return None
    return hosting.Identity(data["user_id"], data.get("name", ""), data.get("email", ""))


def gate() -> hosting.Identity | None:
    """Let a signed-in person through (bound to their home) or show the sign-in page and stop; local: None."""
    workspace.set_resolver(_resolve)
    workspace.bind_session_home(None)
    if not hosting.is_hosted():
        return None
    problems = hosting.config_problems()
    if problems:
        _hide_navigation()
        st.error("This studio cannot open: " + " ".join(problems))
        st.stop()
    mode = hosting.auth_mode()
    ident = _oidc_identity() if mode == "oidc" else _password_identity()
    if ident is None:
        st.session_state.pop(IDENTITY_KEY, None)
        _sign_in_page(mode)
        st.stop()
    home = hosting.home_for(ident)
    workspace.bind_session_home(home)
    _record_owner(home, ident, mode)
    _sidebar(ident, mode)
    return ident


def hub_token() -> str:
    """The signed-in person's own Hub token from the provider (OIDC with ``expose_tokens``), else ""."""
    if hosting.auth_mode() != "oidc" or current_identity() is None:
        return ""
    try:
        return str(st.user.tokens.get("access") or "").strip()
    except Exception:  # noqa: BLE001 - no tokens exposed (or an older Streamlit): the person pastes one
        return ""


def is_admin() -> bool:
    return hosting.is_hosted() and hosting.is_admin(current_identity())


# ------------------------------------------------------------------------------------------------ password


def _client() -> str:
    """Whom wrong passwords are counted against: the address Streamlit sees (behind a proxy: the proxy's)."""
    return st.context.ip_address or "local"


def _remember(ident: hosting.Identity, exp: float) -> None:
    st.session_state[IDENTITY_KEY] = {"user_id": ident.user_id, "name": ident.name, "email": ident.email,
                                      "exp": exp}


def _password_identity() -> hosting.Identity | None:
    if current_identity() is not None:
        return current_identity()
    token = st.context.cookies.get(hosting.COOKIE_NAME)
    if token and token not in _revoked and hosting.verify_session(token) == hosting.PASSWORD_USER:
        ident = hosting.password_identity()
        _remember(ident, time.time() + hosting.SESSION_TTL_S)
        st.session_state[COOKIE_TOKEN_KEY] = token
        return ident
    return None


def _cookie_script(value: str, max_age: int) -> None:
    """Set (or, with max_age 0, expire) the session cookie from the browser (Streamlit cannot set cookies)."""
    cookie = f"{hosting.COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; SameSite=Strict"
    st.html("<script>document.cookie = " + json.dumps(cookie)
            + " + (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)


def _password_form() -> None:
    client = _client()
    with st.form("signin_form", clear_on_submit=True):
        typed = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    wait = hosting.LIMITER.wait_s(client)
    if wait:
        st.error(hosting.wait_sentence(wait))
        return
    if hosting.check_password(typed or ""):
        hosting.LIMITER.succeeded(client)
        _remember(hosting.password_identity(), time.time() + hosting.SESSION_TTL_S)
        st.session_state[COOKIE_TOKEN_KEY] = hosting.sign_session(hosting.PASSWORD_USER)
        st.session_state.pop(SIGNED_OUT_KEY, None)
        st.rerun()
    hosting.LIMITER.failed(client)
    wait = hosting.LIMITER.wait_s(client)
    st.error("Wrong password." + (f" {hosting.wait_sentence(wait)}" if wait else ""))


# ------------------------------------------------------------------------------------------------ OIDC


def _oidc_identity() -> hosting.Identity | None:
    try:
        if not st.user.is_logged_in:
            return None
        ident = hosting.oidc_identity(st.user.to_dict())
    except Exception:  # noqa: BLE001 - [auth] missing or broken: nobody is signed in (the page says why)
        return None
    if ident is not None:
        _remember(ident, time.time() + hosting.SESSION_TTL_S)  # Streamlit's own cookie holds the sign-in
    return ident


def _oidc_button() -> None:
    if st.button("Sign in", type="primary", key="signin_oidc"):
        try:
            st.login()
        except Exception as exc:  # noqa: BLE001 - StreamlitAuthError: the operator's [auth] is incomplete
            st.error(f"Sign-in is not configured on this server: {exc}")


# ------------------------------------------------------------------------------------------------ rendering


def _hide_navigation() -> None:
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'] {display: none}</style>")


def _sign_in_page(mode: str) -> None:
    """All a visitor who is not signed in sees: what this is and how to sign in."""
    _hide_navigation()
    if st.session_state.pop(SIGNED_OUT_KEY, False):
        _cookie_script("", 0)
    st.title("voxstudio · sign in")
    st.markdown("This studio is private: sign in to reach your own workspace. Each person's recordings, runs and "
                "tokens stay in their workspace and session.")
    if mode == "oidc":
        _oidc_button()
    else:
        _password_form()


def _sidebar(ident: hosting.Identity, mode: str) -> None:
    token = st.session_state.get(COOKIE_TOKEN_KEY)
    with st.sidebar:
        st.caption(f"Signed in as **{ident.label}**" + (" (admin)" if hosting.is_admin(ident) else ""))
        if mode == "password" and token:
            _cookie_script(token, hosting.SESSION_TTL_S)  # the same element every run: set once, kept
        if st.button("Sign out", key="signin_sign_out"):
            st.session_state.pop(IDENTITY_KEY, None)
            if mode == "oidc":
                st.logout()
            if token:
                _revoked.add(token)
            st.session_state.pop(COOKIE_TOKEN_KEY, None)
            st.session_state[SIGNED_OUT_KEY] = True
            st.rerun()


def _record_owner(home: Path, ident: hosting.Identity, mode: str) -> None:
    """Write who owns ``home`` once (the admin queue and the operator read it); never a token."""
    path = home / OWNER_FILE
    if path.exists():
        return
    data = {"user_id": ident.user_id, "name": ident.name, "email": ident.email, "auth": mode,
            "created_at": time.time()}
    atomicfile.write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False).encode())


def owner_label(home: Path) -> str:
    """Who ``home`` belongs to, for the admin queue (name or e-mail, else the folder name)."""
    try:
        data = json.loads((Path(home) / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Path(home).name
    return data.get("name") or data.get("email") or Path(home).name


def token_fallback() -> str:
    """What the Publish page's token field falls back to when left empty (never the server's token hosted)."""
    if not hosting.is_hosted():
        return "Leave empty to use HF_TOKEN from the environment."
    if hosting.auth_mode() == "oidc":
        return "Leave empty to publish with your Hugging Face sign-in (when this studio's sign-in is Hugging Face)."
    return "This hosted studio never uses its server's own token for you."
