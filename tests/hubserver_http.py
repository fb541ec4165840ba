"""HTTP side of the local Hub test server (see ``hubserver``): one request handler, a flat routing table
and one method per Hub endpoint that huggingface_hub 2.4's ``HfApi`` calls."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from hubserver_data import (
    REPO_RE,
    TYPES,
    URL_PREFIX,
    HubError,
    Repo,
    Request,
    Token,
    can_write,
    front_matter,
    iso,
    runtime,
    validate_card_metadata,
    with_parents,
)


class Handler(BaseHTTPRequestHandler):
    hub: object  # the HubServer (set on a subclass per server)
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    # ---- plumbing --------------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.body, self.query, self.method = body, query, method
        with self.hub.lock:
            self.hub.requests.append(Request(method, url.path, query, headers, body,
                                             authorized=bool(self.headers.get("Authorization"))))
        try:
            self._route(method, url.path)
        except HubError as err:
            self._error(err.status, err.message, err.code, err.extra)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, payload=None, headers: dict | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.method != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None, extra: dict | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message, **(extra or {})}, headers)

    def _json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise HubError(400, "Body is not valid JSON") from exc

    def _token(self, required: bool) -> Token | None:
        auth = self.headers.get("Authorization") or ""
        if not auth:
            if required:
                raise HubError(401, "Invalid credentials in Authorization header")
            return None
        token = self.hub.tokens.get(auth.removeprefix("Bearer ").strip())
        if token is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return token

    def _inject(self, kind: str) -> bool:
        status = self.hub._take(kind)
        if status is not None:
            self._error(status, f"Injected failure ({status}) for {kind}")
            return True
        if self.hub._take_hang(kind):
            self.hub.hang_released.wait(timeout=120)
            self.close_connection = True
            self.connection.close()
            return True
        return False

    def _readable(self, repo_type: str, repo_id: str) -> Repo:
        token = self._token(required=False)
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not can_write(token, repo)):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _writable(self, repo_type: str, repo_id: str) -> tuple[Repo, Token]:
        token = self._token(required=True)
        repo = self._readable(repo_type, repo_id) if (repo_type, repo_id) in self.hub.repos else None
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if token.role != "write":
            raise HubError(403, "You don't have the rights to write to this repository: read-only token")
        if not can_write(token, repo):
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo, token

    # ---- routes ----------------------------------------------------------------------------------
    def _route(self, method: str, path: str) -> None:  # noqa: C901 - a flat routing table reads best
        m = None

        def match(pattern: str) -> bool:
            nonlocal m
            m = re.fullmatch(pattern, path)
            return m is not None

        if method == "GET" and match(r"/api/whoami-v2"):
            if not self._inject("whoami"):
                self._whoami()
        elif method == "POST" and match(r"/api/repos/create"):
            if not self._inject("create"):
                self._create()
        elif method == "POST" and match(r"/api/validate-yaml"):
            if not self._inject("validate"):
                self._validate_yaml()
        elif match(rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}(?:/revision/(?P<rev>[^/]+))?"):
            if method == "GET" and not self._inject("info"):
                self._info(TYPES[m["t"]], m["repo"], m["rev"] or "main")
            elif method == "DELETE":
                raise HubError(405, "Not supported by the test server")
        elif method == "POST" and match(rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}/preupload/(?P<rev>[^/]+)"):
            if not self._inject("preupload"):
                self._preupload(TYPES[m["t"]], m["repo"], m["rev"])
        elif method == "POST" and match(rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}/commit/(?P<rev>[^/]+)"):
            if not self._inject("commit"):
                self._commit(TYPES[m["t"]], m["repo"], m["rev"])
        elif method == "GET" and match(
                rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?"):
            self._tree(TYPES[m["t"]], m["repo"], m["rev"], unquote((m["sub"] or "/")[1:]))
        elif method == "POST" and match(rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}/paths-info/(?P<rev>[^/]+)"):
            self._paths_info(TYPES[m["t"]], m["repo"], m["rev"])
        elif method == "PUT" and match(rf"/api/(?P<t>models|datasets|spaces)/{REPO_RE}/settings"):
            self._settings(TYPES[m["t"]], m["repo"])
        elif match(rf"/api/spaces/{REPO_RE}/(?P<what>variables|secrets)"):
            if not self._inject(m["what"]):
                self._space_kv(m["repo"], m["what"], method)
        elif method == "POST" and match(rf"/api/spaces/{REPO_RE}/(?P<what>hardware|restart)"):
            self._space_hardware(m["repo"], m["what"])
        elif method == "GET" and match(rf"/api/spaces/{REPO_RE}/runtime"):
            self._send(200, runtime(self._readable("space", m["repo"])))
        elif method in ("GET", "HEAD") and match(
                rf"/(?:(?P<t>datasets|spaces)/)?{REPO_RE}/resolve/(?P<rev>[^/]+)/(?P<file>.+)"):
            if not self._inject("resolve"):
                self._resolve_file(TYPES.get(m["t"] or "models"), m["repo"], m["rev"], unquote(m["file"]))
        else:
            raise HubError(404, f"Test hub server: no route for {method} {path}")

    def _whoami(self) -> None:
        token = self._token(required=True)
        self._send(200, {
            "type": "user", "name": token.user, "fullname": token.user.title(),
            "orgs": [{"name": org, "roleInOrg": "write", "type": "org"} for org in token.orgs],
            "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": token.role}},
        })

    def _create(self) -> None:
        token = self._token(required=True)
        payload = self._json()
        repo_type = payload.get("type") or "model"
        name, namespace = payload.get("name"), payload.get("organization") or token.user
        if not name or not re.fullmatch(r"[\w.-]{1,96}", name):
            raise HubError(400, "Repository name is invalid")
        if token.role != "write":
            raise HubError(403, "You don't have the rights to create a repository: read-only token")
        if namespace != token.user and namespace not in token.orgs:
            raise HubError(403, f"You don't have the rights to create a {repo_type} under the namespace {namespace}")
        repo_id = f"{namespace}/{name}"
        with self.hub.lock:
            existing = self.hub.repos.get((repo_type, repo_id))
            url = f"{self.hub.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
            if existing is not None:
                if existing.owner == token.user or existing.owner in token.orgs:
                    raise HubError(409, f"You already created this {repo_type} repo", extra={"url": url})
                raise HubError(409, f"Repository {repo_id} already exists (owned by someone else)",
                               extra={"url": url})
            if repo_type == "space" and not payload.get("sdk"):
                raise HubError(400, "A Space needs an sdk")
            visibility = payload.get("visibility")
            private = visibility in ("private", "protected") if visibility else bool(payload.get("private"))
            repo = self.hub.add_repo(repo_id, namespace, repo_type, private)
            repo.sdk, repo.hardware, repo.created_payload = payload.get("sdk"), payload.get("hardware"), payload
            for item in payload.get("variables") or []:
                repo.variables[item["key"]] = {"value": item["value"], "description": item.get("description")}
            for item in payload.get("secrets") or []:
                repo.secrets[item["key"]] = {"value": item["value"], "description": item.get("description")}
        self._send(200, {"url": url, "name": repo_id, "id": repo_id})

    def _validate_yaml(self) -> None:
        payload = self._json()
        errors = validate_card_metadata(payload.get("content", ""), payload.get("repoType") or "model")
        self._send(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})

    def _info(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._readable(repo_type, repo_id)
        commit = self.hub._resolve(repo, revision)
        info = {
            "_id": repo_id, "id": repo_id, "author": repo_id.split("/")[0], "sha": commit.oid,
            "private": repo.private, "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "lastModified": iso(commit.at), "createdAt": iso(repo.commits[0].at),
            "siblings": [{"rfilename": p} for p in sorted(commit.tree)],
        }
        readme = commit.tree.get("README.md")
        if readme:
            meta = front_matter(self.hub.blob(readme).decode("utf-8", errors="replace"))
            if isinstance(meta, dict):
                info["cardData"] = meta
                if repo_type == "model":
                    info["pipeline_tag"] = meta.get("pipeline_tag")
                    info["library_name"] = meta.get("library_name")
        if repo_type == "space":
            info.update(sdk=repo.sdk, runtime=runtime(repo), subdomain=repo_id.replace("/", "-"))
        self._send(200, info)

    def _preupload(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo, _ = self._writable(repo_type, repo_id)
        commit = self.hub._resolve(repo, revision)
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": commit.tree.get(f["path"])}
            for f in self._json().get("files", [])
        ]
        self._send(200, {"files": files, "commitOid": commit.oid})

    def _commit(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo, _ = self._writable(repo_type, repo_id)
        lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line of a commit must be its header")
        header = lines[0]["value"]
        with self.hub.lock:
            base = self.hub._resolve(repo, revision)
            if header.get("parentCommit") and not base.oid.startswith(header["parentCommit"]):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            tree = dict(base.tree)
            for item in lines[1:]:
                key, value = item.get("key"), item.get("value", {})
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, "Only base64 file content is supported")
                    tree[value["path"]] = self.hub._store_blob(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    if value["path"] not in tree:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    del tree[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    tree = {p: o for p, o in tree.items() if not p.startswith(prefix)}
                elif key == "lfsFile":
                    raise HubError(400, "The test server answers 'regular' to preupload; LFS files are unexpected")
                else:
                    raise HubError(400, f"Unknown commit operation {key!r}")
            commit = self.hub._make_commit(tree, header.get("summary", ""), header.get("description", ""))
            if unquote(revision) != "main" and unquote(revision) != repo.head.oid:
                raise HubError(400, "The test server only commits to main")
            repo.commits.append(commit)
        url = f"{self.hub.endpoint}/{URL_PREFIX[repo_type]}{repo_id}/commit/{commit.oid}"
        self._send(200, {"success": True, "commitOid": commit.oid, "commitUrl": url, "pullRequestUrl": None})

    def _entries(self, repo: Repo, revision: str):
        commit = self.hub._resolve(repo, revision)
        files = [{"type": "file", "oid": oid, "size": (self.hub.root / "blobs" / oid).stat().st_size, "path": p}
                 for p, oid in sorted(commit.tree.items())]
        folders = sorted({str(Path(p).parent) for p in commit.tree} - {"."})
        dirs = [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                for d in with_parents(folders)]
        return commit, files, dirs

    def _tree(self, repo_type: str, repo_id: str, revision: str, sub: str) -> None:
        repo = self._readable(repo_type, repo_id)
        commit, files, dirs = self._entries(repo, revision)
        recursive = self.query.get("recursive", "false").lower() in ("true", "1")
        prefix = f"{sub.rstrip('/')}/" if sub else ""
        out = []
        for entry in dirs + files:
            rest = entry["path"][len(prefix):] if entry["path"].startswith(prefix) else None
            if rest and (recursive or "/" not in rest):
                out.append(entry)
        if sub and not out and sub not in commit.tree:
            raise HubError(404, f"{sub} does not exist", "EntryNotFound")
        self._send(200, out)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._readable(repo_type, repo_id)
        _, files, dirs = self._entries(repo, revision)
        wanted = set(parse_qs(self.body.decode()).get("paths", []))
        self._send(200, [e for e in dirs + files if e["path"] in wanted])

    def _settings(self, repo_type: str, repo_id: str) -> None:
        repo, _ = self._writable(repo_type, repo_id)
        payload = self._json()
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] != "public"
        self._send(200, {})

    def _space_kv(self, repo_id: str, what: str, method: str) -> None:
        repo, _ = self._writable("space", repo_id)
        table = repo.variables if what == "variables" else repo.secrets
        if method == "POST":
            payload = self._json()
            table[payload["key"]] = {"value": payload["value"], "description": payload.get("description"),
                                     "updatedAt": iso(time.time())}
        elif method == "DELETE":
            table.pop(self._json().get("key"), None)
        elif method != "GET":
            raise HubError(405, "Method not allowed")
        if what == "secrets":
            self._send(200, {k: {"key": k, "description": v.get("description"), "updatedAt": v.get("updatedAt")}
                             for k, v in table.items()} if method == "GET" else None)
        else:
            self._send(200, {k: {"value": v["value"], "description": v.get("description"),
                                 "updatedAt": v.get("updatedAt")} for k, v in table.items()})

    def _space_hardware(self, repo_id: str, what: str) -> None:
        repo, _ = self._writable("space", repo_id)
        if what == "hardware":
            repo.hardware = self._json().get("flavor")
        self._send(200, runtime(repo))

    def _resolve_file(self, repo_type: str, repo_id: str, revision: str, filename: str) -> None:
        repo = self._readable(repo_type, repo_id)
        commit = self.hub._resolve(repo, revision)
        oid = commit.tree.get(filename)
        if oid is None:
            self._error(404, "Entry not found", "EntryNotFound") if self.method == "GET" else self._send(
                404, None, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                            "X-Repo-Commit": commit.oid})
            return
        data = self.hub.blob(oid)
        headers = {"ETag": f'"{oid}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        status, rng = 200, self.headers.get("Range")
        if rng and self.method == "GET" and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())):
            start = int(m[1])
            end = int(m[2]) if m[2] else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start:end + 1], 206
        self._send(status, raw=data, headers=headers)

