"""Hub I/O: the weights manifest, checkpoints on disk, downloads and model cards.

Modules:
    manifest: read, validate and query `weights_manifest.json`.
    manifest_writer: build a manifest entry from a checkpoint; write a manifest.
    checkpoint_writer: write a checkpoint directory atomically, with metadata.
    checkpoint_reader: read a checkpoint directory or `.keras` file, hardened.
    config_limits: the depth and size limits of a model config.
    download: verified downloads from the Hugging Face Hub.
    transfer: the low-level transfer rules (sizes, revisions, the cache).
    model_card: the `README.md` card of a checkpoint.
    api: `load`, `save_pretrained` and `push_to_hub`.

The public functions import on first use (PEP 562), so that importing the
manifest does not import `huggingface_hub` or the models.
"""

from keras_genae.utils.lazy import lazy_attributes

_LAZY = {
    "load": "keras_genae.hub.api",
    "save_pretrained": "keras_genae.hub.api",
    "push_to_hub": "keras_genae.hub.api",
    "parse_hf_handle": "keras_genae.hub.api",
    "BUNDLED_CHECKPOINTS_DIR": "keras_genae.hub.api",
    "DownloadError": "keras_genae.hub.download",
    "HubSettings": "keras_genae.hub.download",
    "hub_settings": "keras_genae.hub.download",
    "git_blob_sha1": "keras_genae.hub.download",
    "list_models": "keras_genae.hub.manifest",
    "model_info": "keras_genae.hub.manifest",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
