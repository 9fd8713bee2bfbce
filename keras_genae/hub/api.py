"""`load`, `save_pretrained` and `push_to_hub`: verified checkpoint I/O.

`keras_genae.load(handle)` accepts:

- a manifest name (`"vqvae_cifar10"`, see `keras_genae.list_models()`):
  the copy shipped under `keras_genae/checkpoints/<name>/` is used when its
  files match the manifest's sha256 and size; otherwise the files are
  downloaded from the pinned Hub revision with `huggingface_hub` into the
  standard HF cache and checked against the manifest.
- `hf://namespace/name` or `hf://namespace/name@revision`: a Hub repo
  holding a checkpoint written by `save_pretrained`. If a manifest entry
  points at that repo (and revision, when one is given), its hashes are
  used as above. Otherwise there is no pinned hash, and each downloaded
  file is checked against the Hub's own ETag for it: the sha256 of an LFS
  file, the git blob sha1 of a regular file. This catches truncated or
  corrupted transfers and corrupted cache files, not a repository whose
  owner replaced its content (pin a manifest entry for that). `config.json`
  is fetched first and the weights are fetched at the commit it resolved
  to, so both files come from the same commit.
- a local checkpoint directory, or a `.keras` file. A bare name that is
  in the manifest always means the zoo model, even when a folder of that
  name exists in the working directory (`load` then warns); spell a local
  folder as a path (`"./vqvae_mnist"`) to load it.

What each kind of handle verifies and trusts: docs/security.md.

Every file is verified before it is deserialized, and a Hub download is
checked before anything is written (see `keras_genae.hub.transfer`: hex
ETags and commits, no redirect to another repository, size and time
limits). A file that does not match never stays in the cache; when online
it is downloaded once more, and a second mismatch (or a mismatch while
offline) raises `ChecksumError`.

`keras.saving.load_model(directory)` and `keras.saving.load_model("hf://
namespace/name")` read these checkpoints too, through Keras' own code
(Keras 3.15): the class is resolved through Keras' table of registered
serializables (keras_genae registers its architectures there), with
`safe_mode=True`; Keras imports modules only from its own packages. That
path checks no hash (huggingface_hub only checks each file's size), does
not take `@revision`, and returns an uncompiled model (`config.json`
stores no compile config). Use `keras_genae.load` for verified loading.

Hub access follows the usual huggingface_hub settings, read when `load` is
called: `HF_ENDPOINT`, `HF_HUB_OFFLINE`, `HF_HOME` / `HF_HUB_CACHE` (or the
values in `huggingface_hub.constants` when those are not set) and the
token; `KERAS_GENAE_DOWNLOAD_TIMEOUT` (seconds per file, default 900) and
`KERAS_GENAE_MAX_DOWNLOAD_BYTES` (cap for a file without a pinned size,
default 4 GiB) bound each download.
"""

import json
import os
import re
import tempfile
import warnings
from pathlib import Path

import huggingface_hub
from huggingface_hub import errors as hf_errors
from huggingface_hub.utils import validate_repo_id

from keras_genae.hub import checkpoint_reader as checkpoint
from keras_genae.hub import transfer
from keras_genae.hub import manifest
from keras_genae.errors import ChecksumError
from keras_genae.hub.download import COMMIT_RE
from keras_genae.hub.download import DownloadError  # noqa: F401 (public name)
from keras_genae.hub.download import HubSettings  # noqa: F401 (public name)
from keras_genae.hub.download import check_etag
from keras_genae.hub.download import check_manifest_hash
from keras_genae.hub.download import fetch
from keras_genae.hub.download import git_blob_sha1  # noqa: F401 (public name)
from keras_genae.hub.download import hub_settings
from keras_genae.hub.checkpoint_writer import save_checkpoint
from keras_genae.hub.manifest_writer import manifest_entry_from_checkpoint
from keras_genae.version import __version__

#: Offline copies of manifest checkpoints shipped as package data.
BUNDLED_CHECKPOINTS_DIR = Path(__file__).parent.parent / "checkpoints"

_HF_RE = re.compile(r"^hf://(?P<repo>[^@\s]+?)(?:@(?P<rev>[^@\s]+))?$")



# ------------------------------------------------------------------ load
def load(handle, pretrained=True, compile=True, **config_overrides):
    """Load a keras_genae model.

    Args:
        handle: a checkpoint name from `keras_genae.list_models()`,
            `"hf://namespace/name"` or `"hf://namespace/name@revision"`,
            a checkpoint directory written by `save_pretrained`, or a
            `.keras` file.
        pretrained: bool. Load the checkpoint's weights; `False` builds the
            same architecture with freshly initialized weights (only
            `config.json` is read). Defaults to `True`.
        compile: bool. Compile the model so that `fit` works straight
            away: a pretrained model with its checkpoint's fine-tuning
            settings (`model.finetuning`: the manifest's, the directory's
            `metadata.json`'s, else the family's default, e.g. Adam at
            1e-4), fresh weights (`pretrained=False`) with the from-scratch
            defaults of `model.compile()` (Adam 1e-3). Your own
            `model.compile(optimizer=...)` afterwards replaces either.
            Defaults to `True`.
        **config_overrides: arguments that replace values of the saved
            config, e.g. `seed=0`, or `latent_dim=8` with
            `pretrained=False`.

    Returns:
        The model, an instance of a registered keras_genae architecture.

    Example:
    >>> model = keras_genae.load("vqvae_cifar10")
    >>> model = keras_genae.load("hf://keras-genae/vqvae_cifar10@v1")
    >>> model = keras_genae.load("checkpoints/my_vae", pretrained=False)
    """
    kwargs = dict(pretrained=pretrained, compile=compile, config_overrides=config_overrides)
    if isinstance(handle, os.PathLike):
        handle = os.fspath(handle)
    if not isinstance(handle, str) or not handle:
        raise ValueError(
            "`handle` must be a model name, 'hf://namespace/name[@revision]', a checkpoint "
            f"directory or a .keras file. Received: handle={handle!r}"
        )
    if handle.startswith("hf://"):
        repo_id, revision = parse_hf_handle(handle)
        return _load_hf(repo_id, revision, handle, **kwargs)
    if handle.endswith(".keras"):
        if not os.path.isfile(handle):
            raise FileNotFoundError(f"No such .keras file: {handle!r}.")
        return checkpoint.load_keras_archive(handle, **kwargs)
    models = manifest.get_manifest()
    if handle in models:
        if os.path.isdir(handle):
            warnings.warn(
                f"Loading the zoo model {handle!r}. A folder {handle!r} exists in the working "
                f"directory; to load it instead, spell it as a path: load('./{handle}').",
                stacklevel=2,
            )
        return _load_manifest_entry(handle, models[handle], **kwargs)
    if os.path.isdir(handle):
        path = Path(handle)
        return checkpoint.load_checkpoint_files(
            path / checkpoint.CONFIG_FILE, path / checkpoint.WEIGHTS_FILE, source=handle,
            finetuning=checkpoint.read_metadata_finetuning(path), **kwargs
        )
    if os.sep in handle or "/" in handle or handle.startswith((".", "~")):
        raise FileNotFoundError(
            f"No checkpoint directory or .keras file at {handle!r}. For a Hub repository, "
            f"use 'hf://{handle}'."
        )
    raise manifest.unknown_model_error(handle, models)


def parse_hf_handle(handle):
    """Split `"hf://namespace/name[@revision]"` into `(repo_id, revision)`."""
    match = _HF_RE.match(handle)
    if match is None:
        raise ValueError(
            "A Hub handle must look like 'hf://namespace/name' or "
            f"'hf://namespace/name@revision'. Received: handle={handle!r}"
        )
    repo_id, revision = match.group("repo"), match.group("rev")
    try:
        validate_repo_id(repo_id)
    except hf_errors.HFValidationError as e:
        raise ValueError(f"Invalid Hub repository in {handle!r}: {e}") from e
    if repo_id.count("/") != 1:
        raise ValueError(f"A Hub repository must be 'namespace/name'. Received: handle={handle!r}")
    if revision is not None:
        transfer.check_revision(revision, handle)
    return repo_id, revision


def _load_manifest_entry(name, entry, pretrained, compile, config_overrides):
    bundled = BUNDLED_CHECKPOINTS_DIR / name
    if bundled.is_dir():
        mismatched = [f for f in _needed(entry, pretrained) if not _matches(bundled / f, entry["files"][f])]
        if not mismatched:
            return checkpoint.load_checkpoint_files(
                bundled / checkpoint.CONFIG_FILE, bundled / checkpoint.WEIGHTS_FILE,
                pretrained=pretrained, compile=compile, config_overrides=config_overrides,
                source=name, finetuning=entry.get("finetuning"),
            )
        warnings.warn(
            f"The offline copy of {name!r} in {str(bundled)!r} does not match the manifest "
            f"({mismatched}); downloading it instead.",
            stacklevel=3,
        )
    repo_id, revision = entry["hub"]["repo_id"], entry["hub"]["revision"]
    settings = hub_settings()
    paths = {}
    for filename in _needed(entry, pretrained):
        expected = entry["files"][filename]
        paths[filename] = fetch(
            repo_id, filename, revision, settings,
            verify=lambda p, etag, f=filename, e=expected: check_manifest_hash(p, f, e, repo_id, revision),
            expected_size=expected["size"],
        )
    return checkpoint.load_checkpoint_files(
        paths[checkpoint.CONFIG_FILE], paths.get(checkpoint.WEIGHTS_FILE),
        pretrained=pretrained, compile=compile, config_overrides=config_overrides,
        source=f"{name} (hf://{repo_id}@{revision})", finetuning=entry.get("finetuning"),
    )


def _load_hf(repo_id, revision, handle, **kwargs):
    for name, entry in manifest.get_manifest().items():
        if entry["hub"]["repo_id"] == repo_id and revision in (None, entry["hub"]["revision"]):
            return _load_manifest_entry(name, entry, **kwargs)
    settings = hub_settings()
    config_path = fetch(repo_id, checkpoint.CONFIG_FILE, revision or "main", settings,
                         verify=lambda p, etag: check_etag(p, etag, checkpoint.CONFIG_FILE, repo_id))
    # Fetch the weights at the commit config.json resolved to.
    commit = Path(config_path).parent.name
    if not COMMIT_RE.match(commit):
        commit = revision or "main"
    paths = [config_path]
    try:
        if kwargs["pretrained"]:
            paths.append(fetch(repo_id, checkpoint.WEIGHTS_FILE, commit, settings,
                               verify=lambda p, etag: check_etag(p, etag, checkpoint.WEIGHTS_FILE, repo_id)))
        return checkpoint.load_checkpoint_files(paths[0], paths[1] if len(paths) > 1 else None,
                                                source=handle, **kwargs)
    except ChecksumError:
        raise
    except ValueError:
        # A file that does not fit (not a model config, weights of another
        # model) is not kept: the next `load` asks the Hub again.
        for path in paths:
            transfer.evict(path, settings.cache_dir, repo_id)
        raise


def _needed(entry, pretrained):
    return [checkpoint.CONFIG_FILE] + ([checkpoint.WEIGHTS_FILE] if pretrained else [])


def _matches(path, expected):
    if not path.is_file() or path.stat().st_size != expected["size"]:
        return False
    return manifest.file_digest(path)[0] == expected["sha256"]


# ------------------------------------------------------------------ save
def save_pretrained(model, directory, overwrite=False, verbose=True, print_manifest=False,
                    **card_fields):
    """Save `model` as a checkpoint directory; return its manifest entry.

    The directory holds `config.json`, `model.weights.h5`, `metadata.json`
    and a `README.md` model card; `keras_genae.load(directory)`,
    `keras.saving.load_model(directory)` and `push_to_hub` read it.

    Args:
        model: a keras_genae model.
        directory: str or `Path`. Written atomically.
        overwrite: bool. Replace an existing directory. Defaults to `False`.
        verbose: bool. Print one line naming the directory. Defaults to
            `True`.
        print_manifest: bool. Also print the manifest entry (JSON), for
            adding the checkpoint to a manifest. Defaults to `False`.
        **card_fields: `name`, `description` (one line), `dataset`,
            `data_license`, `metrics`, `preprocessing`, `value_range`,
            `repo_id`, `references`, `license`.

    Returns:
        dict: the manifest entry (`keras_genae.hub.manifest` schema), with
        `hub` placeholders until the checkpoint is pushed.

    Example:
    >>> model = keras_genae.VAE(image_shape=(28, 28, 1))
    >>> entry = keras_genae.save_pretrained(model, "ckpt/vae_mnist",
    ...     dataset="mnist", data_license="CC BY-SA 3.0",
    ...     metrics={"test_elbo": 92.1})
    >>> restored = keras_genae.load("ckpt/vae_mnist")
    """
    directory = save_checkpoint(model, directory, overwrite=overwrite, **card_fields)
    name = card_fields.get("name") or directory.name
    entry = manifest_entry_from_checkpoint(directory, repo_id=card_fields.get("repo_id"))
    if verbose or print_manifest:
        print(f"Saved {str(directory)!r}.")
    if print_manifest:
        _print_entry(name, entry)
    return entry


def push_to_hub(model_or_dir, repo_id, revision=None, commit_message=None, private=None,
                token=None, create_repo=True, verbose=True, print_manifest=False, **card_fields):
    """Upload a checkpoint to the Hub with `HfApi.upload_folder`.

    Args:
        model_or_dir: a keras_genae model (saved with `save_pretrained`
            into a temporary directory first) or a checkpoint directory.
        repo_id: str. `"namespace/name"`.
        revision: str or None. Branch to commit to; defaults to `main`.
        commit_message: str or None.
        private: bool or None. Visibility when the repo is created.
        token: str or None. Hub token; defaults to the logged-in one.
        create_repo: bool. Create the repo if needed. Defaults to `True`.
        verbose: bool. Print one line with the commit and the handle that
            loads it. Defaults to `True`.
        print_manifest: bool. Also print the manifest entry (JSON), pinned
            to the new commit. Defaults to `False`.
        **card_fields: model card fields, when `model_or_dir` is a model.

    Returns:
        dict: the manifest entry, pinned to the new commit.

    Example:
    >>> entry = keras_genae.push_to_hub("ckpt/vae_mnist", "keras-genae/vae_mnist")
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise ValueError(f"`repo_id` must be 'namespace/name'. Received: repo_id={repo_id!r}")
    settings = hub_settings()
    if settings.offline:
        raise DownloadError("Cannot push to the Hub while offline mode (HF_HUB_OFFLINE) is on.")
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model_or_dir, (str, os.PathLike)):
            if card_fields:
                raise ValueError("`card_fields` apply only when pushing a model, not a directory.")
            folder = Path(model_or_dir)
            checkpoint.read_config(folder / checkpoint.CONFIG_FILE)
            if not (folder / checkpoint.WEIGHTS_FILE).is_file():
                raise FileNotFoundError(f"{str(folder)!r} has no {checkpoint.WEIGHTS_FILE}.")
        else:
            card_fields.pop("repo_id", None)
            name = card_fields.pop("name", None) or repo_id.split("/")[1]
            folder = Path(tmp) / name
            save_checkpoint(model_or_dir, folder, repo_id=repo_id, name=name, **card_fields)
        api = huggingface_hub.HfApi(endpoint=settings.endpoint, token=token,
                                    library_name="keras_genae", library_version=__version__)
        if create_repo:
            api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), revision=revision,
            commit_message=commit_message or f"Upload {folder.name} with keras_genae {__version__}",
        )
        entry = manifest_entry_from_checkpoint(folder, repo_id=repo_id, revision=commit.oid)
    if verbose or print_manifest:
        print(f"Pushed to {commit.commit_url}. Load it with keras_genae.load("
              f"'hf://{repo_id}@{commit.oid}').")
    if print_manifest:
        _print_entry(folder.name, entry)
    return entry


def _print_entry(name, entry):
    print("Manifest entry (add it to a manifest with keras_genae.hub.manifest_writer.add_to_manifest):")
    print(json.dumps({name: entry}, indent=2))
