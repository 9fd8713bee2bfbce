"""Authoring the weights manifest: an entry from a checkpoint directory,
and writing it into a manifest file.

Reading, validation and queries are in `keras_genae.hub.manifest`; this
module is for maintainers and for people who keep their own manifest (see
tutorials/06_publish_your_model.py). Nothing here writes into the
installed package unless it is given that path explicitly: the zoo's
maintainer tool passes the repository's `weights_manifest.json`.
"""

import json
from pathlib import Path

from keras_genae.hub.manifest import SCHEMA_VERSION
from keras_genae.hub.manifest import file_digest
from keras_genae.hub.manifest import validate_entry
from keras_genae.hub.manifest import validate_manifest
from keras_genae.utils.io import write_json

_OVERRIDABLE = {"description", "dataset", "data_license", "metrics", "references"}


def manifest_entry_from_checkpoint(directory, repo_id=None, revision=None, **fields):
    """Build the manifest entry of a checkpoint directory.

    Reads `config.json` and `metadata.json` (as written by
    `keras_genae.save_pretrained`) and hashes every file of the directory.

    Args:
        directory: path of the checkpoint directory.
        repo_id: str or None. Hub repository the directory is (or will be)
            uploaded to. `None` leaves a placeholder that `validate_entry`
            rejects, so an entry cannot be committed before it is pushed.
        revision: str or None. The commit hash of the upload (see
            `keras_genae.push_to_hub`); `None` leaves a placeholder.
        **fields: entry keys to override (`description`, `dataset`,
            `data_license`, `metrics`, `references`).

    Returns:
        dict: the entry, without its name (see `add_to_manifest`).

    Example:
    >>> entry = keras_genae.hub.manifest_writer.manifest_entry_from_checkpoint(
    ...     "ckpt/vqvae_cifar10", repo_id="keras-genae/vqvae_cifar10",
    ...     revision="0123456789abcdef0123456789abcdef01234567")
    """
    directory = Path(directory)
    config = _read_json(directory / "config.json")
    metadata = _read_json(directory / "metadata.json") if (directory / "metadata.json").exists() else {}
    files = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            sha256, size = file_digest(path)
            files[rel] = {"sha256": sha256, "size": size}
    spec = metadata.get("input", {})
    entry = {
        "architecture": config.get("class_name"),
        "description": metadata.get("description") or f"{config.get('class_name')} checkpoint.",
        "dataset": metadata.get("dataset") or "unknown",
        "data_license": metadata.get("data_license") or "unknown",
        "input": {
            "shape": list(spec.get("shape") or config.get("config", {}).get("image_shape") or []),
            "dtype": spec.get("dtype", "float32"),
            "value_range": list(spec.get("value_range", [0.0, 1.0])),
            "preprocessing": spec.get("preprocessing") or "images scaled to [0, 1]",
        },
        "hub": {
            "repo_id": repo_id or "<namespace/name>",
            "revision": revision or "<commit hash printed by push_to_hub>",
        },
        "files": files,
        "metrics": dict(metadata.get("metrics") or {}),
    }
    if metadata.get("references"):
        entry["references"] = list(metadata["references"])
    if metadata.get("finetuning"):
        entry["finetuning"] = dict(metadata["finetuning"])
    unknown = set(fields) - _OVERRIDABLE
    if unknown:
        raise ValueError(
            f"Unknown manifest entry fields {sorted(unknown)}. Received: fields={fields!r}"
        )
    entry.update(fields)
    return entry


def add_to_manifest(name, entry, path):
    """Validate `entry` and write it into the manifest file `path` as `name`.

    The file is rewritten atomically (temporary file, then rename), with
    the models sorted by name. A symlink (the repository-root copy of the
    shipped manifest is one) is followed, so the file it points at is
    rewritten.

    Args:
        name: str. The checkpoint name, e.g. `"vqvae_cifar10"`.
        entry: dict, as built by `manifest_entry_from_checkpoint`.
        path: str or `Path`. The manifest file to update; it must exist
            and be valid. There is no default: pass the manifest you
            mean to change (never, by accident, the installed package's).

    Example:
    >>> entry = manifest_entry_from_checkpoint("ckpt/my_vae", repo_id="me/my_vae",
    ...     revision="0123456789abcdef0123456789abcdef01234567")
    >>> add_to_manifest("my_vae", entry, path="my_manifest.json")
    """
    if path is None:
        raise ValueError(
            "`path` must name the manifest file to update, e.g. a copy of "
            "`keras_genae.hub.manifest.manifest_path()`. Received: path=None"
        )
    path = Path(path).resolve()  # The repository-root copy is a symlink.
    data = json.loads(path.read_text(encoding="utf-8"))
    validate_manifest(data, source=str(path))
    validate_entry(name, entry, source="new entry")
    data["models"][name] = entry
    write_manifest(path, data["models"])


def write_manifest(path, models):
    """Validate `models` (name -> entry) and write them as the manifest
    file `path`, atomically, sorted by name.

    Args:
        path: str or `Path`. The manifest file (created or replaced).
        models: dict mapping each checkpoint name to its entry.
    """
    data = {"schema_version": SCHEMA_VERSION, "models": dict(sorted(models.items()))}
    validate_manifest(data, source=str(path))
    write_json(path, data)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{str(Path(path).parent)!r} is not a keras_genae checkpoint directory: "
            f"it has no {Path(path).name}."
        ) from e
