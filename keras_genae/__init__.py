"""keras-genae: a Keras 3 model zoo of generative autoencoders.

The models, the classifiers and the registry import eagerly; the rest (the
Hub, the `tf.data` pipelines, evaluation, fine-tuning) on first use (PEP
562), so that `import keras_genae` with the JAX or PyTorch backend does not
import TensorFlow.
"""

import importlib

from keras_genae import layers
from keras_genae import models
from keras_genae.errors import ChecksumError
from keras_genae.errors import NonFiniteLossError
from keras_genae.models import VAE
from keras_genae.models import VQVAE
from keras_genae.models import Autoencoder
from keras_genae.models import DenoisingAutoencoder
from keras_genae.models import GenerativeAutoencoder
from keras_genae.models import GenerativeModel
from keras_genae.version import __version__
from keras_genae.models import AdversarialAutoencoder
from keras_genae.models import DCGAN
from keras_genae import classifiers  # registers FeatureClassifier
from keras_genae import inference
from keras_genae.hub import manifest
from keras_genae.hub.manifest import list_models
from keras_genae.hub.manifest import model_info

#: Public name -> (module, attribute or None for the module itself).
_LAZY = {
    "hub": ("keras_genae.hub", None),
    "load": ("keras_genae.hub.api", "load"),
    "push_to_hub": ("keras_genae.hub.api", "push_to_hub"),
    "save_pretrained": ("keras_genae.hub.api", "save_pretrained"),
    "data": ("keras_genae.data", None),
    "evaluate": ("keras_genae.evaluation.core", "evaluate"),
    "finetune": ("keras_genae.finetuner", "finetune"),
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
