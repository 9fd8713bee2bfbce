"""Evaluation: the zoo's quality measures.

Modules:
    core: `evaluate(model, data, ...)`, the held-out metrics of a model.
    frechet: feature statistics and Fréchet distances in the features of a
        shipped classifier.
"""

import importlib

_LAZY = {
    "evaluate": "keras_genae.evaluation.core",
    "ssim": "keras_genae.evaluation.core",
    "psnr": "keras_genae.evaluation.core",
    "discretized_gaussian_log_likelihood": "keras_genae.evaluation.core",
    "frechet_distance": "keras_genae.evaluation.frechet",
    "frechet_distance_between": "keras_genae.evaluation.frechet",
    "FeatureStatistics": "keras_genae.evaluation.frechet",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_genae.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
