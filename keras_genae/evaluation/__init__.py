"""Evaluation: the zoo's quality measures.

Modules:
    core: `evaluate(model, data, ...)`, the held-out metrics of a model, a
        loop over probes.
    probes: the probes (`PROBES`): reconstruction, denoising, likelihood,
        importance-sampled NLL, codebook, Fréchet distance, classification.
    likelihood: the discretized Gaussian, ELBO terms and the
        importance-weighted bound of a VAE.
    image_metrics: SSIM (and PSNR, MSE).
    frechet: feature statistics and Fréchet distances in the features of a
        shipped classifier.
    classifier: `load_classifier`, `shipped_classifier`.
    recipe: `evaluate_recipe(model, recipe, ...)`, the zoo's protocol.
"""

from keras_genae.utils.lazy import lazy_attributes

_LAZY = {
    "evaluate": "keras_genae.evaluation.core",
    "default_probes": "keras_genae.evaluation.core",
    "PROBES": "keras_genae.evaluation.probes",
    "ssim": "keras_genae.evaluation.image_metrics",
    "psnr": "keras_genae.evaluation.image_metrics",
    "discretized_gaussian_log_likelihood": "keras_genae.evaluation.likelihood",
    "importance_weighted_nll": "keras_genae.evaluation.likelihood",
    "frechet_distance": "keras_genae.evaluation.frechet",
    "frechet_distance_between": "keras_genae.evaluation.frechet",
    "FeatureStatistics": "keras_genae.evaluation.frechet",
    "load_classifier": "keras_genae.evaluation.classifier",
    "shipped_classifier": "keras_genae.evaluation.classifier",
    "evaluate_recipe": "keras_genae.evaluation.recipe",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
