"""The pretrained-weights manifest: `list_models`, `model_info` and friends.

`weights_manifest.json` (shipped in the package; the copy at the repository
root is a symlink to it) maps a checkpoint name such as `"vqvae_cifar10"`
to everything needed to find, verify and describe that checkpoint:

```json
{
  "schema_version": 1,
  "models": {
    "vqvae_cifar10": {
      "architecture": "VQVAE",
      "description": "VQ-VAE with a 512-code codebook, trained on CIFAR-10.",
      "dataset": "cifar10",
      "data_license": "unknown (CIFAR-10 terms of use)",
      "input": {
        "shape": [32, 32, 3],
        "dtype": "float32",
        "value_range": [0.0, 1.0],
        "preprocessing": "uint8 RGB divided by 255"
      },
      "hub": {"repo_id": "keras-genae/vqvae_cifar10", "revision": "<40 hex>"},
      "files": {
        "config.json": {"sha256": "<64 hex>", "size": 1234},
        "model.weights.h5": {"sha256": "<64 hex>", "size": 5678}
      },
      "metrics": {"test_mse": 0.0041},
      "references": ["https://arxiv.org/abs/1711.00937"]
    }
  }
}
```

`references` and `finetuning` (the settings `keras_genae.load` compiles a
pretrained model with, `FineTuning.to_dict()`: `optimizer`, `learning_rate`,
`phase_learning_rates` for multi-optimizer models, `steps`, `batch_size`)
are optional; every other key is required.

This module reads, validates and queries manifests. An entry is never
written by hand: `keras_genae.hub.manifest_writer` builds it from a
checkpoint directory and inserts it into a manifest file.
"""

import copy
import difflib
import fnmatch
import hashlib
import importlib.resources
import json
import math
import os
import re
from pathlib import Path

from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.models.finetuning import FineTuning

SCHEMA_VERSION = 1
MANIFEST_FILENAME = "weights_manifest.json"
#: Environment variable naming a manifest file to use instead of the shipped
#: one (to try new entries before they are committed, and in tests).
MANIFEST_ENV_VAR = "KERAS_GENAE_MANIFEST"
#: Files every checkpoint has; `load` needs both.
REQUIRED_FILES = ("config.json", "model.weights.h5")

_ENTRY_KEYS = {
    "architecture", "description", "dataset", "data_license", "input", "hub",
    "files", "metrics",
}
_OPTIONAL_ENTRY_KEYS = {"references", "finetuning"}
_INPUT_KEYS = {"shape", "dtype", "value_range", "preprocessing"}
_HUB_KEYS = {"repo_id", "revision"}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BRANCHES = {"main", "master", "HEAD"}
_MAX_DESCRIPTION = 200

_cache = {}


class UnknownModelError(ValueError):
    """A checkpoint name that is not in the manifest.

    Attributes:
        name: str. The name that was asked for.
        suggestions: list of str. Close matches among the known names.
    """

    def __init__(self, message, name=None, suggestions=()):
        super().__init__(message)
        self.name = name
        self.suggestions = list(suggestions)


# --------------------------------------------------------------- loading
def manifest_path():
    """Path of the manifest in use: `$KERAS_GENAE_MANIFEST` if set, else
    the one shipped in the package."""
    override = os.environ.get(MANIFEST_ENV_VAR)
    if override:
        return Path(override)
    return Path(str(importlib.resources.files("keras_genae") / MANIFEST_FILENAME))


def load_manifest(path=None):
    """Read and validate a manifest file; return its `models` dict.

    Args:
        path: str, `Path` or None. The manifest to read; `None` reads
            `manifest_path()`.

    Returns:
        dict mapping each checkpoint name to its entry. The dict is cached
        (by path and modification time); callers get a deep copy.
    """
    path = Path(path) if path is not None else manifest_path()
    try:
        stat = path.stat()
    except OSError as e:
        raise FileNotFoundError(
            f"Cannot read the weights manifest {str(path)!r}: {e}. If "
            f"${MANIFEST_ENV_VAR} is set, it must name an existing file."
        ) from e
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"The weights manifest {str(path)!r} is not valid JSON: {e}") from e
        validate_manifest(data, source=str(path))
        _cache.clear()
        _cache[key] = data["models"]
    return copy.deepcopy(_cache[key])


def get_manifest(manifest=None):
    """Return the `models` dict of `manifest`.

    Args:
        manifest: None (the manifest in use, see `manifest_path`), a path to
            a manifest file, a full manifest dict (`{"schema_version": ...,
            "models": ...}`) or a bare `models` dict.
    """
    if manifest is None or isinstance(manifest, (str, os.PathLike)):
        return load_manifest(manifest)
    if not isinstance(manifest, dict):
        raise ValueError(
            "`manifest` must be None, a path or a dict. "
            f"Received: manifest={manifest!r}"
        )
    if "models" not in manifest or "schema_version" not in manifest:
        manifest = {"schema_version": SCHEMA_VERSION, "models": manifest}
    validate_manifest(manifest, source="the given manifest")
    return copy.deepcopy(manifest["models"])


# ------------------------------------------------------------ public API
def list_models(pattern="*", manifest=None):
    """List the pretrained checkpoints whose name matches `pattern`.

    Args:
        pattern: str. A shell-style wildcard pattern (`fnmatch`), for
            example `"vqvae_*"`. Defaults to `"*"` (all).
        manifest: optional manifest (see `get_manifest`). Defaults to the
            manifest shipped with the package.

    Returns:
        Sorted list of checkpoint names.

    Example:
    >>> keras_genae.list_models("vae_*")
    ['vae_fashion_mnist', 'vae_mnist']
    """
    if not isinstance(pattern, str):
        raise ValueError(
            "`pattern` must be a string such as 'vqvae_*'. "
            f"Received: pattern={pattern!r}"
        )
    return sorted(n for n in get_manifest(manifest) if fnmatch.fnmatchcase(n, pattern))


def model_info(name, manifest=None):
    """Return the manifest entry of the checkpoint `name`.

    Args:
        name: str. A name listed by `list_models()`.
        manifest: optional manifest (see `get_manifest`).

    Returns:
        dict: a copy of the entry, with its `name` added: architecture,
        description, dataset, data_license, input spec, Hub location,
        files with their sha256 and size, and metrics.

    Example:
    >>> info = keras_genae.model_info("vqvae_cifar10")
    >>> info["architecture"], info["input"]["shape"]
    ('VQVAE', [32, 32, 3])
    """
    models = get_manifest(manifest)
    if not isinstance(name, str) or name not in models:
        raise unknown_model_error(name, models)
    return {"name": name, **models[name]}


def suggest(name, candidates, n=3):
    """Close matches of `name` among `candidates` (difflib)."""
    if not isinstance(name, str):
        return []
    return difflib.get_close_matches(name, sorted(candidates), n=n, cutoff=0.6)


def unknown_model_error(name, models):
    suggestions = suggest(name, models)
    if suggestions:
        hint = "Did you mean " + " or ".join(f"{s!r}" for s in suggestions) + "?"
    elif models:
        hint = f"Known models: {sorted(models)}."
    else:
        hint = "No pretrained checkpoints are registered in the manifest yet."
    return UnknownModelError(
        f"Unknown model {name!r}. {hint} `name` must be a checkpoint name from "
        "`keras_genae.list_models()` (or, for `keras_genae.load`, an "
        "`hf://org/repo[@revision]` handle, a checkpoint directory or a "
        f"`.keras` file). Received: name={name!r}",
        name=name,
        suggestions=suggestions,
    )


# ------------------------------------------------------------ validation
def _fail(source, where, message):
    raise ValueError(f"Invalid weights manifest ({source}): {where}: {message}")


def _check_str(value, source, where, single_line=False):
    if not isinstance(value, str) or not value.strip():
        _fail(source, where, f"must be a non-empty string. Received: {value!r}")
    if single_line and ("\n" in value or len(value) > _MAX_DESCRIPTION):
        _fail(source, where, f"must be one line of at most {_MAX_DESCRIPTION} characters. Received: {value!r}")


def _check_keys(obj, required, optional, source, where):
    if not isinstance(obj, dict):
        _fail(source, where, f"must be a JSON object. Received: {obj!r}")
    missing = sorted(set(required) - set(obj))
    unknown = sorted(set(obj) - set(required) - set(optional))
    if missing:
        _fail(source, where, f"missing keys {missing}")
    if unknown:
        _fail(source, where, f"unknown keys {unknown} (allowed: {sorted(set(required) | set(optional))})")


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_file_name(filename):
    """Raise unless `filename` is a safe relative path inside a repo."""
    parts = filename.split("/") if isinstance(filename, str) else []
    if (
        not parts or filename.startswith("/") or "\\" in filename
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(
            "A checkpoint file name must be a relative path with no `..`, "
            f"`.` or empty parts. Received: filename={filename!r}"
        )


def validate_entry(name, entry, source="manifest"):
    """Raise a `ValueError` naming the problem unless `entry` is a valid
    manifest entry for the checkpoint `name`."""
    where = f"models[{name!r}]"
    if not isinstance(name, str) or not _NAME_RE.match(name):
        _fail(source, where, "a checkpoint name must be lowercase letters, digits, "
              "'_', '.' and '-', starting with a letter or digit")
    _check_keys(entry, _ENTRY_KEYS, _OPTIONAL_ENTRY_KEYS, source, where)
    if entry["architecture"] not in LOADABLE_MODELS:
        _fail(source, f"{where}.architecture", f"must be a registered architecture "
              f"{sorted(LOADABLE_MODELS)}. Received: {entry['architecture']!r}")
    _check_str(entry["description"], source, f"{where}.description", single_line=True)
    _check_str(entry["dataset"], source, f"{where}.dataset")
    _check_str(entry["data_license"], source, f"{where}.data_license")

    spec = entry["input"]
    _check_keys(spec, _INPUT_KEYS, (), source, f"{where}.input")
    shape = spec["shape"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        _fail(source, f"{where}.input.shape", f"must be [height, width, channels] of positive ints. Received: {shape!r}")
    _check_str(spec["dtype"], source, f"{where}.input.dtype")
    vr = spec["value_range"]
    if not (isinstance(vr, list) and len(vr) == 2 and all(map(_is_number, vr)) and vr[0] < vr[1]):
        _fail(source, f"{where}.input.value_range", f"must be [low, high] with low < high. Received: {vr!r}")
    _check_str(spec["preprocessing"], source, f"{where}.input.preprocessing")

    hub = entry["hub"]
    _check_keys(hub, _HUB_KEYS, (), source, f"{where}.hub")
    if not isinstance(hub["repo_id"], str) or not _REPO_ID_RE.match(hub["repo_id"]):
        _fail(source, f"{where}.hub.repo_id", f"must be 'namespace/name'. Received: {hub['repo_id']!r}")
    rev = hub["revision"]
    if not isinstance(rev, str) or not rev.strip() or rev in _BRANCHES or rev.startswith("refs/heads/") or "<" in rev:
        _fail(source, f"{where}.hub.revision", "must pin a commit hash (preferred) or a tag, "
              f"not a branch or a placeholder. Received: {rev!r}")

    files = entry["files"]
    if not isinstance(files, dict):
        _fail(source, f"{where}.files", f"must be a JSON object. Received: {files!r}")
    for required in REQUIRED_FILES:
        if required not in files:
            _fail(source, f"{where}.files", f"must list {required!r}")
    for filename, info in files.items():
        fwhere = f"{where}.files[{filename!r}]"
        try:
            validate_file_name(filename)
        except ValueError as e:
            _fail(source, fwhere, str(e))
        _check_keys(info, ("sha256", "size"), (), source, fwhere)
        if not isinstance(info["sha256"], str) or not _SHA256_RE.match(info["sha256"]):
            _fail(source, f"{fwhere}.sha256", f"must be 64 lowercase hex digits. Received: {info['sha256']!r}")
        size = info["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            _fail(source, f"{fwhere}.size", f"must be a non-negative int (bytes). Received: {size!r}")

    metrics = entry["metrics"]
    if not isinstance(metrics, dict) or not all(
        isinstance(k, str) and k and _is_number(v) for k, v in metrics.items()
    ):
        _fail(source, f"{where}.metrics", f"must map metric names to finite numbers. Received: {metrics!r}")
    if "finetuning" in entry:
        try:
            FineTuning.from_dict(entry["finetuning"])
        except ValueError as e:
            _fail(source, f"{where}.finetuning", str(e))
    refs = entry.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
        _fail(source, f"{where}.references", f"must be a list of strings. Received: {refs!r}")


def validate_manifest(manifest, source="manifest"):
    """Raise a `ValueError` naming the problem unless `manifest` (the
    parsed JSON) follows the schema described in this module."""
    _check_keys(manifest, ("schema_version", "models"), (), source, "top level")
    if manifest["schema_version"] != SCHEMA_VERSION:
        _fail(source, "schema_version", f"must be {SCHEMA_VERSION}. Received: {manifest['schema_version']!r}")
    if not isinstance(manifest["models"], dict):
        _fail(source, "models", f"must be a JSON object. Received: {manifest['models']!r}")
    for name, entry in manifest["models"].items():
        validate_entry(name, entry, source)


# ---------------------------------------------------------------- digests
def file_digest(path, chunk_size=1 << 20):
    """Return `(sha256_hex, size_in_bytes)` of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
