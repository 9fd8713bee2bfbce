"""Writing a keras_genae checkpoint directory, atomically, with its metadata.

A checkpoint is a directory with the layout `keras.saving.save_model(model,
dir, zipped=False)` writes (so `keras.saving.load_model(dir)` reads it too),
plus a model card:

- `config.json`: `keras.saving.serialize_keras_object(model)`, that is the
  module, the class name, the registered name (`"keras_genae>VQVAE"`) and
  `get_config()`. `compile_config` is `None`: no optimizer is stored.
- `model.weights.h5`: the model's weights, in the `save_weights` layout,
  without optimizer state.
- `metadata.json`: Keras' `keras_version` and `date_saved`, plus the
  keras_genae version, the backend, the architecture, the parameter
  count, the input spec, the dataset, its license and the metrics.
- `README.md`: a model card with a usage snippet and the metrics table.

The directory is written with `keras_genae.utils.io.atomic_dir`: a crash
never leaves a partial checkpoint. It is read back by
`keras_genae.hub.checkpoint_reader`.
"""

import datetime
import json
from pathlib import Path

import keras

from keras_genae.hub.checkpoint_reader import CONFIG_FILE
from keras_genae.hub.checkpoint_reader import METADATA_FILE
from keras_genae.hub.checkpoint_reader import README_FILE
from keras_genae.hub.checkpoint_reader import WEIGHTS_FILE
from keras_genae.hub.model_card import model_card
from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.models.finetuning import FineTuning
from keras_genae.utils.io import atomic_dir
from keras_genae.version import __version__

CARD_FIELDS = (
    "name", "description", "dataset", "data_license", "metrics",
    "preprocessing", "value_range", "repo_id", "references", "license",
    "load_handle", "finetuning",
)


def save_checkpoint(model, directory, overwrite=False, **card_fields):
    """Write `model` as a checkpoint directory (see the module docstring).

    The directory is written under a temporary name next to `directory`
    and renamed into place (`keras_genae.utils.io.atomic_dir`), so a crash
    never leaves a partial checkpoint.

    Args:
        model: a keras_genae model (an instance of a registered
            architecture).
        directory: str or `Path`. Created; must not exist unless
            `overwrite=True`.
        overwrite: bool. Replace an existing directory. Defaults to `False`.
        **card_fields: `name`, `description` (one line), `dataset`,
            `data_license`, `metrics` (dict of name to number),
            `preprocessing`, `value_range`, `load_handle` (what the usage
            snippet passes to `keras_genae.load`, e.g. a manifest name; by
            default `hf://<repo_id>`), `repo_id` (used in the usage
            snippet), `references` (list of URLs), `license` (of the
            weights, for the card's metadata).

    Returns:
        `Path` of the directory.
    """
    cls = type(model)
    if LOADABLE_MODELS.get(cls.__name__) is not cls:
        raise ValueError(
            "`model` must be an instance of a registered keras_genae architecture "
            f"({sorted(LOADABLE_MODELS)}). Received: model of type {cls.__name__}"
        )
    unknown = set(card_fields) - set(CARD_FIELDS)
    if unknown:
        raise ValueError(
            f"Unknown model card fields {sorted(unknown)}; allowed: {list(CARD_FIELDS)}. "
            f"Received: card_fields={card_fields!r}"
        )
    metrics = card_fields.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError(f"`metrics` must be a dict of name to number. Received: metrics={metrics!r}")
    description = card_fields.get("description")
    if description is not None and (not isinstance(description, str) or "\n" in description):
        raise ValueError(f"`description` must be a one-line string. Received: description={description!r}")
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise FileExistsError(
            f"{str(directory)!r} already exists. Pass `overwrite=True` to replace it, "
            f"or choose a new directory. Received: directory={str(directory)!r}"
        )
    if not model.built:
        model.build()

    config = keras.saving.serialize_keras_object(model)
    config["compile_config"] = None
    metadata = _metadata(model, directory, card_fields)

    with atomic_dir(directory, overwrite=overwrite) as tmp:
        _write_text(tmp / CONFIG_FILE, json.dumps(config, indent=2))
        _write_text(tmp / METADATA_FILE, json.dumps(metadata, indent=2))
        _save_weights(model, tmp / WEIGHTS_FILE)
        _write_text(tmp / README_FILE, model_card(metadata))
    return directory


def _metadata(model, directory, fields):
    metrics = {str(k): float(v) for k, v in (fields.get("metrics") or {}).items()}
    value_range = [float(v) for v in fields.get("value_range", (0.0, 1.0))]
    return {
        # The two keys Keras writes in its own metadata.json.
        "keras_version": keras.__version__,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "keras_genae_version": __version__,
        "backend": keras.backend.backend(),
        "name": fields.get("name") or directory.name,
        "architecture": type(model).__name__,
        "parameter_count": int(model.count_params()),
        "description": fields.get("description")
        or f"{type(model).__name__} checkpoint saved with keras_genae {__version__}.",
        "input": {
            "shape": list(model.image_shape),
            "dtype": "float32",
            "value_range": value_range,
            "preprocessing": fields.get("preprocessing")
            or "float32 images scaled to [0, 1] (uint8 pixels divided by 255)",
        },
        "dataset": fields.get("dataset") or "unknown",
        "data_license": fields.get("data_license") or "unknown",
        "license": fields.get("license"),
        "metrics": metrics,
        "references": list(fields.get("references") or []),
        "repo_id": fields.get("repo_id"),
        "load_handle": fields.get("load_handle"),
        "finetuning": _finetuning_dict(model, fields.get("finetuning")),
    }


def _finetuning_dict(model, given):
    """The fine-tuning settings stored with a checkpoint: those given, else
    the model's own (set by `load`), else its family's default; None for a
    model with no fine-tuning settings (the evaluation classifiers)."""
    if given is not None:
        return FineTuning.from_dict(given).to_dict() if isinstance(given, dict) else given.to_dict()
    settings = model.finetuning or type(model).default_finetuning
    return settings.to_dict() if settings is not None else None


def _save_weights(model, path):
    """Save the model's weights without optimizer state."""
    names = ("optimizer",) + tuple(getattr(model, "optimizer_names", ()))
    optimizers = []
    for name in names:
        opt = getattr(model, name, None)
        if opt is not None and not any(opt is o for o in optimizers):
            optimizers.append(opt)
    try:
        from keras.src.saving import saving_lib

        saving_lib.save_weights_only(model, str(path), objects_to_skip=optimizers or None)
    except (ImportError, TypeError):  # Private API changed: keep optimizer state.
        model.save_weights(str(path))


def _write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
