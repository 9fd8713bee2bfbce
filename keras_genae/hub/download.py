"""Hub downloads for `keras_genae.load`: settings, fetching into the HF
cache with clear errors, and verification of every file (manifest sha256,
or the Hub's ETag) before anything is deserialized.

The transfer itself (checked ETags, commits and redirects, size and time
limits, the cache layout) is in `keras_genae.hub.transfer`. A file that
does not match never stays in the cache; when online it is downloaded once
more, and a second mismatch (or a mismatch while offline) raises
`ChecksumError`.
"""

import hashlib
import os
import re
from dataclasses import dataclass

from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors

from keras_genae.hub import transfer
from keras_genae.hub import manifest
from keras_genae.errors import ChecksumError
from keras_genae.errors import DownloadError
from keras_genae.hub.transfer import COMMIT_RE

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")



@dataclass
class HubSettings:
    endpoint: str
    cache_dir: str
    offline: bool


def hub_settings():
    """The endpoint, cache directory and offline flag, read now.

    Environment variables win over `huggingface_hub.constants` (which
    huggingface_hub reads once, at import time)."""
    endpoint = (os.environ.get("HF_ENDPOINT") or hf_constants.ENDPOINT).rstrip("/")
    if os.environ.get("HF_HUB_CACHE"):
        cache_dir = os.environ["HF_HUB_CACHE"]
    elif os.environ.get("HUGGINGFACE_HUB_CACHE"):
        cache_dir = os.environ["HUGGINGFACE_HUB_CACHE"]
    elif os.environ.get("HF_HOME"):
        cache_dir = os.path.join(os.environ["HF_HOME"], "hub")
    else:
        cache_dir = hf_constants.HF_HUB_CACHE
    env_offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    offline = hf_constants.HF_HUB_OFFLINE or (
        env_offline is not None and env_offline.strip().upper() in {"1", "ON", "YES", "TRUE"}
    )
    return HubSettings(endpoint, os.path.expanduser(os.path.expandvars(cache_dir)), offline)


# -------------------------------------------------------------- download
def fetch(repo_id, filename, revision, settings, verify, expected_size=None):
    """Download (or take from the cache) one file and verify it.

    `verify(path, etag)` returns None when the file is good, else the
    `ChecksumError` to raise. A bad file never stays in the cache; when
    online it is downloaded once more and verified again. `expected_size`
    (the manifest's) caps the bytes read."""
    for attempt in range(2):
        try:
            return _download(repo_id, filename, revision, settings, verify, expected_size)
        except ChecksumError:
            if settings.offline or attempt == 1:
                raise
    raise AssertionError("unreachable")


def _download(repo_id, filename, revision, settings, verify, expected_size=None):
    where = f"`{filename}` of `{repo_id}` (revision `{revision}`)"
    try:
        try:
            path = transfer.download(repo_id, filename, revision, settings, verify, expected_size)
        except transfer.HubUnreachable as e:
            # The Hub cannot be reached: use the cached copy, as huggingface_hub does.
            path = transfer.cached_file(settings.cache_dir, repo_id, filename, revision)
            if path is None:
                raise DownloadError(
                    f"Could not download {where} from {settings.endpoint}, and it is not in the cache "
                    f"{settings.cache_dir!r}. Cause: {_cause(e)}. Check your connection and the endpoint "
                    "(HF_ENDPOINT), then try again; with HF_HUB_OFFLINE=1 only cached files are used."
                ) from e
            storage = transfer.storage_dir(settings.cache_dir, repo_id)
            error = verify(path, transfer.blob_etag(path, storage))
            if error is not None:
                transfer.evict(path, settings.cache_dir, repo_id)
                raise error from None
        if path is None:
            raise DownloadError(
                f"Cannot load {where}: offline mode is on (HF_HUB_OFFLINE) and the file is not in "
                f"the cache {settings.cache_dir!r}. Go online (unset HF_HUB_OFFLINE) once to download "
                "it, or load a local checkpoint directory."
            )
        return path
    except hf_errors.GatedRepoError as e:
        raise DownloadError(
            f"`{repo_id}` is a gated repository: accept its conditions on the Hub and log in "
            "(`hf auth login` or HF_TOKEN) to download it."
        ) from e
    except hf_errors.RepositoryNotFoundError as e:
        raise DownloadError(
            f"Repository `{repo_id}` was not found at {settings.endpoint} (HTTP "
            f"{_status(e)}). Check the handle; for a private repository, log in with "
            "`hf auth login` or set HF_TOKEN."
        ) from e
    except hf_errors.RevisionNotFoundError as e:
        raise DownloadError(
            f"Revision `{revision}` does not exist in `{repo_id}` at {settings.endpoint}. "
            "Check the part after '@' in the handle."
        ) from e
    except hf_errors.EntryNotFoundError as e:
        raise DownloadError(
            f"`{repo_id}` (revision `{revision}`) has no file `{filename}`, so it is not a "
            "keras_genae checkpoint: one holds config.json and model.weights.h5, as written by "
            "`keras_genae.save_pretrained`."
        ) from e
    except hf_errors.HfHubHTTPError as e:
        raise DownloadError(
            f"Downloading {where} from {settings.endpoint} failed with HTTP {_status(e)}. "
            "Nothing was cached; try again later."
        ) from e
    except (DownloadError, ChecksumError):
        raise
    except (OSError, _http_error_types()) as e:
        raise DownloadError(
            f"Downloading {where} from {settings.endpoint} failed or was cut short: {_cause(e)}. "
            "Nothing partial was cached; run `load` again to retry."
        ) from e


def _http_error_types():
    try:
        import httpx2

        return httpx2.HTTPError
    except ImportError:  # pragma: no cover - huggingface_hub's HTTP client.
        return OSError


def _status(error):
    response = getattr(error, "response", None)
    return getattr(response, "status_code", "error")


def _cause(error):
    seen = error
    while seen.__cause__ is not None:
        seen = seen.__cause__
    text = str(seen).strip().splitlines()
    return f"{type(seen).__name__}: {text[0] if text else ''}"


# ---------------------------------------------------------- verification
def _checksum_error(filename, source, kind, expected, actual, sizes=None):
    expected_text, actual_text = expected, actual
    if sizes:
        expected_text += f" ({sizes[0]} bytes)"
        actual_text += f" ({sizes[1]} bytes)"
    error = ChecksumError(
        f"Checksum mismatch for `{filename}` of {source}: expected {kind} {expected_text}, "
        f"got {actual_text}. The file was not loaded and is not kept in the cache; "
        "`load` downloads it afresh next time."
    )
    error.filename, error.expected, error.actual = filename, expected, actual
    return error


def check_manifest_hash(path, filename, expected, repo_id, revision):
    """Check a file against its manifest entry (sha256 and size)."""
    sha256, size = manifest.file_digest(path)
    if sha256 == expected["sha256"] and size == expected["size"]:
        return None
    return _checksum_error(filename, f"`{repo_id}`@{revision} (manifest)", "sha256",
                           expected["sha256"], sha256, sizes=(expected["size"], size))


def git_blob_sha1(path=None, *, data=None):
    """The git blob id of a file: sha1 of `b"blob <size>\\0" + content`.

    This is the Hub's ETag of a regular (non-LFS) file.

    Args:
        path: str or `Path`. The file to hash, read in 1 MiB chunks.
        data: bytes. The content to hash instead of a file (keyword only).

    Example:
    >>> git_blob_sha1(data=b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    if (path is None) == (data is None):
        raise ValueError(
            "Pass exactly one of `path` and `data`. "
            f"Received: path={path!r}, data={'<bytes>' if data is not None else None}"
        )
    if data is not None:
        return hashlib.sha1(b"blob %d\0" % len(data) + bytes(data)).hexdigest()
    size = os.path.getsize(path)
    digest = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_etag(path, etag, filename, repo_id):
    """Check a file against the ETag the Hub gave for it (the name of its
    blob in the cache): the sha256 of an LFS file or the git blob sha1 of
    a regular file. An ETag that is not such a digest is refused."""
    if isinstance(etag, str) and _SHA256_RE.match(etag):
        actual = manifest.file_digest(path)[0]
    elif isinstance(etag, str) and COMMIT_RE.match(etag):
        actual = git_blob_sha1(path)
    else:
        error = ChecksumError(
            f"`{filename}` of `{repo_id}` has no ETag that is a sha256 or git sha1 digest "
            f"(ETag={etag!r}), so it cannot be verified; it was not loaded."
        )
        error.filename, error.expected, error.actual = filename, etag, None
        return error
    if actual == etag:
        return None
    kind = "sha256 (the Hub's ETag)" if len(etag) == 64 else "git blob sha1 (the Hub's ETag)"
    return _checksum_error(filename, f"`{repo_id}`", kind, etag, actual)
