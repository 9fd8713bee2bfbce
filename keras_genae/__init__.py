"""keras-genae: a Keras 3 model zoo of generative autoencoders.

Every public name imports on first use (PEP 562): `import keras_genae`
alone imports neither Keras nor a backend, so that `genae` controls how
TensorFlow starts (quietly) and `import keras_genae` with the JAX or
PyTorch backend does not import TensorFlow.

The model classes register with Keras' serialization when
`keras_genae.models` is imported: at `import keras_genae` if Keras is
already imported, else as soon as Keras is (`_RegisterWithKeras`), or, if
a module of this package imported Keras partway through its own import
(`import keras_genae.layers` first), at the next import once it is done.
So `keras.saving.load_model(checkpoint_dir)` works once `keras_genae` is
imported, whatever the order of the imports.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from keras_genae.errors import ChecksumError
from keras_genae.errors import NonFiniteLossError
from keras_genae.version import __version__

#: Public name -> (module, attribute or None for the module itself).
_LAZY = {
    "layers": ("keras_genae.layers", None),
    "models": ("keras_genae.models", None),
    "inference": ("keras_genae.inference", None),
    "VAE": ("keras_genae.models", "VAE"),
    "VQVAE": ("keras_genae.models", "VQVAE"),
    "Autoencoder": ("keras_genae.models", "Autoencoder"),
    "DenoisingAutoencoder": ("keras_genae.models", "DenoisingAutoencoder"),
    "GenerativeAutoencoder": ("keras_genae.models", "GenerativeAutoencoder"),
    "GenerativeModel": ("keras_genae.models", "GenerativeModel"),
    "AdversarialAutoencoder": ("keras_genae.models", "AdversarialAutoencoder"),
    "DCGAN": ("keras_genae.models", "DCGAN"),
    "FeatureClassifier": ("keras_genae.models", "FeatureClassifier"),
    "manifest": ("keras_genae.hub.manifest", None),
    "list_models": ("keras_genae.hub.manifest", "list_models"),
    "model_info": ("keras_genae.hub.manifest", "model_info"),
    "hub": ("keras_genae.hub", None),
    "load": ("keras_genae.hub.api", "load"),
    "push_to_hub": ("keras_genae.hub.api", "push_to_hub"),
    "save_pretrained": ("keras_genae.hub.api", "save_pretrained"),
    "data": ("keras_genae.data", None),
    "evaluate": ("keras_genae.evaluation.core", "evaluate"),
    "finetune": ("keras_genae.workflow.finetune", "finetune"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_genae' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def _importing_keras_genae():
    """Whether a module of this package is partway through its import."""
    return any(getattr(getattr(module, "__spec__", None), "_initializing", False)
               for name, module in list(sys.modules.items())
               if name.startswith("keras_genae.") and module is not None)


def _register_models():
    """Import `keras_genae.models`, which registers the model classes; if
    a module of this package is mid-import (it imported Keras, e.g.
    `import keras_genae.layers` first), wait until it is done: the models
    import it too."""
    if _importing_keras_genae():
        sys.meta_path.insert(0, _RegisterWhenImported())
    else:
        importlib.import_module("keras_genae.models")


class _RegisterWhenImported(importlib.abc.MetaPathFinder):
    """Registers the models at the first import after this package's
    modules finished importing (finds nothing itself)."""

    def find_spec(self, name, path=None, target=None):
        if not _importing_keras_genae():
            sys.meta_path.remove(self)
            importlib.import_module("keras_genae.models")
        return None


class _RegisterWithKeras(importlib.abc.MetaPathFinder):
    """Import `keras_genae.models` (which registers the model classes)
    right after Keras itself is first imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # find the real spec with the other finders
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _register_models()

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:  # Registering the models costs nothing more then.
    importlib.import_module("keras_genae.models")
elif not any(isinstance(f, _RegisterWithKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithKeras())
