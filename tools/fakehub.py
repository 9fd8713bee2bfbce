"""A loopback Hugging Face Hub, for the tests and the tutorials.

`FakeHub` keeps repositories in memory and serves them over HTTP on
127.0.0.1 the way huggingface.co does, so that `keras_genae.push_to_hub`,
`keras_genae.load("hf://...")` and `keras.saving.load_model("hf://...")`
run their real code against it (point them at it with `HF_ENDPOINT`):

- `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` with `X-Repo-Commit`,
  `ETag` (git blob sha1 of a regular file; sha256 of an LFS file, which
  also gets `X-Linked-Etag` and `X-Linked-Size`) and `Content-Length`;
  `Range` requests get a 206. Errors carry `X-Error-Code`
  (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
- `GET /api/models/{repo_id}[/revision/{revision}]` and
  `GET /api/models/{repo_id}/tree/{revision}`, which `snapshot_download`
  (and so Keras' `hf://` loader) needs.
- Uploads, as `HfApi.create_repo` and `HfApi.upload_folder` make them:
  `POST /api/repos/create`, `POST /api/validate-yaml`,
  `POST /api/models/{repo_id}/preupload/{revision}` (every file is
  uploaded as a regular base64 file, never through Git LFS or Xet) and
  `POST /api/models/{repo_id}/commit/{revision}` (the NDJSON payload).

Tests also commit directly (`commit`, `commit_dir`) and inject faults per
file name in `hub.faults`: `"tamper"` (a flipped byte, same headers),
`"500"` (every request), `"500-get"` (only GET), `"short"` (a complete
response with half the bytes), `"drop"` (the connection closes before the
last byte). Hostile faults: `("etag", value)` (this ETag, also as
`X-Linked-Etag`, on HEAD and GET), `("commit", value)` (this
`X-Repo-Commit`), `("pad", n)` (the body and its announced size grow by
`n` zero bytes, sent in 1 MiB writes; the bytes actually written are in
`hub.sent`), `("trickle", seconds)` (one byte every `seconds`, for at most
10 s, then the connection closes), and `("redirect", repo_id)` (a 302 to
the same file of another repo). Faults combine in a tuple of such pairs,
e.g. `(("etag", e), "tamper")`. Every request is logged in `hub.requests`.

It has no authentication, no pull requests and no history listing: it is
for tutorials and tests, not a server.

Example:
>>> hub = FakeHub().start()
>>> os.environ["HF_ENDPOINT"] = hub.url
>>> entry = keras_genae.push_to_hub("ckpt/my_vae", "me/my_vae")
>>> model = keras_genae.load(f"hf://me/my_vae@{entry['hub']['revision']}")
>>> hub.stop()
"""

import base64
import hashlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlsplit

from keras_genae.hub.download import git_blob_sha1

#: Files served as Git LFS files (sha256 ETag, `X-Linked-*` headers).
LFS_SUFFIXES = (".h5", ".keras", ".bin", ".safetensors")

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = (
    ("POST", re.compile(r"^/api/repos/create$"), "create"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("GET", re.compile(rf"^/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/.*)?$"), "tree"),
    ("GET", re.compile(rf"^/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?$"), "info"),
    ("GET", re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"), "resolve"),
)


class FakeHub:
    """An in-memory Hub served over loopback HTTP (see the module docstring)."""

    def __init__(self):
        self.repos = {}  # repo_id -> {"refs": {name: sha}, "commits": {sha: {path: bytes}}}
        self.faults = {}  # filename -> fault spec
        self.requests = []  # (method, path, headers)
        self.sent = {}  # filename -> body bytes written by GET (see "pad")
        self.stopped = False
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # ------------------------------------------------------------- repos
    def create_repo(self, repo_id):
        """Create an empty repository; False if it exists already."""
        with self._lock:
            if repo_id in self.repos:
                return False
            self.repos[repo_id] = {"refs": {}, "commits": {}}
            return True

    def commit(self, repo_id, files, branch="main", tags=()):
        """Add a commit holding exactly `files` (path -> bytes) on `branch`
        (and `tags`), creating the repository if needed; return its sha."""
        for path in files:
            if path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
                raise ValueError(f"Unsafe path in commit: {path!r}")
        with self._lock:
            repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
            digest = hashlib.sha1(repo_id.encode())
            for path in sorted(files):
                digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
            digest.update(str(len(repo["commits"])).encode())
            sha = digest.hexdigest()
            repo["commits"][sha] = dict(files)
            for ref in (branch, *tags):
                repo["refs"][ref] = sha
            return sha

    def commit_dir(self, repo_id, directory, **kwargs):
        """Commit every file under `directory`; return the commit sha."""
        directory = Path(directory)
        files = {
            p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()
        }
        return self.commit(repo_id, files, **kwargs)

    def resolve(self, repo_id, revision):
        """`(repo, commit sha)` of a branch, tag or commit; `(None, None)`
        for an unknown repository, `(repo, None)` for an unknown revision."""
        repo = self.repos.get(repo_id)
        if repo is None:
            return None, None
        sha = revision if revision in repo["commits"] else repo["refs"].get(revision)
        return repo, sha

    def files(self, repo_id, revision="main"):
        """The files (path -> bytes) of a commit, or None."""
        repo, sha = self.resolve(repo_id, revision)
        return None if sha is None else dict(repo["commits"][sha])

    def count(self, method, filename):
        """How many `method` requests asked for a file named `filename`."""
        return sum(1 for m, p, _ in self.requests if m == method and p.endswith("/" + filename))

    # ------------------------------------------------------------ server
    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        hub = self

        class Handler(_HubHandler):
            fake = hub

        self.stopped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self.stopped = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._route("HEAD")

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _route(self, method):
        path = urlsplit(self.path).path
        self.fake.requests.append((method, path, dict(self.headers)))
        head = method == "HEAD"
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and (route_method == method or (route_method == "GET" and head)):
                args = {k: unquote(v) if v else v for k, v in match.groupdict().items()}
                return getattr(self, f"_{name}")(head=head, **args)
        if method == "POST":
            self._body()
        return self._error(404, "NotFound", f"No route for {method} {path}", head)

    # ----------------------------------------------------------- replies
    def _send(self, status, headers=(), body=b"", head=False, length=None):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)
        self.close_connection = True

    def _json(self, status, payload, head=False):
        self._send(status, [("Content-Type", "application/json")], json.dumps(payload).encode(), head)

    def _error(self, status, code, message, head=False, commit=None):
        headers = [("X-Error-Code", code), ("X-Error-Message", message), ("Content-Type", "application/json")]
        if commit:
            headers.append(("X-Repo-Commit", commit))
        self._send(status, headers, json.dumps({"error": message}).encode(), head)

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _lookup(self, repo_id, revision, head=False):
        """`(repo, sha)`, or None after answering 404."""
        repo, sha = self.fake.resolve(repo_id, revision)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
            return None
        if sha is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
            return None
        return repo, sha

    # ------------------------------------------------------------ uploads
    def _create(self, head):
        payload = json.loads(self._body())
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        url = f"http://{self.headers['Host']}/{repo_id}"
        if not self.fake.create_repo(repo_id):
            return self._json(409, {"error": "Repository already exists", "url": url})
        return self._json(200, {"url": url, "name": repo_id})

    def _validate_yaml(self, head):
        self._body()
        return self._json(200, {"errors": [], "warnings": []})

    def _preupload(self, head, repo, rev):
        files = json.loads(self._body())["files"]
        if repo not in self.fake.repos:
            return self._error(404, "RepoNotFound", f"Repository {repo} not found")
        return self._json(200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files
        ]})

    def _commit(self, head, repo, rev):
        body = self._body()
        if repo not in self.fake.repos:
            return self._error(404, "RepoNotFound", f"Repository {repo} not found")
        files = self.fake.files(repo, rev) or {}
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                files = {p: d for p, d in files.items()
                         if p != value["path"] and not p.startswith(value["path"].rstrip("/") + "/")}
            elif key != "header":
                return self._error(400, "BadRequest", f"Unsupported commit operation {key!r}")
        try:
            sha = self.fake.commit(repo, files, branch=rev)
        except ValueError as e:
            return self._error(400, "BadRequest", str(e))
        url = f"http://{self.headers['Host']}/{repo}/commit/{sha}"
        return self._json(200, {"commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

    # --------------------------------------------------------------- info
    def _info(self, head, repo, rev=None):
        found = self._lookup(repo, rev or "main", head)
        if found is None:
            return None
        files = found[0]["commits"][found[1]]
        return self._json(200, {"id": repo, "modelId": repo, "sha": found[1], "private": False,
                                "siblings": [{"rfilename": f} for f in sorted(files)]}, head)

    def _tree(self, head, repo, rev):
        found = self._lookup(repo, rev, head)
        if found is None:
            return None
        payload = []
        for name, data in sorted(found[0]["commits"][found[1]].items()):
            item = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data=data)}
            if name.endswith(LFS_SUFFIXES):
                item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            payload.append(item)
        return self._json(200, payload, head)

    # ------------------------------------------------------------ resolve
    def _resolve(self, head, repo, rev, file):
        found = self._lookup(repo, rev, head)
        if found is None:
            return None
        files, sha = found[0]["commits"][found[1]], found[1]
        fault = self.fake.faults.get(file)
        hostile = _hostile(fault)
        if "redirect" in hostile and hostile["redirect"] != repo:
            return self._send(302, [("Location", f"/{hostile['redirect']}/resolve/main/{file}")], head=head)
        if fault == "500" or (fault == "500-get" and not head):
            return self._error(500, "InternalError", "Internal server error", head)
        if file not in files:
            return self._error(404, "EntryNotFound", f"{file} does not exist", head, commit=sha)
        data = files[file]
        headers = [("X-Repo-Commit", sha), ("Accept-Ranges", "bytes"),
                   ("Content-Type", "application/octet-stream")]
        if file.endswith(LFS_SUFFIXES):
            etag = hashlib.sha256(data).hexdigest()
            headers += [("X-Linked-Etag", f'"{etag}"'), ("X-Linked-Size", str(len(data)))]
        else:
            etag = git_blob_sha1(data=data)
        etag = hostile.get("etag", etag)
        if "etag" in hostile:
            headers = [h for h in headers if h[0] != "X-Linked-Etag"] + [("X-Linked-Etag", f'"{etag}"')]
        if "commit" in hostile:
            headers = [h for h in headers if h[0] != "X-Repo-Commit"] + [("X-Repo-Commit", hostile["commit"])]
        headers.append(("ETag", f'"{etag}"'))
        pad = hostile.get("pad", 0)
        if pad:
            headers = [h for h in headers if h[0] != "X-Linked-Size"] + [("X-Linked-Size", str(len(data) + pad))]
        if head:
            return self._send(200, headers, head=True, length=len(data) + pad)
        if pad or "trickle" in hostile:
            return self._slow_body(file, headers, data, pad, hostile.get("trickle"))
        body = data
        if fault == "tamper" or "tamper" in (fault if isinstance(fault, tuple) else ()):
            body = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        range_header = self.headers.get("Range")
        if range_header:
            start = int(re.match(r"bytes=(\d+)-", range_header).group(1))
        if fault == "short":
            return self._send(200, headers, body[: len(body) // 2])
        if fault == "drop":
            return self._drop(headers, body, start)
        if start:
            headers.append(("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
            return self._send(206, headers, body[start:])
        return self._send(200, headers, body)

    def _drop(self, headers, body, start):
        """Announce the full body, send all but its last byte, hang up."""
        self.send_response(206 if start else 200)
        for key, value in headers:
            self.send_header(key, value)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:-1])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _slow_body(self, filename, headers, data, pad, trickle):
        """Send a padded body in 1 MiB writes, or trickle it byte by byte;
        stop when the client hangs up, the hub stops, or after 10 s."""
        self.send_response(200)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data) + pad))
        self.send_header("Connection", "close")
        self.end_headers()
        self.fake.sent[filename] = 0
        give_up = time.monotonic() + 10.0
        try:
            if trickle:
                for byte in data:
                    if time.monotonic() > give_up or self.fake.stopped:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    self.fake.sent[filename] += 1
                    time.sleep(trickle)
            else:
                self.wfile.write(data)
                self.fake.sent[filename] += len(data)
                zeros = bytes(1 << 20)
                while self.fake.sent[filename] < len(data) + pad and time.monotonic() < give_up:
                    self.wfile.write(zeros)
                    self.fake.sent[filename] += len(zeros)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def _hostile(fault):
    """The `(name, value)` faults of a fault spec, as a dict."""
    items = fault if isinstance(fault, tuple) and fault and isinstance(fault[0], tuple) else (fault,)
    return dict(f for f in items if isinstance(f, tuple) and len(f) == 2)
