"""A minimal stand-in for the Hugging Face Hub, on 127.0.0.1, that keeps its
repositories in a local folder.

It answers the few HTTP endpoints that `huggingface_hub` calls to create a
repository, upload a folder and download files, so that
`keras_genae.push_to_hub` and `keras_genae.load("hf://...")` run their real
code against it (point them at it with `HF_ENDPOINT`):

- `POST /api/repos/create`, `POST /api/validate-yaml`;
- `POST /api/models/{repo}/preupload/{rev}`: every file is uploaded as a
  regular (base64) file, never through Git LFS or Xet;
- `POST /api/models/{repo}/commit/{rev}`: the NDJSON commit payload;
- `GET /api/models/{repo}[/revision/{rev}]`: repository info;
- `HEAD`/`GET /{repo}/resolve/{rev}/{path}`, with the `X-Repo-Commit` and
  `ETag` (git blob sha1) headers the client uses to cache and verify.

A commit of `namespace/name` is stored as the folder
`<root>/namespace/name/<commit sha>/` holding the files, and
`<root>/namespace/name/refs.json` maps branch names to commits. It has no
authentication, no LFS, no pull requests and no history listing: it is for
tutorials and tests, not a server.
"""

import base64
import hashlib
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("GET", re.compile(rf"^/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?$"), "info"),
    ("GET", re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
]


def git_blob_sha1(data):
    """The git object id of a file's content (the Hub's ETag of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class LocalHub:
    """A loopback Hub whose repositories live under `root`.

    Example:
    >>> hub = LocalHub("hub_storage").start()
    >>> os.environ["HF_ENDPOINT"] = hub.url
    >>> entry = keras_genae.push_to_hub("ckpt/my_vae", "me/my_vae")
    >>> model = keras_genae.load(f"hf://me/my_vae@{entry['hub']['revision']}")
    >>> hub.stop()
    """

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._server = None
        self._lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        hub = self

        class Handler(_Handler):
            local_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------ storage
    def repo_dir(self, repo_id):
        return self.root / repo_id

    def refs(self, repo_id):
        path = self.repo_dir(repo_id) / "refs.json"
        return json.loads(path.read_text()) if path.exists() else None

    def resolve(self, repo_id, revision):
        """`(commit sha or None, files dict)` of a branch or commit."""
        refs = self.refs(repo_id)
        if refs is None:
            return None, None
        sha = refs.get(revision, revision)
        folder = self.repo_dir(repo_id) / sha
        if not re.fullmatch(r"[0-9a-f]{40}", sha) or not folder.is_dir():
            return None, None
        return sha, {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def create(self, repo_id):
        with self._lock:
            if self.refs(repo_id) is not None:
                return False
            self.repo_dir(repo_id).mkdir(parents=True, exist_ok=True)
            (self.repo_dir(repo_id) / "refs.json").write_text("{}")
            return True

    def commit(self, repo_id, branch, added, deleted, message):
        """Store a new commit on `branch`; return its sha."""
        with self._lock:
            refs = self.refs(repo_id)
            parent = refs.get(branch)
            files = {}
            if parent:
                _, old = self.resolve(repo_id, parent)
                files = {path: p.read_bytes() for path, p in old.items()}
            for path in deleted:
                files.pop(path, None)
            files.update(added)
            digest = hashlib.sha1(f"{parent}\n{message}\n".encode())
            for path in sorted(files):
                digest.update(path.encode() + b"\0" + git_blob_sha1(files[path]).encode())
            sha = digest.hexdigest()
            folder = self.repo_dir(repo_id) / sha
            tmp = folder.with_name(f".{sha}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            for path, data in files.items():
                if ".." in path.split("/") or path.startswith("/"):
                    raise ValueError(f"Unsafe path in commit: {path!r}")
                (tmp / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp / path).write_bytes(data)
            tmp.mkdir(parents=True, exist_ok=True)
            if folder.exists():
                shutil.rmtree(tmp)
            else:
                tmp.rename(folder)
            refs[branch] = sha
            (self.repo_dir(repo_id) / "refs.json").write_text(json.dumps(refs, indent=2))
            return sha


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    local_hub = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def _route(self, method):
        path = urlsplit(self.path).path
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and (route_method == method or (route_method == "GET" and method == "HEAD")):
                args = {k: unquote(v) if v else v for k, v in match.groupdict().items()}
                return getattr(self, f"_{name}")(head=method == "HEAD", **args)
        return self._error(404, "NotFound", f"No route for {method} {path}")

    def _send(self, status, body=b"", headers=(), head=False, content_type="application/json"):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status, payload, head=False):
        self._send(status, json.dumps(payload).encode(), head=head)

    def _error(self, status, code, message, head=False, headers=()):
        self._send(status, json.dumps({"error": message}).encode(),
                   headers=[("X-Error-Code", code), ("X-Error-Message", message), *headers], head=head)

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # ----------------------------------------------------------- handlers
    def _create(self, head):
        payload = json.loads(self._body())
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        url = f"http://{self.headers['Host']}/{repo_id}"
        if not self.local_hub.create(repo_id):
            return self._send(409, json.dumps({"error": "Repository already exists", "url": url}).encode())
        return self._json(200, {"url": url, "name": repo_id})

    def _validate_yaml(self, head):
        self._body()
        return self._json(200, {"errors": [], "warnings": []})

    def _preupload(self, head, repo, rev):
        if self.local_hub.refs(repo) is None:
            return self._error(404, "RepoNotFound", f"Repository {repo} not found")
        files = json.loads(self._body())["files"]
        return self._json(200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files
        ]})

    def _commit(self, head, repo, rev):
        if self.local_hub.refs(repo) is None:
            return self._error(404, "RepoNotFound", f"Repository {repo} not found")
        added, deleted, message = {}, [], ""
        for line in self._body().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                message = value.get("summary", "")
            elif item["key"] == "file":
                added[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
            else:
                return self._error(400, "BadRequest", f"Unsupported commit operation {item['key']!r}")
        sha = self.local_hub.commit(repo, rev, added, deleted, message)
        url = f"http://{self.headers['Host']}/{repo}/commit/{sha}"
        return self._json(200, {"commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

    def _info(self, head, repo, rev=None):
        sha, files = self.local_hub.resolve(repo, rev or "main")
        if self.local_hub.refs(repo) is None:
            return self._error(404, "RepoNotFound", f"Repository {repo} not found", head)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        return self._json(200, {"id": repo, "modelId": repo, "sha": sha, "private": False,
                                "siblings": [{"rfilename": f} for f in files]}, head)

    def _resolve(self, head, repo, rev, path):
        if self.local_hub.refs(repo) is None:
            return self._error(404, "RepoNotFound", "Repository not found", head)
        sha, files = self.local_hub.resolve(repo, rev)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        if path not in files:
            return self._error(404, "EntryNotFound", f"{path} does not exist", head,
                               headers=[("X-Repo-Commit", sha)])
        data = files[path].read_bytes()
        headers = [("X-Repo-Commit", sha), ("ETag", f'"{git_blob_sha1(data)}"')]
        return self._send(200, data, headers, head, content_type="application/octet-stream")
