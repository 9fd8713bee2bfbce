"""A loopback Hugging Face Hub for the registry and hub tests.

`FakeHub` serves repos built in the test over HTTP on 127.0.0.1 the way
huggingface.co does:

- `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` with `X-Repo-Commit`,
  `ETag` (git blob sha1 of a regular file; sha256 of an LFS file, which
  also gets `X-Linked-Etag` and `X-Linked-Size`) and `Content-Length`;
  `Range` requests get a 206. Errors carry `X-Error-Code`
  (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
- `GET /api/models/{repo_id}/revision/{revision}` and
  `GET /api/models/{repo_id}/tree/{revision}`, which `snapshot_download`
  (and so `keras.saving.load_model("hf://...")`) needs.

Faults can be injected per file: `"tamper"` (a flipped byte, same
headers), `"500"` (every request), `"500-get"` (only GET), `"short"` (a
complete response with half the bytes), `"drop"` (the connection closes
before the last byte). Hostile faults, for tests/test_security.py:
`("etag", value)` (this ETag, also as `X-Linked-Etag`, on HEAD and GET),
`("commit", value)` (this `X-Repo-Commit`), `("pad", n)` (the body and
its announced size grow by `n` zero bytes, sent in 1 MiB writes; the
bytes actually written are in `hub.sent`), `("trickle", seconds)` (one
byte every `seconds`, for at most 10 s, then the connection closes), and
`("redirect", repo_id)` (a 302 to the same file of another repo).
Faults can be combined in a tuple of such pairs, e.g. `(("etag", e),
"tamper")`.
"""

import hashlib
import json
import os
import re
import socket
import threading
import time
import types
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
from huggingface_hub import constants as hf_constants

LFS_SUFFIXES = (".h5", ".keras", ".bin", ".safetensors")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """An in-memory Hub served over loopback HTTP (see the module docstring)."""

    def __init__(self):
        self.repos = {}  # repo_id -> {"refs": {name: sha}, "commits": {sha: {path: bytes}}}
        self.faults = {}  # filename -> fault name
        self.requests = []  # (method, path, headers)
        self.sent = {}  # filename -> body bytes written by GET (see "pad")
        self._server = None
        self._thread = None

    # ------------------------------------------------------------- repos
    def commit(self, repo_id, files, branch="main", tags=()):
        """Add a commit holding `files` (path -> bytes); return its sha."""
        digest = hashlib.sha1(repo_id.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        digest.update(str(len(repo["commits"])).encode())
        sha = digest.hexdigest()
        repo["commits"][sha] = dict(files)
        for ref in (branch, *tags):
            repo["refs"][ref] = sha
        return sha

    def commit_dir(self, repo_id, directory, **kwargs):
        directory = Path(directory)
        files = {
            p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()
        }
        return self.commit(repo_id, files, **kwargs)

    def count(self, method, filename):
        return sum(1 for m, p, _ in self.requests if m == method and p.endswith("/" + filename))

    # ------------------------------------------------------------ server
    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        hub = self

        class Handler(_HubHandler):
            fake = hub

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

    # ---------------------------------------------------------- resolving
    def resolve(self, repo_id, revision):
        repo = self.repos.get(repo_id)
        if repo is None:
            return None, None
        sha = revision if revision in repo["commits"] else repo["refs"].get(revision)
        return repo, sha


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None
    _resolve_re = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
    _api_re = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<kind>revision|tree)/(?P<rev>[^/]+)(?:/.*)?$")

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._handle(head=True)

    def do_GET(self):
        self._handle(head=False)

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

    def _error(self, status, code, message, head, commit=None):
        headers = [("X-Error-Code", code), ("X-Error-Message", message), ("Content-Type", "application/json")]
        if commit:
            headers.append(("X-Repo-Commit", commit))
        self._send(status, headers, json.dumps({"error": message}).encode(), head)

    def _handle(self, head):
        path = urlsplit(self.path).path
        self.fake.requests.append(("HEAD" if head else "GET", path, dict(self.headers)))
        match = self._api_re.match(path)
        if match and not head:
            return self._api(unquote(match["repo"]), match["kind"], unquote(match["rev"]))
        match = self._resolve_re.match(path)
        if match is None:
            return self._error(404, "NotFound", "Not found", head)
        repo_id, revision, filename = unquote(match["repo"]), unquote(match["rev"]), unquote(match["file"])
        repo, sha = self.fake.resolve(repo_id, revision)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found", head)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        fault = self.fake.faults.get(filename)
        hostile = _hostile(fault)
        if "redirect" in hostile and hostile["redirect"] != repo_id:
            target = f"/{hostile['redirect']}/resolve/main/{filename}"
            return self._send(302, [("Location", target)], head=head)
        if fault == "500" or (fault == "500-get" and not head):
            return self._error(500, "InternalError", "Internal server error", head)
        files = repo["commits"][sha]
        if filename not in files:
            return self._error(404, "EntryNotFound", f"{filename} does not exist", head, commit=sha)
        data = files[filename]
        headers = [("X-Repo-Commit", sha), ("Accept-Ranges", "bytes"),
                   ("Content-Type", "application/octet-stream")]
        if filename.endswith(LFS_SUFFIXES):
            etag = hashlib.sha256(data).hexdigest()
            headers += [("X-Linked-Etag", f'"{etag}"'), ("X-Linked-Size", str(len(data)))]
        else:
            etag = git_blob_sha1(data)
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
            return self._slow_body(filename, headers, data, pad, hostile.get("trickle"))
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
            # Announce the full body, send all but its last byte, hang up.
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
            return None
        if start:
            headers.append(("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
            return self._send(206, headers, body[start:])
        return self._send(200, headers, body)

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
                    if time.monotonic() > give_up or getattr(self.fake, "stopped", False):
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

    def _api(self, repo_id, kind, revision):
        repo, sha = self.fake.resolve(repo_id, revision)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found", False)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", False)
        files = repo["commits"][sha]
        if kind == "revision":
            payload = {"id": repo_id, "sha": sha, "private": False,
                       "siblings": [{"rfilename": f} for f in sorted(files)]}
        else:
            payload = []
            for name in sorted(files):
                data = files[name]
                item = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
                if name.endswith(LFS_SUFFIXES):
                    item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                payload.append(item)
        self._send(200, [("Content-Type", "application/json")], json.dumps(payload).encode())


def _hostile(fault):
    """The `(name, value)` faults of a fault spec, as a dict."""
    items = fault if isinstance(fault, tuple) and fault and isinstance(fault[0], tuple) else (fault,)
    return dict(f for f in items if isinstance(f, tuple) and len(f) == 2)


# ---------------------------------------------------------------- fixtures
def _clear_hub_env(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                "HF_ENDPOINT", "KERAS_GENAE_MANIFEST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """An empty HF_HOME; returns the hub cache directory inside it."""
    _clear_hub_env(monkeypatch)
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    return home / "hub"


@pytest.fixture
def fake_hub(hf_home, monkeypatch):
    """A running `FakeHub` that huggingface_hub points at.

    The endpoint is set both through `HF_ENDPOINT` (read by keras_genae at
    call time) and in `huggingface_hub.constants` (read at import time,
    used by code that passes no endpoint, such as Keras' hf:// loader)."""
    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(hf_home))
    hub.cache_dir = hf_home
    yield hub
    hub.stop()


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """Skip huggingface_hub's retry back-off sleeps (up to 23 s on a 500)."""
    from huggingface_hub import file_download
    from huggingface_hub.utils import _http

    shim = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    shim.sleep = lambda seconds: None
    monkeypatch.setattr(_http, "time", shim)
    monkeypatch.setattr(file_download, "time", shim)


def cache_problems(cache_dir):
    """Files in an HF cache that a later load could wrongly use: partial
    downloads, blobs whose content does not match their ETag name, and
    snapshot entries that point at such blobs."""
    problems = []
    for root, _, files in os.walk(cache_dir):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".incomplete"):
                problems.append(f"partial download {path}")
            elif os.path.basename(root) == "blobs":
                data = Path(path).read_bytes()
                if name not in (hashlib.sha256(data).hexdigest(), git_blob_sha1(data)):
                    problems.append(f"corrupt blob {path}")
    return problems


def blob_files(cache_dir):
    return [p for p in Path(cache_dir).rglob("blobs/*") if p.is_file()]
