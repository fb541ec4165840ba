"""Local or hosted: the one owner of how the studio is served (stdlib only).

- **local** (default, ``make run``): one person on their own machine; today's behaviour.
- **hosted** (``VOXSTUDIO_AUTH=password`` or ``VOXSTUDIO_AUTH=oidc``): a shared box (a GPU server, a Space) for
  one or several people. Visitors sign in; each person gets a private workspace under
  ``$VOXSTUDIO_HOME/users/<stable id>/``; the server's ``HF_TOKEN`` is never offered to visitors; imports take
  uploads only (no server paths).

Settings come from the environment (never from a page): ``VOXSTUDIO_AUTH``, ``VOXSTUDIO_PASSWORD``,
``VOXSTUDIO_ADMINS`` (comma-separated user ids or e-mails allowed to see the whole queue and stop any run),
``VOXSTUDIO_MAX_QUEUED`` (queued runs per person, default 3), ``VOXSTUDIO_SECRET`` (signs the password mode's
session cookie; default: a random secret kept in ``$VOXSTUDIO_HOME/.voxstudio-secret``), and
``VOXSTUDIO_TRAINER_HF_TOKEN`` (the operator's *read* token for gated base models, the only Hub token a hosted
trainer or preflight ever gets).

What lives here, so every room asks one owner: the mode (:func:`auth_mode`, :func:`is_hosted`,
:func:`config_problems`), who a signed-in person is (:class:`Identity`, :func:`oidc_identity`,
:func:`password_identity`, :func:`is_admin`), the password check (:func:`check_password`, constant time) and its
rate limit (:data:`LIMITER`), the signed session token of the password mode (:func:`sign_session`,
:func:`verify_session`), which Hub token may be used where (:func:`server_hub_token`,
:func:`trainer_hub_token`, :func:`trainer_env`) and the server-path rule of imports
(:func:`server_paths_allowed`, :func:`path_refusal`, :func:`link_refusal`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from voxstudio import workspace

AUTH_ENV = "VOXSTUDIO_AUTH"
PASSWORD_ENV = "VOXSTUDIO_PASSWORD"
ADMINS_ENV = "VOXSTUDIO_ADMINS"
MAX_QUEUED_ENV = "VOXSTUDIO_MAX_QUEUED"
SECRET_ENV = "VOXSTUDIO_SECRET"
TRAINER_TOKEN_ENV = "VOXSTUDIO_TRAINER_HF_TOKEN"
SECRET_FILE = ".voxstudio-secret"
# Never inherited by a trainer (nor by the supervisor) on a hosted box: the server's own Hub token and sign-in secrets.
HUB_TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
SIGN_IN_SECRET_VARS = (PASSWORD_ENV, SECRET_ENV)
PASSWORD_USER = "owner"  # password mode: one shared password, one owner, one workspace (see README)
MIN_PASSWORD_CHARS = 8
SESSION_TTL_S = 12 * 3600
COOKIE_NAME = "voxstudio_session"
MODES = ("none", "password", "oidc")
DEFAULT_MAX_QUEUED = 3


def auth_mode() -> str:
    """``none`` (local), ``password`` or ``oidc``; an unknown value is refused loudly (never silently open)."""
    mode = (os.environ.get(AUTH_ENV) or "none").strip().lower()
    if mode not in MODES:
        raise ValueError(f"{AUTH_ENV}={mode!r} is not a sign-in mode: use one of {', '.join(MODES)}.")
    return mode


def is_hosted() -> bool:
    """Whether visitors must sign in and get private workspaces (any auth mode but ``none``)."""
    return auth_mode() != "none"


def admins() -> set[str]:
    return {a.strip().lower() for a in (os.environ.get(ADMINS_ENV) or "").split(",") if a.strip()}


def max_queued() -> int:
    try:
        return max(1, int(os.environ.get(MAX_QUEUED_ENV) or DEFAULT_MAX_QUEUED))
    except ValueError:
        return DEFAULT_MAX_QUEUED


def config_problems() -> list[str]:
    """Why the hosted studio cannot open as configured (each a sentence); empty when it can (or when local)."""
    mode = auth_mode()
    if mode == "password" and len(os.environ.get(PASSWORD_ENV) or "") < MIN_PASSWORD_CHARS:
        return [f"{AUTH_ENV}=password needs {PASSWORD_ENV} in the server's environment, at least "
                f"{MIN_PASSWORD_CHARS} characters long."]
    if mode == "oidc":
        try:
            import authlib  # noqa: F401 - Streamlit's st.login needs it
        except ImportError:
            return ["VOXSTUDIO_AUTH=oidc needs the Authlib package (pip install -r requirements.txt)."]
    return []


# ------------------------------------------------------------------------------------------------ identity


@dataclass(frozen=True)
class Identity:
    """A signed-in person: ``user_id`` (a slug, the name of their workspace folder) and what to call them."""

    user_id: str
    name: str = ""
    email: str = ""

    @property
    def label(self) -> str:
        return self.name or self.email or self.user_id


def oidc_identity(claims: dict) -> Identity | None:
    """The person an OpenID Connect ID token names: ``u-`` + a hash of issuer and subject (stable, opaque,
    never taken from anything the person can change, such as a display name or an e-mail)."""
    sub = str(claims.get("sub") or "")
    if not sub:
        return None
    digest = hashlib.sha256(f"{claims.get('iss') or ''}\0{sub}".encode()).hexdigest()[:24]
    email = "" if claims.get("email_verified") is False else str(claims.get("email") or "")  # admins go by it
    return Identity(f"u-{digest}", str(claims.get("name") or claims.get("preferred_username") or ""), email)


def password_identity() -> Identity:
    return Identity(PASSWORD_USER, "studio owner")


def is_admin(identity: Identity | None) -> bool:
    """Admins (``VOXSTUDIO_ADMINS``: user ids or e-mails) see the whole queue and may stop any run."""
    if identity is None:
        return False
    wanted = admins()
    return identity.user_id.lower() in wanted or (bool(identity.email) and identity.email.lower() in wanted)


def home_for(identity: Identity) -> Path:
    """``$VOXSTUDIO_HOME/users/<user_id>/``, the person's private workspace (created on first use)."""
    return workspace.user_home(identity.user_id)


# ------------------------------------------------------------------------------------------------ password


def check_password(typed: str) -> bool:
    """Constant-time comparison with ``VOXSTUDIO_PASSWORD`` (digests first, so the length leaks nothing)."""
    expected = os.environ.get(PASSWORD_ENV) or ""
    if len(expected) < MIN_PASSWORD_CHARS:
        return False
    return hmac.compare_digest(hashlib.sha256(typed.encode()).digest(), hashlib.sha256(expected.encode()).digest())


class SignInLimiter:
    """Wrong passwords per client: ``FREE`` tries, then a wait that doubles with every further wrong one
    (``FIRST_WAIT_S`` … ``MAX_WAIT_S``); forgotten ``FORGET_S`` after the last failure. Thread-safe (Streamlit
    sessions are threads of one process)."""

    FREE = 5
    FIRST_WAIT_S = 30.0
    MAX_WAIT_S = 900.0
    FORGET_S = 3600.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, time of the last failure)

    def wait_s(self, client: str, now: float | None = None) -> float:
        """Seconds before ``client`` may try again (0: now)."""
        now = time.time() if now is None else now
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < self.FREE or now - last > self.FORGET_S:
            return 0.0
        wait = min(self.MAX_WAIT_S, self.FIRST_WAIT_S * 2 ** (count - self.FREE))
        return max(0.0, last + wait - now)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            self._failures[client] = (1 if now - last > self.FORGET_S else count + 1, now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


LIMITER = SignInLimiter()


def wait_sentence(wait_s: float) -> str:
    return (f"Too many wrong passwords from this browser: wait {max(1, round(wait_s))} s before trying again "
            "(the wait doubles with each further wrong password).")


# ------------------------------------------------------------------------------------ signed session token


def _secret() -> bytes:
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return configured.encode()
    path = workspace.root() / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # a racing process wins: read its secret
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    return bytes.fromhex(value)


def _session_key() -> bytes:
    """Signing key of session tokens; a new VOXSTUDIO_PASSWORD (or secret) makes every earlier token invalid."""
    password = hashlib.sha256((os.environ.get(PASSWORD_ENV) or "").encode()).digest()
    return hmac.new(_secret(), b"voxstudio-session\0" + password, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_session(user_id: str, ttl_s: float = SESSION_TTL_S, now: float | None = None) -> str:
    """A token ``payload.signature`` naming ``user_id`` until it expires (HMAC-SHA256, never the password)."""
    now = time.time() if now is None else now
    payload = _b64(json.dumps({"u": user_id, "exp": int(now + ttl_s), "n": secrets.token_hex(8)}).encode())
    return f"{payload}.{_b64(hmac.new(_session_key(), payload.encode(), hashlib.sha256).digest())}"


def verify_session(token: str | None, now: float | None = None) -> str | None:
    """The user id a valid, unexpired token names; None for anything else (tampered, expired, malformed)."""
    if not token or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    expected = _b64(hmac.new(_session_key(), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    now = time.time() if now is None else now
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] <= now:
        return None
    user = data.get("u")
    return user if workspace.is_slug(user) else None


# ------------------------------------------------------------------------------------------------ Hub tokens


def server_hub_token() -> str:
    """The Hub token the studio process may use on its own (preflight's model check): ``HF_TOKEN`` when local;
    hosted, only the operator's explicit ``VOXSTUDIO_TRAINER_HF_TOKEN`` (the server's HF_TOKEN is never used
    nor offered to visitors)."""
    if is_hosted():
        return trainer_hub_token()
    return (os.environ.get("HF_TOKEN") or "").strip()


def trainer_hub_token() -> str:
    return (os.environ.get(TRAINER_TOKEN_ENV) or "").strip()


def trainer_env(env: dict) -> dict:
    """What a trainer (or the supervisor) inherits of ``env``: everything when local; hosted, no Hub token but
    the operator's read token for gated base models (as HF_TOKEN) and no sign-in secret."""
    env = dict(env)
    if not is_hosted():
        return env
    for name in HUB_TOKEN_VARS + SIGN_IN_SECRET_VARS:
        env.pop(name, None)
    token = trainer_hub_token()
    if token:
        env["HF_TOKEN"] = token
    else:  # nor the operator's `hf auth login` token file, which huggingface_hub would send implicitly
        env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
    return env


# ------------------------------------------------------------------------------------- imports: uploads only

SERVER_PATHS_REFUSED = ("This studio is hosted: it imports uploaded files only, never a path on the server. "
                        "Upload the files (or a zip of them) on the Record page.")


def server_paths_allowed() -> bool:
    """Whether an import may read a path on this machine: yes locally and for the operator's CLI; no while a
    hosted studio serves a signed-in person (their files come as uploads)."""
    if not is_hosted():
        return True
    try:
        return workspace.session_home() is None
    except PermissionError:  # a studio script run with nobody signed in: fail closed
        return False


def path_refusal(ref: str) -> str | None:
    """Hosted: why a file name an upload or an uploaded manifest gives is refused (absolute, ``~``, ``../``,
    a drive or UNC path); None when it is a plain name inside the upload (and always when local)."""
    if server_paths_allowed():
        return None
    text = str(ref)
    posix, windows = PurePosixPath(text.replace("\\", "/")), PureWindowsPath(text)
    if "\0" in text or posix.is_absolute() or windows.drive or windows.root or text.startswith("~"):
        return f"{text!r} is a path on the server; a hosted studio only imports the files uploaded with it"
    if ".." in posix.parts:
        return f"{text!r} leaves the upload (../); name the uploaded files themselves"
    return None


def link_refusal(path: Path) -> str | None:
    """Hosted: a symbolic link inside an upload is refused (it could point anywhere on the server)."""
    if server_paths_allowed() or not Path(path).is_symlink():
        return None
    return f"{Path(path).name} is a symbolic link; a hosted studio only imports plain uploaded files"


def check_source(uploaded: bool = False) -> None:
    """Raise the one refusal when a hosted session asks an import to read a server path (not an upload)."""
    if not uploaded and not server_paths_allowed():
        raise ValueError(SERVER_PATHS_REFUSED)
