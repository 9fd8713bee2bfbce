"""One Hub file into the Hugging Face cache, trusting nothing the server says.

`huggingface_hub.hf_hub_download` builds cache paths from the server's
ETag and commit headers without checking them, reads bodies of any size
and has no overall deadline. `keras_genae.load` uses this module instead;
it writes the same cache layout (`models--ns--name/blobs/<etag>`,
`snapshots/<commit>/<file>` linking to the blob, `refs/<revision>`), so
huggingface_hub and Keras' `hf://` loader read what it writes.

- The ETag must be a 40- or 64-hex digest and the commit 40-hex; the
  revision a branch or tag name in Hub syntax or a commit. Anything else
  is refused with `DownloadError` before a path is built from it.
- A redirect on the Hub's own host must stay on the same repository's
  file; one to another repository is refused.
- The body is read into a temporary file beside the blob and never past
  the expected size (the manifest's, else the size the Hub announces, at
  most `KERAS_GENAE_MAX_DOWNLOAD_BYTES`); the whole file must arrive
  within `KERAS_GENAE_DOWNLOAD_TIMEOUT` seconds. It is verified before it
  is renamed into the cache, so no bad or partial file is ever cached.
- Nothing is read, linked or deleted outside the repository's cache folder.
"""

import os
import re
import time
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit

import httpx2
import huggingface_hub
from huggingface_hub import errors as hf_errors
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import build_hf_headers
from huggingface_hub.utils import get_session
from huggingface_hub.utils import hf_raise_for_status

from keras_genae.errors import DownloadError
from keras_genae.utils.io import atomic_path
from keras_genae.version import __version__

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
ETAG_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# A git ref name as the Hub accepts it: no "..", no empty or dot-led part.
_REF_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")

#: Environment variable: seconds one file may take to download (all of it).
TIMEOUT_ENV = "KERAS_GENAE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 900.0
#: Environment variable: the most bytes read for a file without a pinned size.
MAX_BYTES_ENV = "KERAS_GENAE_MAX_DOWNLOAD_BYTES"
DEFAULT_MAX_BYTES = 4 << 30
_CHUNK = 1 << 20
_MAX_REDIRECTS = 5


class HubUnreachable(OSError):
    """The metadata request failed (network error, timeout, HTTP 5xx): the
    caller may fall back to the cache. The cause is chained."""


def check_revision(revision, handle=None):
    """Return `revision` if it is a branch or tag name or a 40-hex commit.

    Args:
        revision: str. The part after "@" in `hf://namespace/name@revision`.
        handle: str or None. The handle, for the error message.

    Example:
    >>> check_revision("v1")
    'v1'
    """
    ok = isinstance(revision, str) and 0 < len(revision) <= 255 and not revision.endswith(".lock")
    ok = ok and all(_REF_PART_RE.match(part) for part in revision.split("/"))
    if not ok:
        where = f" in {handle!r}" if handle else ""
        raise ValueError(
            "`revision` must be a branch or tag name (letters, digits, '_', '-', '.', '+', "
            f"parts separated by '/', no '..') or a 40-hex commit{where}. Received: revision={revision!r}"
        )
    return revision


def download_limits():
    """`(timeout_seconds, max_bytes)` read from the environment now."""
    limits = []
    for var, default, kind in ((TIMEOUT_ENV, DEFAULT_TIMEOUT, float), (MAX_BYTES_ENV, DEFAULT_MAX_BYTES, int)):
        text = os.environ.get(var)
        try:
            value = default if not text else kind(text)
        except ValueError:
            value = -1
        if not value > 0:
            raise ValueError(f"`{var}` must be a positive number. Received: {var}={text!r}")
        limits.append(value)
    return tuple(limits)


def storage_dir(cache_dir, repo_id):
    return Path(cache_dir) / repo_folder_name(repo_id=repo_id, repo_type="model")


def inside(path, root):
    """Whether `path`, with every link resolved, lies inside `root`."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, base]) == base and real != base


def blob_etag(path, storage):
    """The ETag a cached file is stored under, or None if its blob is not a
    hash-named file inside `storage/blobs`."""
    blob = os.path.realpath(path)
    if os.path.dirname(blob) != os.path.realpath(Path(storage) / "blobs") or not os.path.isfile(blob):
        return None
    name = os.path.basename(blob)
    return name if ETAG_RE.match(name) else None


def cached_file(cache_dir, repo_id, filename, revision):
    """The cached snapshot file of `filename` at `revision`, or None."""
    storage = storage_dir(cache_dir, repo_id)
    commit = revision
    if not COMMIT_RE.match(revision):
        ref = storage / "refs" / revision
        if not ref.is_file() or ref.is_symlink() or not inside(ref, storage):
            return None
        commit = ref.read_text(encoding="ascii", errors="replace")[:64].strip()
        if not COMMIT_RE.match(commit):
            return None
    path = storage / "snapshots" / commit / filename
    # A link into `blobs/`, or a copy (caches written without symlinks).
    if not os.path.isfile(path) or not inside(path, storage):
        return None
    return str(path)


def evict(path, cache_dir, repo_id):
    """Delete a cached file (its snapshot entry and its blob), never
    anything outside the repository's cache folder."""
    storage = storage_dir(cache_dir, repo_id)
    for p in (os.path.realpath(path), path):
        if os.path.lexists(p) and inside(os.path.join(os.path.realpath(os.path.dirname(p)),
                                                      os.path.basename(p)), storage):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def head(repo_id, filename, revision, endpoint, deadline):
    """The Hub's metadata of a file, checked: `(commit, etag, size, url)`."""
    url = huggingface_hub.hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    try:
        meta = huggingface_hub.get_hf_file_metadata(
            url, timeout=max(0.1, min(10.0, deadline - time.monotonic())),
            library_name="keras_genae", library_version=__version__,
        )
    except (hf_errors.GatedRepoError, hf_errors.RepositoryNotFoundError,
            hf_errors.RevisionNotFoundError, hf_errors.EntryNotFoundError):
        raise
    except (hf_errors.HfHubHTTPError, httpx2.HTTPError, OSError) as e:
        raise HubUnreachable(str(e)) from e
    where = f"`{filename}` of `{repo_id}`"
    _check_location(meta.location, repo_id, filename, endpoint, where)
    if not isinstance(meta.commit_hash, str) or not COMMIT_RE.match(meta.commit_hash):
        raise DownloadError(
            f"The Hub at {endpoint} answered for {where} with a commit that is not 40 hex digits "
            f"(X-Repo-Commit={meta.commit_hash!r}); refusing it. Check the endpoint (HF_ENDPOINT)."
        )
    if not isinstance(meta.etag, str) or not ETAG_RE.match(meta.etag):
        raise DownloadError(
            f"The Hub at {endpoint} answered for {where} with an ETag that is not a sha256 or "
            f"git sha1 digest (ETag={meta.etag!r}), so the file cannot be verified; refusing it. "
            "Check the endpoint (HF_ENDPOINT)."
        )
    return meta.commit_hash, meta.etag, meta.size, meta.location


def _check_location(url, repo_id, filename, endpoint, where):
    """A redirect that stays on the Hub's host must keep the same repo and file."""
    target, hub = urlsplit(url), urlsplit(endpoint)
    if target.netloc != hub.netloc:
        return  # A CDN or storage host: the content is checked against the ETag.
    path = unquote(target.path)
    prefix = (hub.path.rstrip("/") + f"/{repo_id}/resolve/")
    if not (path.startswith(prefix) and path.endswith("/" + filename)):
        raise DownloadError(
            f"The Hub redirected {where} to {path!r}, another repository or file; refusing it. "
            "If the repository was renamed, load it under its new name."
        )


def download(repo_id, filename, revision, settings, verify, expected_size=None):
    """Return the cached path of a verified file, downloading it if needed.

    Args:
        repo_id: str. `"namespace/name"`.
        filename: str. A file of the repository.
        revision: str. A branch, tag or commit (checked).
        settings: `HubSettings`.
        verify: callable `(path, etag) -> ChecksumError or None`.
        expected_size: int or None. The pinned size; read no byte past it.

    Raises:
        ChecksumError: the file (downloaded, or cached when offline) does
            not verify. Nothing of it is left in the cache.
        DownloadError: the server broke a rule above, or a limit was hit.
    """
    check_revision(revision)
    storage = storage_dir(settings.cache_dir, repo_id)
    timeout, max_bytes = download_limits()
    deadline = time.monotonic() + timeout
    if settings.offline:
        return _from_cache(repo_id, filename, revision, settings, verify)
    commit, etag, size, location = head(repo_id, filename, revision, settings.endpoint, deadline)
    where = f"`{filename}` of `{repo_id}` (revision `{revision}`)"
    limit = expected_size if expected_size is not None else min(size or max_bytes, max_bytes)
    if expected_size is None and size is not None and size > max_bytes:
        raise DownloadError(
            f"{where} is {size} bytes, more than the {max_bytes} bytes allowed for a file without a "
            f"pinned size; refusing it. Raise {MAX_BYTES_ENV} to allow it."
        )
    snapshot = storage / "snapshots" / commit / filename
    blob = storage / "blobs" / etag
    if blob.is_file() and not blob.is_symlink():
        if verify(str(blob), etag) is None:
            _link(blob, snapshot, storage, revision, commit)
            return str(snapshot)
        evict(str(blob), settings.cache_dir, repo_id)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(str(blob)) as tmp:
        received = _stream(location, settings.endpoint, tmp, limit, deadline, timeout, where)
        if size is not None and received != size:
            raise DownloadError(
                f"Downloading {where} from {settings.endpoint} was cut short: Consistency check "
                f"failed: the Hub announced {size} bytes, {received} arrived. Nothing partial was "
                "cached; run `load` again to retry."
            )
        error = verify(tmp, etag)
        if error is not None:
            raise error
    _link(blob, snapshot, storage, revision, commit)
    return str(snapshot)


def _from_cache(repo_id, filename, revision, settings, verify):
    path = cached_file(settings.cache_dir, repo_id, filename, revision)
    if path is None:
        return None
    error = verify(path, blob_etag(path, storage_dir(settings.cache_dir, repo_id)))
    if error is not None:
        evict(path, settings.cache_dir, repo_id)
        raise error
    return path


def _stream(url, endpoint, target, limit, deadline, timeout, where):
    """GET `url` into `target`; return the number of bytes received."""
    headers = build_hf_headers(library_name="keras_genae", library_version=__version__)
    headers["Accept-Encoding"] = "identity"
    session = get_session()
    received = 0
    for _ in range(_MAX_REDIRECTS):
        if urlsplit(url).netloc != urlsplit(endpoint).netloc:
            headers.pop("authorization", None)  # The token stays on the Hub.
        read_timeout = max(0.1, min(60.0, deadline - time.monotonic()))
        with session.stream("GET", url, headers=headers, timeout=read_timeout, follow_redirects=False) as response:
            if response.is_redirect and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                continue
            hf_raise_for_status(response)
            with open(target, "wb") as f:
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if received > limit:
                        raise DownloadError(
                            f"The Hub sent more than the expected {limit} bytes for {where}; "
                            "stopped reading and refused the file."
                        )
                    if time.monotonic() > deadline:
                        raise DownloadError(
                            f"Downloading {where} took longer than {timeout:g} s; stopped. Nothing "
                            f"was cached. Set {TIMEOUT_ENV} (seconds) to allow more time."
                        )
                    f.write(chunk)
            return received
    raise DownloadError(f"Too many redirects while downloading {where}.")


def _link(blob, snapshot, storage, revision, commit):
    """Point `snapshots/<commit>/<file>` at the blob and record the ref."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not inside(snapshot.parent, storage):
        raise DownloadError(f"Refusing to write {str(snapshot)!r}: it is outside {str(storage)!r}.")
    with atomic_path(str(snapshot)) as tmp:  # Replaced in one step: safe for concurrent loads.
        try:
            os.symlink(os.path.relpath(blob, snapshot.parent), tmp)
        except OSError:  # No symlinks (e.g. Windows without developer mode): a copy.
            import shutil

            shutil.copyfile(blob, tmp)
    if revision != commit:
        ref = storage / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(str(ref)) as tmp:
            Path(tmp).write_text(commit)
