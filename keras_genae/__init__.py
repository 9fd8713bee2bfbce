"""keras-genae: a Keras 3 model zoo of generative autoencoders.

Every public name imports on first use (PEP 562): `import keras_genae`
alone imports neither Keras nor a backend, so that `genae` controls how
TensorFlow starts (quietly) and `import keras_genae` with the JAX or
PyTorch backend does not import TensorFlow.

The model classes register with Keras' serialization when
`keras_genae.models` is imported: by the first use of a model name (or of
`load`), or by `import keras_genae` itself when Keras is already imported.
So `keras.saving.load_model(checkpoint_dir)` works after `import keras`
and `import keras_genae`, in that order (or after `import
keras_genae.models`).
"""

import importlib
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


if "keras" in sys.modules:  # Registering the models costs nothing more then.
    importlib.import_module("keras_genae.models")
