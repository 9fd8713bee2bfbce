"""`evaluate(model, data)`: the held-out metrics of a keras_genae model, as a
loop over the probes of `keras_genae.evaluation.probes` (see there for what
each measures and its conventions)."""

import dataclasses

import keras

from keras_genae.evaluation.frechet import iter_batches
from keras_genae.evaluation.image_metrics import psnr  # noqa: F401 (public name)
from keras_genae.evaluation.image_metrics import ssim  # noqa: F401 (public name)
from keras_genae.evaluation.likelihood import discretized_gaussian_log_likelihood  # noqa: F401
from keras_genae.evaluation.probes import PROBES
from keras_genae.evaluation.base import Batch
from keras_genae.evaluation.base import capabilities
from keras_genae.models.family import get_family

#: The probes of a model outside the families, by capability.
_CAPABILITY_PROBES = (("reconstruct", "reconstruction"), ("sample", "frechet"),
                      ("classify", "classification"))


@dataclasses.dataclass
class Settings:
    """What the probes of one `evaluate` call share (see its arguments).
    `seeds` is the generator of the denoising noise and the posterior
    samples of the likelihood probe."""

    batch_size: int
    classifier: object
    num_samples: int
    noise_stddev: float
    seed: int
    fd_reference: object
    seeds: object = None


def default_probes(model):
    """The probe names of `model`'s family (`Family.probes`), else (a model
    outside the families) those of its capabilities."""
    family = get_family(model, default=None)
    if family is not None:
        return tuple(family.probes)
    caps = capabilities(model)
    return tuple(probe for capability, probe in _CAPABILITY_PROBES if capability in caps)


def _make_probes(model, probes, settings):
    """The requested probes: the defaults that can run, or every probe
    asked for (an error says why one cannot)."""
    entries = [(e, {}) if isinstance(e, str) else (e[0], dict(e[1]))
               for e in (default_probes(model) if probes is None else probes)]
    required = set() if probes is None else {name for name, _ in entries}
    if settings.noise_stddev is not None:  # noise was asked for: report what it costs
        required.add("denoising")
        if "denoising" not in [name for name, _ in entries]:
            entries.append(("denoising", {}))
    made = []
    for name, options in entries:
        if name not in PROBES:
            raise ValueError(f"Unknown probe {name!r}. Known probes: {sorted(PROBES)}.")
        reason = PROBES[name].unavailable(model, settings)
        if reason is not None and name in required:
            raise ValueError(f"The {name!r} probe cannot run on this model: {reason}.")
        if reason is None:
            made.append(PROBES[name](model, settings, **options))
    return made


def evaluate(
    model,
    data,
    batch_size=256,
    classifier=None,
    num_samples=10_000,
    noise_stddev=None,
    seed=0,
    verbose=0,
    fd_reference=None,
    probes=None,
):
    """Evaluate a keras_genae model on a set of images, in one pass over it.

    The probes (`keras_genae.evaluation.probes.PROBES`) of the model's
    family run by default: reconstruction metrics (`mse`, `psnr`, `ssim`)
    for every model that reconstructs, `noisy_psnr` and `psnr_gain` for a
    denoising autoencoder (with its own noise), `neg_elbo`, `kl` and
    `bits_per_dim` for a VAE, codebook statistics for a VQ-VAE, the
    `frechet_distance` of samples for a model that samples (given a
    `classifier`), and `test_accuracy` for a classifier.

    Args:
        model: a keras_genae model.
        data: float images in [0, 1] of the model's shape: an array
            `(N, H, W, C)`, a pair `(images, labels)`, or a
            `tf.data.Dataset` of images or of `(images, labels)` (from
            `keras_genae.data.load_dataset`).
        batch_size: int. Batch size for arrays and for sampling. Defaults
            to `256`.
        classifier: a `FeatureClassifier`, the name of a shipped one
            (`"classifier_mnist"`, `"classifier_fashion_mnist"`,
            `"classifier_cifar10"`), the folder of a saved one, or None (no
            Fréchet distance).
        num_samples: int. Samples for the Fréchet distance; `0` skips it.
            Defaults to `10_000`.
        noise_stddev: float or None. Additive Gaussian noise on the inputs
            (the `"denoising"` probe) instead of the model's own noise.
            Defaults to `None`.
        seed: int. Seed of the noise, posterior and prior samples, so that
            results are reproducible. Defaults to `0`.
        verbose: int. `1` shows a progress bar. Defaults to `0`.
        fd_reference: None, or images (same forms as `data`) to compare the
            samples with instead of `data` (for example the grayscale test
            set when `data` is its binarized copy); for a classifier, the
            train images of `frechet_distance_train_test`. Defaults to
            `None`.
        probes: None (the family's), or a sequence of probe names, or of
            `(name, options)` pairs such as `("is_nll", {"k": 100})`.
            Defaults to `None`.

    Returns:
        A dict of Python floats (and ints for counts), with `num_images`.

    Example:
    >>> test = keras_genae.data.load_dataset("mnist", "test", binarize="static")
    >>> keras_genae.evaluate(vae, test, classifier="classifier_mnist")
    {'num_images': 10000, 'mse': ..., 'psnr': ..., 'ssim': ..., 'neg_elbo': ...,
     'kl': ..., 'bits_per_dim': ..., 'frechet_distance': ..., 'num_samples': 10000}
    >>> keras_genae.evaluate(vae, test[:100], probes=[("is_nll", {"k": 1000})])
    {'num_images': 100, 'is_nll': ..., 'is_nll_k': 1000, 'is_nll_bits_per_dim': ...}
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    if noise_stddev is not None and not noise_stddev > 0:
        raise ValueError(f"`noise_stddev` must be positive or None. Received: noise_stddev={noise_stddev!r}")
    settings = Settings(batch_size, classifier, num_samples, noise_stddev, seed, fd_reference,
                        seeds=keras.random.SeedGenerator(seed))
    active = _make_probes(model, probes, settings)
    progress = keras.utils.Progbar(None, verbose=verbose, unit_name="batch")
    num_images = 0
    for x, labels in iter_batches(data, batch_size):
        batch = Batch(x, labels)
        num_images += batch.size
        for probe in active:
            probe.prepare(batch)
        for probe in active:
            probe.update(batch)
        progress.add(1)
    if num_images == 0:
        raise ValueError("`data` holds no images.")
    results = {"num_images": num_images}
    for probe in active:
        results.update(probe.result())
    return results
