"""Talking to the Hugging Face Hub: who you are, where a repo goes, and one-commit pushes.

UI-safe: ``huggingface_hub`` (and ``datasets`` for dataset pushes) are imported inside functions.
The endpoint comes from ``HF_ENDPOINT`` (tests point it at a local Hub-compatible server) and is passed
to ``HfApi(endpoint=...)`` explicitly, because huggingface_hub reads the variable only once, at import.

Every failure becomes a :class:`HubError` carrying one sentence a person can act on. A token is only ever
handed to ``HfApi(token=...)``: it is never logged, never put in a message and never written to disk.
Transient failures (HTTP 5xx/408/429, connection errors) are retried with exponential backoff; a push
that was cut off can simply be run again: files already on the Hub with the same content are skipped
and the rest arrive in one commit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voxstudio import models

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKENS_URL = "https://huggingface.co/settings/tokens"
RETRIES = 4  # attempts after the first one
BACKOFF_S = 1.0  # first wait; doubles each time
BACKOFF_ENV = "VOXSTUDIO_HUB_BACKOFF_S"  # tests shorten the waits
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
REPO_TYPES = ("model", "dataset", "space")

Progress = Callable[[float, str], None]


class HubError(Exception):
    """A Hub operation failed; ``str(err)`` is one clear sentence (never containing the token)."""


@dataclass(frozen=True)
class Account:
    """Who a token belongs to and what it may do."""

    name: str
    orgs: tuple[str, ...] = ()
    role: str = "write"  # "read" | "write" | "fineGrained"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.name, *self.orgs)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    repo_type: str
    url: str
    commit_url: str
    commit_oid: str
    private: bool
    files: list[str] = field(default_factory=list)


def endpoint() -> str:
    """The Hub endpoint: ``HF_ENDPOINT`` if set, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def repo_url(repo_id: str, repo_type: str = "model") -> str:
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint()}/{prefix}{repo_id}"


def api(token: str | None, endpoint_url: str | None = None):
    """A real ``HfApi`` on ``endpoint_url`` (default :func:`endpoint`) with ``token``."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=(endpoint_url or endpoint()).rstrip("/"), token=token or None)


def _check_token(token: str | None) -> str:
    if not token or not str(token).strip():
        raise HubError(
            f"No Hugging Face token: set HF_TOKEN or paste a token with write access (create one at {TOKENS_URL})."
        )
    return str(token).strip()


def account(token: str | None, endpoint_url: str | None = None, deadline: float | None = None) -> Account:
    """The account behind ``token`` (one ``whoami`` call, retried on transient failures until ``deadline``, a
    ``time.monotonic()`` instant, if given)."""
    token = _check_token(token)
    client = api(token, endpoint_url)
    info = retrying(lambda: client.whoami(), "check your token", deadline=deadline)
    orgs = tuple(o.get("name") for o in info.get("orgs") or [] if o.get("name"))
    return Account(name=info.get("name", ""), orgs=orgs, role=token_role(info) or "write")


WHOAMI_BUDGET_S = 20.0  # the Publish page's token check gives up after this (huggingface_hub sets no HTTP timeout)


def account_within(token: str | None, budget_s: float | None = None) -> Account:
    """:func:`account`, but a HubError saying so when the Hub has not answered within ``budget_s`` (default
    ``WHOAMI_BUDGET_S``). The call runs in a daemon thread that starts no retry after the budget: only an
    attempt already under way (a connection that hangs) outlives it, and nobody waits for it."""
    import threading

    bound = WHOAMI_BUDGET_S if budget_s is None else budget_s
    deadline = time.monotonic() + max(0.0, bound)
    result: dict = {}

    def work() -> None:
        try:
            result["account"] = account(token, deadline=deadline)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            result["error"] = exc

    worker = threading.Thread(target=work, name="hub-whoami", daemon=True)
    worker.start()
    worker.join(max(0.0, bound))
    if worker.is_alive():
        raise HubError(f"The Hugging Face Hub at {endpoint()} did not answer within {bound:g} s while checking "
                       "your token: check your internet connection and try again (nothing was changed).")
    if "error" in result:
        raise result["error"]
    return result["account"]


def token_role(whoami_info: dict) -> str | None:
    """The role a ``whoami`` answer states for its token ("read", "write", "fineGrained"), None if unstated
    (e.g. OAuth): pushes then let the Hub decide, and a Space's read token is not refused on a guess."""
    return ((whoami_info.get("auth") or {}).get("accessToken") or {}).get("role")


def whoami(token: str | None) -> str:
    """The user name (namespace) of ``token``."""
    return account(token).name


def check_repo_name(name: str) -> str:
    """``name`` stripped, if it is a valid ``[namespace/]repo`` Hub name; else a clear ValueError."""
    name = (name or "").strip()
    if not models.is_repo_id(name):
        raise ValueError(
            f"Repository name {name!r} is not valid: use letters, digits, '-', '_' or '.', optionally "
            "prefixed by your user or organisation name and '/', e.g. 'my-voice-fr' or 'alice/my-voice-fr'."
        )
    return name


def resolve_repo_id(name: str, token: str | None = None, *, who: Account | None = None) -> str:
    """``namespace/name``: the token's user name is prefixed when ``name`` has no namespace."""
    name = check_repo_name(name)
    if "/" in name:
        return name
    who = who or account(token)
    return f"{who.name}/{name}"


def push_folder(folder: str | Path, repo_id: str, token: str | None, *, private: bool = True,
                repo_type: str = "model", message: str | None = None,
                progress: Progress | None = None) -> PushResult:
    """Create ``repo_id`` if needed (private unless ``private=False``) and upload ``folder`` in one commit.

    Safe to re-run after an interruption: unchanged files are skipped, the rest is committed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"There is nothing to upload: the folder {folder} does not exist.")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if not files:
        raise HubError(f"There is nothing to upload: the folder {folder} is empty.")
    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {', '.join(REPO_TYPES)}, not {repo_type!r}.")
    report = progress or (lambda fraction, text: None)

    report(0.02, "Checking your token")
    token = _check_token(token)
    who = account(token)
    repo_id = resolve_repo_id(repo_id, who=who)
    check_can_write(who, repo_id)
    client = api(token)

    report(0.1, f"Creating {repo_type} repository {repo_id}")
    retrying(lambda: client.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True),
              "create the repository", repo_id=repo_id, who=who)

    size = sum((folder / f).stat().st_size for f in files)
    report(0.2, f"Uploading {len(files)} files ({size / 1e6:.1f} MB) to {repo_id}")
    message = message or f"Upload {len(files)} files with voxstudio"
    commit = retrying(
        lambda: client.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type=repo_type,
                                     commit_message=message),
        "upload the files", repo_id=repo_id, who=who)

    report(0.95, "Checking the result")
    info = retrying(lambda: client.repo_info(repo_id, repo_type=repo_type), "read the repository back",
                     repo_id=repo_id, who=who)
    report(1.0, f"Done: {repo_url(repo_id, repo_type)}")
    return PushResult(repo_id=repo_id, repo_type=repo_type, url=repo_url(repo_id, repo_type),
                      commit_url=str(commit.commit_url), commit_oid=str(commit.oid),
                      private=bool(info.private), files=files)


def dataset_folder(ds_name: str, out_dir: str | Path, repo_id: str | None = None, *,
                   licence: str | None = None, run_dir: str | Path | None = None) -> Path:
    """Write the dataset as it is pushed: ``data/<split>-00000-of-00001.parquet`` (``audio`` is a
    ``datasets.Audio`` column holding the WAV bytes) and a dataset card ``README.md`` under ``licence``.

    With ``run_dir`` (a run with a frozen clip list, ``runs.rundata``): exactly the clips of that run as they
    were when it was created, from the run's own WAV copies (``train``: its training clips, ``test``: its
    held-out scored clips). Otherwise (no run, or a run made before clip lists) the dataset as it is now."""
    from voxstudio.data import exporters, summary
    from voxstudio.data.dataset import Dataset
    from voxstudio.publish import card
    from voxstudio.runs import rundata

    frozen = rundata.load(run_dir) if run_dir is not None else None
    ds = Dataset.open(ds_name)
    if frozen is not None:
        if frozen.problems():
            raise HubError(f"Run {frozen.folder.name!r}: clip files no longer match its clip list "
                           f"({', '.join(frozen.problems()[:3])}); nothing was pushed.")
        sides = {"train": frozen.train, "test": frozen.held_out}
        splits = {name: [(c.to_clip(), frozen.path(c)) for c in members] for name, members in sides.items() if members}
        about = (f"These are the clips voxstudio run `{frozen.folder.name}` was trained and evaluated on, as they "
                 "were when the run was created.")
    else:
        clips = ds.clips()
        train, held_out = ds.split()
        sides = {"train": train, "test": held_out} if held_out else {"train": clips}
        splits = {name: [(c, ds.audio_path(c)) for c in members] for name, members in sides.items() if members}
        about = ""
    if not splits:
        raise HubError(f"Dataset {ds_name!r} has no clips yet, so there is nothing to push.")
    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, items in splits.items():
        exporters.hf_dataset(items).to_parquet(str(out / "data" / f"{split}-00000-of-00001.parquet"))
    stats = summary.totals(ds.name, [clip for items in splits.values() for clip, _ in items])
    counts = {split: len(items) for split, items in splits.items()}
    text = card.render_dataset_card(ds.info, stats, counts, repo_id, licence=licence, about=about)
    (out / "README.md").write_text(text, encoding="utf-8")
    return out


def push_dataset(ds_name: str, repo_id: str, token: str | None, *, private: bool = True,
                 licence: str | None = None, progress: Progress | None = None,
                 run_dir: str | Path | None = None) -> PushResult:
    """Push dataset ``ds_name`` (parquet with an Audio column + dataset card) to a dataset repo; with ``run_dir``,
    only that run's frozen clips (see :func:`dataset_folder`).

    Refused (ValueError, before any Hub call) without a chosen ``licence`` or without the speaker's consent to
    publish with this visibility (``data.consent``)."""
    check_can_publish_dataset(ds_name, licence, private=private)
    repo_id = resolve_repo_id(repo_id, token)
    tmp = Path(tempfile.mkdtemp(prefix="voxstudio-dataset-"))
    try:
        if progress:
            progress(0.0, f"Packing dataset {ds_name}")
        folder = dataset_folder(ds_name, tmp / ds_name, repo_id, licence=licence, run_dir=run_dir)
        return push_folder(folder, repo_id, token, private=private, repo_type="dataset",
                           message=f"Upload dataset {ds_name} with voxstudio", progress=progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_can_publish_dataset(ds_name: str, licence: str | None, *, private: bool,
                              licence_flag: str | None = None) -> None:
    """Refuse, with one sentence, a dataset push without a chosen licence or the speaker's consent to publish."""
    from voxstudio.data import consent
    from voxstudio.data.dataset import Dataset
    from voxstudio.publish import licences

    licences.check(licence, "data", flag=licence_flag)
    consent.check(Dataset.open(ds_name).info, ds_name, public=not private)


# ---- errors and retries --------------------------------------------------------------------------

def check_can_write(who: Account, repo_id: str, doing: str = "push to") -> None:
    """Refuse, before anything is uploaded, a read-only token or a namespace that is not the token's."""
    if who.role == "read":
        raise HubError(
            f"This token can only read; create a token with write access at {TOKENS_URL} and try again."
        )
    namespace = repo_id.split("/")[0]
    if namespace not in who.namespaces:
        raise HubError(
            f"You can't {doing} '{repo_id}': '{namespace}' is not your account or one of your organisations "
            f"(try '{who.name}/{repo_id.split('/')[1]}')."
        )


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _is_network_error(exc: BaseException) -> bool:
    try:
        import httpx2

        if isinstance(exc, httpx2.TransportError):
            return True
    except ImportError:  # pragma: no cover - huggingface_hub always brings httpx2
        pass
    return isinstance(exc, ConnectionError | TimeoutError)


def _is_transient(exc: BaseException) -> bool:
    return _status(exc) in TRANSIENT_STATUS or _is_network_error(exc)


def retrying(fn, what: str, *, repo_id: str | None = None, who: Account | None = None,
             deadline: float | None = None):
    """Run ``fn`` with exponential backoff on transient failures; translate errors to HubError.

    ``what`` completes "could not ..." in the message; ``repo_id``/``who`` let a 401/403/404 on a repo say
    whether the name is taken or the token lacks access; past ``deadline`` (``time.monotonic()``) no retry
    starts. Public: every Hub caller (``space`` too) uses it."""
    wait = float(os.environ.get(BACKOFF_ENV) or BACKOFF_S)
    for attempt in range(RETRIES + 1):
        try:
            return fn()
        except HubError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence
            pause = wait * 2**attempt
            in_time = deadline is None or time.monotonic() + pause < deadline
            if _is_transient(exc) and attempt < RETRIES and in_time:
                time.sleep(pause)
                continue
            raise explain(exc, what, repo_id=repo_id, who=who) from None
    raise AssertionError("unreachable")  # pragma: no cover


def explain(exc: BaseException, what: str, *, repo_id: str | None = None, who: Account | None = None) -> HubError:
    """One clear sentence for a failed Hub call (the original error never carries the token here)."""
    status = _status(exc)
    target = f" '{repo_id}'" if repo_id else ""
    if _is_network_error(exc):
        return HubError(f"Could not reach the Hugging Face Hub at {endpoint()} to {what}: check your internet "
                        "connection and try again (nothing was lost).")
    if status == 401 and what == "check your token":
        return HubError(f"The Hugging Face token was refused (invalid or expired); create a new one at "
                        f"{TOKENS_URL}.")
    if status in (401, 403, 404) and repo_id and who is not None:
        if who.role == "read":
            return HubError(f"This token can only read; create a token with write access at {TOKENS_URL}.")
        if who.role == "fineGrained":
            return HubError(f"Your fine-grained token may not write to{target}, or the name is taken by someone "
                            "else; grant it write access to that namespace or choose another name.")
        return HubError(f"The name{target} is taken by a repository you can't write to; choose another name.")
    if status == 401:
        return HubError(f"The Hugging Face token was refused (invalid or expired); create a new one at "
                        f"{TOKENS_URL}.")
    if status == 403:
        return HubError(f"Your token is not allowed to {what}{target}; use a token with write access.")
    if status in TRANSIENT_STATUS:
        return HubError(f"The Hugging Face Hub is having trouble (HTTP {status}) and could not {what}; nothing "
                        "was lost, run the same push again in a minute.")
    if isinstance(exc, ValueError) and "metadata" in str(exc).lower():
        first = str(exc).splitlines()[1:2] or [""]
        return HubError(f"The Hub refused the card's metadata {first[0].lstrip('- ')}".rstrip() + ".")
    if status is not None:
        return HubError(f"The Hugging Face Hub answered HTTP {status} when trying to {what}{target}.")
    return HubError(f"Could not {what}{target}: {type(exc).__name__}.")
