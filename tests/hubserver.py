"""A local, Hugging Face Hub-compatible HTTP server for tests (stdlib only, 127.0.0.1, free port).

It speaks the subset of the Hub's HTTP API that the *real* ``huggingface_hub.HfApi`` (2.4) uses for
what voxstudio does: ``whoami-v2``, ``repos/create``, repo info (``/api/{models,datasets,spaces}/...``,
``/revision/...``), ``preupload`` (always answers ``regular``, so every file arrives base64 inside the
NDJSON commit and no LFS/Xet transfer is attempted), ``commit``, ``validate-yaml``, Space
``variables``/``secrets``/``hardware``, ``tree``/``paths-info`` listings, repo ``settings`` and file download
via ``/{repo}/resolve/{rev}/{path}`` (HEAD/GET with ETag, X-Repo-Commit, Content-Length, Range).

Use::

    with HubServer() as hub:                    # or the ``hub_server`` fixture below
        api = HfApi(endpoint=hub.endpoint, token=hub.WRITE_TOKEN)
        ...
        hub.files("alice/voice")                # {path: bytes} at main
        hub.requests                            # every request (Authorization header removed)
        hub.fail_next("commit", 2, status=503)  # inject transient failures
        hub.hang_next("commit")                 # swallow the next commit: never applied, never answered

Files: ``hubserver_data`` (repos, commits, tokens, card checks), ``hubserver_http`` (the routes).

Tokens (``HubServer.TOKENS``): user "alice" with a write token, a read-only token and membership of the
org "team"; user "bob" with a write token. Anything else is rejected with 401.
Permissions mirror the Hub: you may create repos in your own namespace and your orgs'; a repo that
already exists answers 409 (``exist_ok=True`` swallows it); writing to a repo owned by someone else
answers 403; a private repo of someone else answers 404 (RepoNotFound).

What the real Hub does differently (not exercised here): it answers ``lfs`` to preupload for large or
binary files (safetensors, parquet), and huggingface_hub then uploads their content to Xet storage (CAS,
chunk-deduplicated, resumable; with ``hf_xet`` installed) or S3 multipart (LFS) before the commit, which
only names them by sha256 (``lfsFile`` lines); downloads of such files redirect to a CDN and carry
``X-Xet-Hash``/``X-Linked-Size``. Regular commits are capped (~100 MB of inline content per commit), and
the Hub rate-limits ``whoami-v2``, validates metadata more strictly and builds Spaces for real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from hubserver_data import Commit, HubError, Repo, Request, Token, git_blob_oid, validate_card_metadata
from hubserver_http import Handler

__all__ = ["HubServer", "HubError", "Repo", "Request", "Token", "hub_server", "validate_card_metadata"]


class HubServer:
    """The server. Start with ``start()`` / ``with HubServer() as hub``; stop with ``stop()``."""

    WRITE_TOKEN = "hf_testWRITEalice000000000000000000"
    READ_TOKEN = "hf_testREADalice0000000000000000000"
    BOB_TOKEN = "hf_testWRITEbob00000000000000000000"
    TOKENS = {
        WRITE_TOKEN: Token("alice", "write", ("team",)),
        READ_TOKEN: Token("alice", "read", ("team",)),
        BOB_TOKEN: Token("bob", "write"),
    }

    def __init__(self, tokens: dict[str, Token] | None = None, root: Path | None = None):
        self.tokens = dict(self.TOKENS if tokens is None else tokens)
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="hubserver-"))
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._failures: list[list] = []  # [kind, remaining, status]
        self._hangs: dict[str, int] = {}
        self.hang_released = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        server = self

        class BoundHandler(Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), BoundHandler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hubserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.hang_released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- test controls ---------------------------------------------------------------------------
    def fail_next(self, kind: str, count: int = 1, status: int = 503) -> None:
        """The next ``count`` requests of ``kind`` (commit, preupload, create, whoami, info, resolve,
        validate, variables, secrets) answer ``status`` without doing anything."""
        with self.lock:
            self._failures.append([kind, count, status])

    def hang_next(self, kind: str, count: int = 1) -> None:
        """The next ``count`` requests of ``kind`` are read in full, then never applied nor answered
        until ``hang_released`` is set (then the connection is closed): an upload cut off midway."""
        with self.lock:
            self._hangs[kind] = self._hangs.get(kind, 0) + count
            self.hang_released.clear()

    def add_repo(self, repo_id: str, owner: str, repo_type: str = "model", private: bool = True,
                 files: dict[str, bytes] | None = None) -> Repo:
        """Create a repo directly (e.g. one owned by someone else), optionally with files."""
        with self.lock:
            repo = Repo(repo_id, repo_type, owner, private)
            repo.commits.append(self._make_commit({}, "initial commit", ""))
            self.repos[(repo_type, repo_id)] = repo
            if files:
                tree = {p: self._store_blob(b) for p, b in files.items()}
                repo.commits.append(self._make_commit(tree, "add files", ""))
            return repo

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """{path: content} of a repo at ``revision``."""
        with self.lock:
            commit = self._resolve(self.repo(repo_id, repo_type), revision)
            return {p: self.blob(oid) for p, oid in commit.tree.items()}

    def blob(self, oid: str) -> bytes:
        return (self.root / "blobs" / oid).read_bytes()

    def sent_bytes(self) -> bytes:
        """Everything clients sent (paths, non-auth headers, bodies), with base64 file contents decoded,
        for grepping."""
        parts = []
        for r in list(self.requests):
            parts.append(f"{r.method} {r.path} {json.dumps(r.query)} {json.dumps(r.headers)}".encode())
            parts.append(r.body)
            if r.headers.get("content-type", "").startswith("application/x-ndjson"):
                for line in r.body.splitlines():
                    try:
                        value = json.loads(line).get("value", {})
                    except (ValueError, AttributeError):
                        continue
                    if isinstance(value, dict) and value.get("encoding") == "base64":
                        parts.append(base64.b64decode(value.get("content", "")))
        return b"\n".join(parts)

    # ---- internals -------------------------------------------------------------------------------
    def _store_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        path = self.root / "blobs" / oid
        if not path.exists():
            path.write_bytes(data)
        return oid

    def _make_commit(self, tree: dict[str, str], message: str, description: str) -> Commit:
        seed = json.dumps([sorted(tree.items()), message, time.time_ns()]).encode()
        return Commit(hashlib.sha1(seed).hexdigest(), message, description, dict(tree), time.time())

    def _resolve(self, repo: Repo, revision: str) -> Commit:
        revision = unquote(revision)
        if revision == "main":
            return repo.head
        for commit in repo.commits:
            if commit.oid == revision or (len(revision) >= 7 and commit.oid.startswith(revision)):
                return commit
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _take(self, table_kind: str) -> int | None:
        with self.lock:
            for entry in self._failures:
                if entry[0] == table_kind and entry[1] > 0:
                    entry[1] -= 1
                    return entry[2]
        return None

    def _take_hang(self, kind: str) -> bool:
        with self.lock:
            if self._hangs.get(kind, 0) > 0:
                self._hangs[kind] -= 1
                return True
        return False



@pytest.fixture
def hub_server():
    """A running HubServer for one test (import this name into a test module to use it)."""
    with HubServer() as hub:
        yield hub
