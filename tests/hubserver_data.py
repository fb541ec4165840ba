"""Data model and pure helpers of the local Hub test server (see ``hubserver``): repos, commits, tokens,
recorded requests, and the card metadata checks of ``/api/validate-yaml``."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

import yaml

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
REPO_RE = r"(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)"


@dataclass(frozen=True)
class Token:
    user: str
    role: str  # "read" | "write"
    orgs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """One recorded request; ``headers`` never contains Authorization."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    authorized: bool = False  # an Authorization header was sent (its value is never recorded)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Commit:
    oid: str
    message: str
    description: str
    tree: dict[str, str]  # path -> blob oid (git sha1)
    at: float


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    owner: str
    private: bool
    sdk: str | None = None
    hardware: str | None = None
    commits: list[Commit] = field(default_factory=list)
    variables: dict[str, dict] = field(default_factory=dict)
    secrets: dict[str, dict] = field(default_factory=dict)  # values kept so tests can check what was set
    created_payload: dict = field(default_factory=dict)

    @property
    def head(self) -> Commit:
        return self.commits[-1]


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}


def git_blob_oid(data: bytes) -> str:
    """The git sha1 of a blob (what the Hub reports as a regular file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()



def can_write(token: Token | None, repo: Repo) -> bool:
    if token is None:
        return False
    return token.user == repo.owner or repo.owner in token.orgs


def runtime(repo: Repo) -> dict:
    return {"stage": "BUILDING", "hardware": {"current": None, "requested": repo.hardware},
            "storage": None, "gcTimeout": None, "replicas": {"current": 1, "requested": 1}}


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def with_parents(folders: list[str]) -> list[str]:
    out = set()
    for folder in folders:
        parts = folder.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


def front_matter(text: str):
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not m:
        return None
    return yaml.safe_load(m.group(1))


def validate_card_metadata(content: str, repo_type: str) -> list[str]:
    """What the Hub's validate-yaml checks that matters to us: parseable YAML mapping, typed well-known
    keys, and a well-formed ``model-index``. Returns error messages (empty when valid)."""
    try:
        meta = front_matter(content)
    except yaml.YAMLError as exc:
        return [f"YAML could not be parsed: {exc}"]
    if meta is None:
        return []
    if not isinstance(meta, dict):
        return ["Metadata must be a YAML mapping"]
    errors = []
    for key in ("license", "library_name", "pipeline_tag"):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    for key in ("language", "tags", "datasets", "base_model"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value))):
            errors.append(f'"{key}" must be a string or a list of strings')
    for lang in ([meta["language"]] if isinstance(meta.get("language"), str) else meta.get("language") or []):
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", str(lang)):
            errors.append(f'"language" has an invalid code: {lang!r}')
    if "model-index" in meta:
        if repo_type != "model":
            errors.append('"model-index" is only allowed in model cards')
        index = meta["model-index"]
        if not isinstance(index, list):
            errors.append('"model-index" must be a list')
            index = []
        for entry in index:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                errors.append('"model-index[].name" is required')
                continue
            for result in entry.get("results") or []:
                task = result.get("task") if isinstance(result, dict) else None
                if not isinstance(task, dict) or not isinstance(task.get("type"), str):
                    errors.append('"model-index[].results[].task.type" is required')
                for metric in (result or {}).get("metrics") or []:
                    if not isinstance(metric, dict) or not isinstance(metric.get("type"), str) or not isinstance(
                            metric.get("value"), int | float):
                        errors.append('"model-index[].results[].metrics[]" needs a string type and a number value')
    return errors
