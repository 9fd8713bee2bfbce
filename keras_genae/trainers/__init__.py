"""Backend-specific train and test steps.

The models compute their losses with `keras.ops` only. Each backend has one
module here that turns `compute_losses` and the model's `train_phases` into
a train step. Only TensorFlow is implemented: a JAX or PyTorch trainer is one
new module with the same three functions, plus an entry in `_TRAINERS`.
"""

import importlib

import keras

_TRAINERS = {"tensorflow": "keras_genae.trainers.tensorflow_trainer"}


class UnsupportedBackendError(RuntimeError):
    """Raised when training on a Keras backend that has no keras_genae
    trainer yet."""


def get_trainer(backend=None):
    """Return the trainer module of `backend` (default: the active one)."""
    backend = backend or keras.backend.backend()
    if backend not in _TRAINERS:
        raise UnsupportedBackendError(
            f"keras_genae can train only with the TensorFlow backend for now. "
            f"The active Keras backend is {backend!r}. Set the environment "
            "variable KERAS_BACKEND=tensorflow before importing keras. "
            "Inference (encode, decode, reconstruct, sample) works on any backend."
        )
    return importlib.import_module(_TRAINERS[backend])
