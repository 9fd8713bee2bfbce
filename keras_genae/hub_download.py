"""Hub downloads for `keras_genae.load`: settings, fetching into the HF
cache with clear errors, and verification of every file (manifest sha256,
or the Hub's ETag) before anything is deserialized.

A file that does not match is deleted from the cache and, when online,
downloaded once more; a second mismatch (or a mismatch while offline)
raises `ChecksumError`.
"""

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors

from keras_genae import registry
from keras_genae.errors import ChecksumError
from keras_genae.version import __version__

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

class DownloadError(OSError):
    """A checkpoint file could not be downloaded (and is not cached)."""


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
def fetch(repo_id, filename, revision, settings, verify):
    """Download (or take from the cache) one file and verify it.

    `verify(path)` returns None when the file is good, else the
    `ChecksumError` to raise. A bad file is evicted from the cache; when
    online it is downloaded once more and verified again."""
    for attempt in range(2):
        path = _download(repo_id, filename, revision, settings)
        error = verify(path)
        if error is None:
            return path
        _evict(path)
        if settings.offline or attempt == 1:
            raise error
    raise AssertionError("unreachable")


def _download(repo_id, filename, revision, settings):
    where = f"`{filename}` of `{repo_id}` (revision `{revision}`)"
    try:
        return huggingface_hub.hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            cache_dir=settings.cache_dir,
            endpoint=settings.endpoint,
            local_files_only=settings.offline,
            library_name="keras_genae",
            library_version=__version__,
        )
    except hf_errors.LocalEntryNotFoundError as e:
        if settings.offline:
            raise DownloadError(
                f"Cannot load {where}: offline mode is on (HF_HUB_OFFLINE) and the file is not in "
                f"the cache {settings.cache_dir!r}. Go online (unset HF_HUB_OFFLINE) once to download "
                "it, or load a local checkpoint directory."
            ) from e
        raise DownloadError(
            f"Could not download {where} from {settings.endpoint}, and it is not in the cache "
            f"{settings.cache_dir!r}. Cause: {_cause(e)}. Check your connection and the endpoint "
            "(HF_ENDPOINT), then try again; with HF_HUB_OFFLINE=1 only cached files are used."
        ) from e
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


def _evict(path):
    """Delete a cached file: its snapshot entry and the blob it links to."""
    blob = os.path.realpath(path)
    for p in {path, blob}:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------- verification
def _checksum_error(filename, source, kind, expected, actual, path, sizes=None):
    expected_text, actual_text = expected, actual
    if sizes:
        expected_text += f" ({sizes[0]} bytes)"
        actual_text += f" ({sizes[1]} bytes)"
    error = ChecksumError(
        f"Checksum mismatch for `{filename}` of {source}: expected {kind} {expected_text}, "
        f"got {actual_text}. The file was not loaded and was deleted from the cache ({path}); "
        "`load` downloads it afresh next time."
    )
    error.filename, error.expected, error.actual = filename, expected, actual
    return error


def check_manifest_hash(path, filename, expected, repo_id, revision):
    sha256, size = registry.file_digest(path)
    if sha256 == expected["sha256"] and size == expected["size"]:
        return None
    return _checksum_error(filename, f"`{repo_id}`@{revision} (manifest)", "sha256",
                           expected["sha256"], sha256, path, sizes=(expected["size"], size))


def git_blob_sha1(path):
    """The git blob id of a file: sha1 of `b"blob <size>\\0" + content`."""
    size = os.path.getsize(path)
    digest = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_etag(path, filename, repo_id, settings):
    """Check a file against the ETag the Hub gave for it: huggingface_hub
    stores each download as `blobs/<etag>`, the sha256 of an LFS file or
    the git blob sha1 of a regular file."""
    blob = os.path.realpath(path)
    etag = os.path.basename(blob) if os.path.basename(os.path.dirname(blob)) == "blobs" else None
    if etag is None and not settings.offline:  # No symlinks: ask the Hub.
        commit = Path(path).parent.name
        url = huggingface_hub.hf_hub_url(repo_id, filename, revision=commit, endpoint=settings.endpoint)
        etag = huggingface_hub.get_hf_file_metadata(url).etag
    if etag is None:
        warnings.warn(f"Cannot verify `{filename}` of `{repo_id}` offline without its ETag.", stacklevel=4)
        return None
    if _SHA256_RE.match(etag):
        actual = registry.file_digest(path)[0]
    elif COMMIT_RE.match(etag):
        actual = git_blob_sha1(path)
    else:
        warnings.warn(f"`{filename}` of `{repo_id}` has an ETag that is not a hash ({etag!r}); "
                      "it was not verified.", stacklevel=4)
        return None
    if actual == etag:
        return None
    kind = "sha256 (the Hub's ETag)" if len(etag) == 64 else "git blob sha1 (the Hub's ETag)"
    return _checksum_error(filename, f"`{repo_id}`", kind, etag, actual, path)
