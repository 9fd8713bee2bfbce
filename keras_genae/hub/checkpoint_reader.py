"""Reading a keras_genae checkpoint, hardened: nothing named in a file is
ever imported, and nothing is allocated before it is checked.

A checkpoint is a directory (written by `keras_genae.hub.checkpoint_writer`)
or a `.keras` zip archive holding `config.json` and `model.weights.h5`:

- `config.json` is at most 1 MiB and nests at most
  `config_limits.MAX_DEPTH` levels; its class is looked up in
  `keras_genae.models.LOADABLE_MODELS` (the registered architectures) and
  every nested serialized object must be a Keras built-in (such as the
  dtype policy), never a `Lambda`.
- The integers of the config are bounded (`config_limits.check_sizes`)
  before the model is built.
- A `.keras` archive is read without `keras.saving.load_model`: its
  weights are extracted to a temporary file, refusing a likely
  decompression bomb, and no other member is ever written anywhere.

The caller (`keras_genae.hub.api.load`) has verified the files' hashes
before they reach this module.
"""

import inspect
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from keras_genae.hub import config_limits
from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.finetuning import compile_loaded

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
_MAX_CONFIG_BYTES = 1 << 20
_ZIP_BOMB_FLOOR = 1 << 28
_FORBIDDEN_CLASSES = {"Lambda", "__lambda__"}

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
