"""Training on every Keras backend.

- `phases`: the backend-neutral description of a step (`TrainPhase`: an
  objective, its variables and optimizer) and `PhasedOptimizer`, the one
  `model.optimizer` of a model with one optimizer per phase.
- `guard`: the NaN and input guard, in `keras.ops`; a rejected step
  changes no variable.
- `tensorflow`, `jax`, `torch`: one small module per backend that runs the
  phases, each with `train_step`, `test_step`, `prepare` and
  `on_rejected`. `stateful` holds the loop that TensorFlow and PyTorch
  share.
"""

import importlib

import keras

from keras_genae.errors import UnsupportedBackendError
from keras_genae.training import guard
from keras_genae.training.phases import PhasedOptimizer
from keras_genae.training.phases import TrainPhase

_TRAINERS = {
    "tensorflow": "keras_genae.training.tensorflow",
    "jax": "keras_genae.training.jax",
    "torch": "keras_genae.training.torch",
}


def get_trainer(backend=None):
    """Return the trainer module of `backend` (default: the active one)."""
    backend = backend or keras.backend.backend()
    if backend not in _TRAINERS:
        raise UnsupportedBackendError(
            f"keras_genae trains with the TensorFlow, JAX and PyTorch backends. "
            f"The active Keras backend is {backend!r}. Set the environment "
            "variable KERAS_BACKEND to one of 'tensorflow', 'jax' or 'torch' "
            "before importing keras."
        )
    return importlib.import_module(_TRAINERS[backend])


def prepare(model):
    """Called by `fit` and `evaluate` before Keras builds the step function:
    build every phase's optimizer (so the step is traced once and its state
    exists before a JAX step threads it) and clear the guard's status."""
    if not getattr(model, "compiled", False):
        return
    get_trainer().prepare(model)
    model.guard_status.reset_state()


def guard_function(model, function):
    """Keras' train or test `function`, raising the guard's errors."""
    if function is None:
        return None
    return guard.guard_function(model, function, get_trainer())


__all__ = [
    "PhasedOptimizer",
    "TrainPhase",
    "UnsupportedBackendError",
    "get_trainer",
    "guard_function",
    "prepare",
]
