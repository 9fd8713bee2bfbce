"""Seeding without importing TensorFlow off the TensorFlow backend."""

import random

import keras
import numpy as np


def set_random_seed(seed):
    """Seed Python's, NumPy's and the active backend's generators.

    `keras.utils.set_random_seed` also seeds TensorFlow whenever it is
    installed, and so imports it on every backend. This does the same on
    TensorFlow and skips TensorFlow elsewhere. Keras' `fit` shuffles arrays
    with NumPy on JAX and PyTorch; the models draw their noise from their
    own `SeedGenerator`s.

    Args:
        seed: int. The seed.

    Example:
    >>> set_random_seed(0)
    """
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
