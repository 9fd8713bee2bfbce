"""The keras_genae checkpoint directory: writing, reading, model card.

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

Loading never imports anything named in a config: the class is looked up
in `keras_genae.models.LOADABLE_MODELS`, and nested serialized objects (such
as the dtype policy) must be Keras built-ins.
"""

import datetime
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

import keras

from keras_genae.hub import config_limits
from keras_genae.hub.model_card import model_card
from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.finetuning import compile_loaded
from keras_genae.version import __version__

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
CARD_FIELDS = (
    "name", "description", "dataset", "data_license", "metrics",
    "preprocessing", "value_range", "repo_id", "references", "license",
    "load_handle", "finetuning",
)
_MAX_CONFIG_BYTES = 1 << 20
_ZIP_BOMB_FLOOR = 1 << 28
_FORBIDDEN_CLASSES = {"Lambda", "__lambda__"}


# ------------------------------------------------------------------ save
def save_checkpoint(model, directory, overwrite=False, **card_fields):
    """Write `model` as a checkpoint directory (see the module docstring).

    The directory is written under a temporary name next to `directory`
    and renamed into place, so a crash never leaves a partial checkpoint.

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

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        _write_text(tmp / CONFIG_FILE, json.dumps(config, indent=2))
        _write_text(tmp / METADATA_FILE, json.dumps(metadata, indent=2))
        _save_weights(model, tmp / WEIGHTS_FILE)
        _write_text(tmp / README_FILE, model_card(metadata))
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
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


def _replace_dir(src, dst, attempts=20):
    """Rename `src` to `dst`, replacing an existing `dst` with the
    smallest window possible (rename the old one away, then delete it).

    Another writer may replace `dst` at the same moment (two
    `save_pretrained(overwrite=True)` calls racing): then the old `dst`
    it put there is moved away in turn and the rename is retried, so the
    last writer wins with a complete directory and no call fails."""
    olds = []
    try:
        for _ in range(attempts):
            if dst.exists() or dst.is_symlink():
                old = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.old")
                try:
                    os.rename(dst, old)
                    olds.append(old)
                except FileNotFoundError:
                    pass  # Another writer moved it away first.
            try:
                os.rename(src, dst)
                return
            except OSError as e:
                if not (dst.exists() or dst.is_symlink()):
                    if olds:  # Not a lost race but a real error: put the old one back.
                        os.rename(olds.pop(), dst)
                    raise
                error = e
        raise OSError(
            f"Could not replace {str(dst)!r}: other writers kept replacing it ({error})."
        ) from error
    finally:
        for old in olds:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            elif os.path.lexists(old):
                old.unlink()


# ------------------------------------------------------------------ load
def read_config(path):
    """Read a `config.json` file (at most 1 MiB) and check it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(path.parent)!r} is not a keras_genae checkpoint: it has no {CONFIG_FILE}. "
            "Checkpoints are written by `keras_genae.save_pretrained`."
        )
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        raise ValueError(f"{str(path)!r} is larger than 1 MiB; refusing to parse it as a model config.")
    return parse_config(path.read_bytes(), source=str(path))


def parse_config(data, source):
    """Parse and check config JSON bytes; return the config dict."""
    config_limits.check_json_depth(data, source)
    try:
        config = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{source} is not valid JSON: {e}") from e
    check_config(config, source)
    return config


def check_config(config, source="config"):
    """Raise unless `config` names a registered architecture and holds no
    serialized object other than Keras built-ins.

    Never imports anything: the class is looked up in `LOADABLE_MODELS`.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) or not isinstance(
        config.get("config"), dict
    ):
        raise ValueError(
            f"{source} is not a keras_genae model config: expected a JSON object with "
            "`class_name` and `config` keys, as written by `keras_genae.save_pretrained`."
        )
    class_name = config["class_name"]
    registered = config.get("registered_name")
    if class_name not in LOADABLE_MODELS or registered not in (None, class_name, f"keras_genae>{class_name}"):
        raise ValueError(
            f"Refusing to load {source}: it names the class {class_name!r} "
            f"(registered_name={registered!r}), which is not a keras_genae architecture. "
            f"Only the registered architectures {sorted(LOADABLE_MODELS)} are rebuilt; "
            "nothing named in a config is ever imported."
        )
    _check_nested(config["config"], source, "config")
    return LOADABLE_MODELS[class_name]


def _check_nested(value, source, where, depth=0):
    if depth > config_limits.MAX_DEPTH:
        raise ValueError(
            f"Refusing to load {source}: `{where[:200]}` nests deeper than "
            f"{config_limits.MAX_DEPTH} levels."
        )
    if isinstance(value, dict):
        if "class_name" in value:
            module = value.get("module")
            builtin = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
            if not builtin or value.get("registered_name") is not None or value["class_name"] in _FORBIDDEN_CLASSES:
                raise ValueError(
                    f"Refusing to load {source}: {where} holds a serialized object "
                    f"{value.get('class_name')!r} from module {module!r}. Only Keras built-in "
                    "objects (such as dtype policies) may appear inside a keras_genae config."
                )
        for k, v in value.items():
            _check_nested(v, source, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_nested(v, source, f"{where}[{i}]", depth + 1)


def build_model(config, config_overrides=None, source="config"):
    """Instantiate the architecture of a checked `config` (fresh weights)."""
    cls = check_config(config, source)
    inner = dict(config["config"])
    overrides = dict(config_overrides or {})
    if overrides:
        import inspect

        accepted = set(inner) | set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(overrides) - accepted)
        if unknown:
            raise ValueError(
                f"{unknown} are not config arguments of {cls.__name__} (its config has "
                f"{sorted(inner)}). Received: config_overrides={overrides!r}"
            )
        inner.update(overrides)
    config_limits.check_sizes(inner, source, cls.__name__)
    model = cls.from_config(inner)
    if not model.built:
        model.build()
    return model


def load_weights(model, weights_path, source, config_overrides=None):
    """Load `weights_path` into `model`, with a clear error on mismatch."""
    try:
        model.load_weights(str(weights_path))
    except Exception as e:  # Keras raises ValueError / KeyError / h5py errors.
        hint = (
            " Config overrides that change weight shapes need `pretrained=False`."
            if config_overrides else ""
        )
        raise ValueError(
            f"Could not load the weights of {source} into {type(model).__name__}"
            f"{f' built with config_overrides={config_overrides!r}' if config_overrides else ''}: "
            f"{e}.{hint}"
        ) from e


def read_metadata_finetuning(directory):
    """The `finetuning` settings in a checkpoint directory's `metadata.json`
    (a JSON file of at most 1 MiB, parsed, never executed), or None."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file() or path.stat().st_size > _MAX_CONFIG_BYTES:
        return None
    try:
        settings = json.loads(path.read_bytes()).get("finetuning")
        return None if settings is None else FineTuning.from_dict(settings)
    except (ValueError, AttributeError) as e:
        raise ValueError(f"{str(path)!r} holds malformed fine-tuning settings: {e}") from e


def load_checkpoint_files(config_path, weights_path, pretrained=True, compile=True,
                          config_overrides=None, source=None, finetuning=None):
    """Build a model from `config.json` and (if `pretrained`) load
    `model.weights.h5`. The caller has verified both files. With `compile`,
    the model is compiled by `compile_loaded` (with `finetuning`)."""
    source = source or str(Path(config_path).parent)
    config = read_config(config_path)
    model = build_model(config, config_overrides, source=source)
    if pretrained:
        if not Path(weights_path).is_file():
            raise FileNotFoundError(
                f"{source!r} has no {WEIGHTS_FILE}; pass `pretrained=False` to build "
                "the architecture with fresh weights."
            )
        load_weights(model, weights_path, source, config_overrides)
    if compile:
        compile_loaded(model, pretrained, finetuning)
    return model


def load_keras_archive(path, pretrained=True, compile=True, config_overrides=None):
    """Load a `.keras` zip archive without `keras.saving.load_model`: its
    `config.json` is checked like a checkpoint's and its weights are
    extracted to a temporary file. The archive's compile config and
    optimizer state are ignored."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{str(path)!r} is not a `.keras` zip archive.")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if CONFIG_FILE not in names:
            raise ValueError(f"{str(path)!r} is not a Keras model archive: it has no {CONFIG_FILE}.")
        if zf.getinfo(CONFIG_FILE).file_size > _MAX_CONFIG_BYTES:
            raise ValueError(f"The {CONFIG_FILE} of {str(path)!r} is larger than 1 MiB.")
        config = parse_config(zf.read(CONFIG_FILE), source=str(path))
        model = build_model(config, config_overrides, source=str(path))
        if pretrained:
            if WEIGHTS_FILE not in names:
                raise ValueError(f"{str(path)!r} has no {WEIGHTS_FILE}.")
            info = zf.getinfo(WEIGHTS_FILE)
            if info.file_size > _ZIP_BOMB_FLOOR and info.file_size > 100 * info.compress_size:
                raise ValueError(
                    f"The {WEIGHTS_FILE} of {str(path)!r} declares {info.file_size} bytes but "
                    f"stores {info.compress_size}; refusing a likely decompression bomb."
                )
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / WEIGHTS_FILE
                with zf.open(WEIGHTS_FILE) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                load_weights(model, target, str(path), config_overrides)
    if compile:
        compile_loaded(model, pretrained)
    return model
