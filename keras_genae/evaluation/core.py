"""`evaluate(model, data)`: reconstruction quality, likelihood, codebook
statistics and Fréchet distance of a keras_genae model.

Conventions:

- MSE is the mean over pixels and images. PSNR is `10 log10(1 / MSE_i)`
  per image (data range 1), averaged over images; an exact reconstruction
  has infinite PSNR. SSIM is computed in `keras.ops` exactly as
  `tf.image.ssim` does (Wang et al. 2004: 11x11 Gaussian window with
  sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1, "valid" windows, averaged
  over windows and channels), per image, averaged over images.
- `neg_elbo` is the negative ELBO in nats per image under the model's own
  likelihood, with one posterior sample per image (seeded). For a Gaussian
  likelihood this is a continuous density and may be negative.
- `bits_per_dim` is a discrete code length, comparable across models:
  - Bernoulli likelihood: `neg_elbo / (D ln 2)`, `D = H * W * C`; reported
    only when the data is binary (use `load_dataset(binarize=...)`), since
    the Bernoulli is no distribution over grey levels.
  - Gaussian likelihood: the ELBO of the *discretized* Gaussian. Each of
    the 256 levels `k / 255` gets the Gaussian mass of its bin
    `[(k - 1/2) / 255, (k + 1/2) / 255]`, the end bins reaching to -inf and
    +inf (as PixelCNN++ does with the logistic), so the likelihood sums to 1
    over 8-bit images. Using the density instead, `density * (1/255)**D`,
    would understate the probability of the pixels at exactly 0 and 1
    (whose bins take in the tails) and is no bound. For bins away from the
    ends it agrees with `neg_elbo / (D ln 2) + log2(255)`.
"""

import logging
import math

import keras
import numpy as np
from keras import ops

from keras_genae.evaluation.frechet import FeatureStatistics
from keras_genae.evaluation.frechet import frechet_distance
from keras_genae.evaluation.frechet import iter_image_batches
from keras_genae.metrics import mse_per_image
from keras_genae.metrics import psnr  # noqa: F401 (public name)
from keras_genae.models.losses import gaussian_kl

logger = logging.getLogger(__name__)


# ------------------------------------------------------------ image metrics
# `mse_per_image` and `psnr` live in `keras_genae.metrics`, which the models'
# training logs use too.


def _gaussian_window(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype("float32")


def ssim(x, y, data_range=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity of each image pair, `(batch,)` float32.

    Matches `tf.image.ssim` (same window, constants and "valid" padding),
    written in `keras.ops` so that it runs on every backend.

    Args:
        x, y: images `(batch, H, W, C)` with `H, W >= filter_size`.
        data_range: float. Defaults to `1.0`.
        filter_size: int. Side of the Gaussian window. Defaults to `11`.
        filter_sigma: float. Defaults to `1.5`.
        k1, k2: floats. Stabilizing constants. Default to `0.01`, `0.03`.
    """
    x, y = ops.cast(x, "float32"), ops.cast(y, "float32")
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if min(height, width) < filter_size:
        raise ValueError(
            f"SSIM needs images of at least {filter_size}x{filter_size} pixels "
            f"(`filter_size`). Received shape {tuple(x.shape)}."
        )
    window = _gaussian_window(filter_size, filter_sigma)
    kernel = ops.convert_to_tensor(np.tile(window[:, :, None, None], (1, 1, channels, 1)))

    def blur(t):
        return ops.depthwise_conv(t, kernel, strides=1, padding="valid")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    return ops.mean(luminance * contrast_structure, axis=(1, 2, 3))


# --------------------------------------------------------------- likelihood
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _log_ndtr(t):
    """log Phi(t), stable in the lower tail (asymptotic series below -4)."""
    hi = ops.maximum(t, -4.0)
    lo = ops.minimum(t, -4.0)
    log_hi = ops.log(ops.maximum(0.5 * (1.0 + ops.erf(hi / math.sqrt(2.0))), 1e-30))
    log_lo = -0.5 * lo * lo - _LOG_SQRT_2PI - ops.log(-lo) + ops.log1p(-1.0 / (lo * lo))
    return ops.where(t > -4.0, log_hi, log_lo)


def discretized_gaussian_log_likelihood(x, mean, sigma, levels=256):
    """log P(x) per image (nats) of 8-bit images under a discretized Gaussian.

    Level `k / (levels - 1)` gets the N(mean, sigma**2) mass of the bin of
    width `1 / (levels - 1)` around it; the first and last bins extend to
    -inf and +inf. `x` is rounded to the nearest level. Shape `(batch,)`.
    """
    x, mean = ops.cast(x, "float32"), ops.cast(mean, "float32")
    top = float(levels - 1)
    x = ops.round(ops.clip(x, 0.0, 1.0) * top) / top
    half = 0.5 / top
    centered = x - mean
    upper = (centered + half) / sigma
    lower = (centered - half) / sigma
    log_cdf_upper = _log_ndtr(upper)              # mass of the first bin
    log_sf_lower = _log_ndtr(-lower)              # mass of the last bin
    cdf = lambda t: 0.5 * (1.0 + ops.erf(t / math.sqrt(2.0)))  # noqa: E731
    mass = cdf(upper) - cdf(lower)
    mid = centered / sigma
    log_midpoint = -0.5 * mid * mid - _LOG_SQRT_2PI - math.log(sigma) + math.log(2 * half)
    log_mass = ops.where(mass > 1e-5, ops.log(ops.maximum(mass, 1e-30)), log_midpoint)
    log_p = ops.where(
        x < half, log_cdf_upper, ops.where(x > 1.0 - half, log_sf_lower, log_mass)
    )
    return ops.sum(ops.reshape(log_p, (ops.shape(x)[0], -1)), axis=-1)


# ----------------------------------------------------------------- evaluate
def _is_vae(model):
    return all(hasattr(model, a) for a in (
        "encode_distribution", "reparameterize", "decode_logits", "log_likelihood"))


def _is_vqvae(model):
    return hasattr(model, "quantizer") and hasattr(model, "num_embeddings")


def _gaussian_mean(model, output):
    """The mean of a Gaussian decoder: its raw output when linear, else the
    sigmoid of it."""
    output = ops.cast(output, "float32")
    if getattr(model, "output_activation", "sigmoid") == "linear":
        return output
    return ops.sigmoid(output)


class _Mean:
    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, values):
        values = np.asarray(ops.convert_to_numpy(values), np.float64)
        self.total += float(values.sum())
        self.count += values.size

    def result(self):
        return self.total / self.count if self.count else float("nan")


def _load_classifier(classifier, image_shape):
    if isinstance(classifier, str) or hasattr(classifier, "__fspath__"):
        from keras_genae.classifiers import load_classifier

        classifier = load_classifier(classifier)
    if not hasattr(classifier, "features"):
        raise ValueError(
            "`classifier` must be a FeatureClassifier, the name of a shipped one "
            f"(e.g. 'classifier_mnist'), a folder holding one, or None. "
            f"Received: classifier={classifier!r}"
        )
    shape = tuple(getattr(classifier, "image_shape", image_shape))
    if shape != tuple(image_shape):
        raise ValueError(
            f"The classifier was built for images of shape {shape}, but the model "
            f"makes images of shape {tuple(image_shape)}."
        )
    return classifier


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
):
    """Evaluate a keras_genae model on a set of images, streaming over it.

    What is measured depends on the model (see the module docstring for the
    conventions):

    - every model that reconstructs: `mse`, `psnr` (dB), `ssim`;
    - with `noise_stddev`: the inputs get additive Gaussian noise (clipped to
      [0, 1]) and the metrics compare the output with the clean images;
      `noisy_psnr` (noisy input vs clean) and `psnr_gain` are added. This is
      how a denoising autoencoder is scored;
    - VAEs: `neg_elbo` and `kl` (nats per image), `bits_per_dim`;
    - VQ-VAEs: `codebook_usage` (share of the codes used at least once over
      the whole set), `codes_used`, and `perplexity` (`exp` of the entropy
      of the code histogram, the effective number of codes);
    - models with a prior (`model.has_prior`), given a `classifier`:
      `frechet_distance` between `num_samples` samples and the images of
      `data` (or of `fd_reference`), in the classifier's penultimate
      features.

    Args:
        model: a keras_genae model.
        data: float images in [0, 1] of the model's shape: an array
            `(N, H, W, C)` or a `tf.data.Dataset` of images or of
            `(images, labels)` (from `keras_genae.data.load_dataset`).
        batch_size: int. Batch size for arrays and for sampling. Defaults
            to `256`.
        classifier: a `keras_genae.classifiers.FeatureClassifier`, the
            name of a shipped one (`"classifier_mnist"`,
            `"classifier_fashion_mnist"`, `"classifier_cifar10"`), the
            folder of a saved one, or None (no Fréchet distance).
        num_samples: int. Samples for the Fréchet distance; `0` skips it.
            Defaults to `10_000`.
        noise_stddev: float or None. Defaults to `None`.
        seed: int. Seed of the posterior samples, noise and prior samples,
            so that results are reproducible. Defaults to `0`.
        verbose: int. `1` shows a progress bar. Defaults to `0`.
        fd_reference: None, or images (same forms as `data`) to compare the
            samples with instead of `data`: for example the grayscale test
            set when `data` is its binarized copy. Defaults to `None`.

    Returns:
        A dict of Python floats (and ints for counts), with `num_images`.

    Example:
    >>> test = keras_genae.data.load_dataset("mnist", "test", binarize="static")
    >>> keras_genae.evaluate(vae, test, classifier="classifier_mnist")
    {'num_images': 10000, 'mse': ..., 'psnr': ..., 'ssim': ..., 'neg_elbo': ...,
     'kl': ..., 'bits_per_dim': ..., 'frechet_distance': ..., 'num_samples': 10000}
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    if noise_stddev is not None and not noise_stddev > 0:
        raise ValueError(f"`noise_stddev` must be positive or None. Received: noise_stddev={noise_stddev!r}")
    image_shape = tuple(model.image_shape)
    dims = int(np.prod(image_shape))
    sample_fd = bool(getattr(model, "has_prior", False)) and classifier is not None and num_samples > 0
    if sample_fd:
        classifier = _load_classifier(classifier, image_shape)
    vae, vq = _is_vae(model), _is_vqvae(model)
    seeds = keras.random.SeedGenerator(seed)
    sums = {k: _Mean() for k in ("mse", "psnr", "ssim", "noisy_psnr", "neg_elbo", "kl", "disc_nll")}
    counts = np.zeros(getattr(model, "num_embeddings", 0), np.int64)
    reference = FeatureStatistics()
    reconstructs, binary, num_images = True, True, 0
    gaussian = getattr(model, "likelihood", None) == "gaussian"

    progress = keras.utils.Progbar(None, verbose=verbose, unit_name="batch")
    for x in iter_image_batches(data, batch_size):
        x = ops.convert_to_tensor(x, "float32")
        num_images += int(x.shape[0])
        x_in = x
        if noise_stddev is not None:
            noise = keras.random.normal(ops.shape(x), stddev=noise_stddev, seed=seeds)
            x_in = ops.clip(x + noise, 0.0, 1.0)
            sums["noisy_psnr"].update(psnr(x, x_in))
        if reconstructs:
            try:
                y = model.reconstruct(x_in)
            except NotImplementedError:
                reconstructs = False
            else:
                sums["mse"].update(mse_per_image(x, y))
                sums["psnr"].update(psnr(x, y))
                sums["ssim"].update(ssim(x, y))
        if vae:
            mean, log_var = model.encode_distribution(x)
            z = model.reparameterize(mean, log_var, seed=seeds)
            logits = model.decode_logits(ops.cast(z, model.compute_dtype))
            kl = gaussian_kl(mean, log_var)
            sums["kl"].update(kl)
            sums["neg_elbo"].update(kl - model.log_likelihood(x, logits))
            if gaussian:
                disc = discretized_gaussian_log_likelihood(
                    x, _gaussian_mean(model, logits), model.gaussian_sigma
                )
                sums["disc_nll"].update(kl - disc)
            else:
                binary = binary and bool(ops.all(ops.logical_or(ops.equal(x, 0.0), ops.equal(x, 1.0))))
        if vq:
            indices = ops.convert_to_numpy(model.encode(x)).reshape(-1)
            counts += np.bincount(indices, minlength=len(counts))
        if sample_fd and fd_reference is None:
            reference.update(ops.convert_to_numpy(classifier.features(x)))
        progress.add(1)
    if num_images == 0:
        raise ValueError("`data` holds no images.")

    results = {"num_images": num_images}
    if reconstructs:
        for key in ("mse", "psnr", "ssim"):
            results[key] = sums[key].result()
        if noise_stddev is not None:
            results["noisy_psnr"] = sums["noisy_psnr"].result()
            results["psnr_gain"] = results["psnr"] - results["noisy_psnr"]
    if vae:
        results["neg_elbo"] = sums["neg_elbo"].result()
        results["kl"] = sums["kl"].result()
        if gaussian:
            results["bits_per_dim"] = sums["disc_nll"].result() / (dims * math.log(2.0))
        elif binary:
            results["bits_per_dim"] = results["neg_elbo"] / (dims * math.log(2.0))
        else:
            logger.warning(
                "The data is not binary, so the Bernoulli negative ELBO is no "
                "likelihood and bits_per_dim is left out. Evaluate on binarized "
                "images: keras_genae.data.load_dataset(..., binarize='static')."
            )
    if vq:
        results["codebook_usage"] = float(np.mean(counts > 0))
        results["codes_used"] = int(np.sum(counts > 0))
        p = counts / max(counts.sum(), 1)
        results["perplexity"] = float(np.exp(-np.sum(p[p > 0] * np.log(p[p > 0]))))
    if sample_fd:
        if fd_reference is not None:
            for x in iter_image_batches(fd_reference, batch_size):
                reference.update(ops.convert_to_numpy(classifier.features(ops.convert_to_tensor(x, "float32"))))
        if reference.count < 2:
            raise ValueError("The Fréchet distance needs at least 2 images in `data`.")
        generated = FeatureStatistics()
        for i, start in enumerate(range(0, num_samples, batch_size)):
            n = min(batch_size, num_samples - start)
            images = model.sample(n, seed=seed * 100_003 + i + 1)
            generated.update(ops.convert_to_numpy(classifier.features(images)))
        results["frechet_distance"] = frechet_distance(generated, reference)
        results["num_samples"] = num_samples
    return results
