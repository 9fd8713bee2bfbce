"""Likelihoods of a VAE: the discretized Gaussian, the ELBO terms and the
importance-weighted bound.

Conventions (nats per image unless stated otherwise):

- `neg_elbo` is the negative ELBO under the model's own likelihood, with one
  posterior sample per image and the analytic KL. For a Gaussian likelihood
  this is a continuous density and may be negative.
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
- `is_nll` is the importance-weighted estimate of `-log p(x)` (Burda et al.
  2015) with `K` posterior samples `z_k ~ q(z|x)`:
  `-(logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K)`.
  Its expectation is an upper bound on `-log p(x)` that decreases in `K`,
  equals the (Monte-Carlo) negative ELBO at `K = 1`, and reaches
  `-log p(x)` as `K -> inf`. `is_nll_bits_per_dim` uses the same
  likelihood as `bits_per_dim` (the discretized Gaussian, or the Bernoulli
  on binary data).
"""

import math

import keras
from keras import ops

from keras_genae.models.losses import gaussian_kl

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
    -inf and +inf. `x` is rounded to the nearest level.

    Args:
        x: images in [0, 1], `(batch, H, W, C)`.
        mean: the Gaussian means, same shape.
        sigma: float. The standard deviation.
        levels: int. Defaults to `256`.

    Returns:
        float32 `(batch,)`.
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


def decode_raw(model, z):
    """The decoder's pre-activation output of latents `z`."""
    return model.decode_raw(ops.cast(z, model.compute_dtype))


def gaussian_mean(model, output):
    """The mean of a Gaussian decoder: its raw output when linear, else the
    sigmoid of it."""
    output = ops.cast(output, "float32")
    if model.output_activation == "linear":
        return output
    return ops.sigmoid(output)


def discrete_log_likelihood(model, x, raw):
    """log P(x|z) per image of the likelihood that bits/dim are measured
    with: the discretized Gaussian for a Gaussian VAE, else the model's own
    (Bernoulli) likelihood."""
    if model.likelihood == "gaussian":
        return discretized_gaussian_log_likelihood(x, gaussian_mean(model, raw), model.gaussian_sigma)
    return model.log_likelihood(x, raw)


def elbo_terms(model, x, seed):
    """One-sample ELBO terms of images `x` under a VAE.

    Returns:
        `(kl, log_likelihood, discrete_log_likelihood)`, each float32
        `(batch,)`: the analytic KL(q(z|x) || p(z)), log p(x|z) under the
        model's likelihood and under the discrete likelihood of
        `bits_per_dim`, at one posterior sample `z` drawn with `seed`.
    """
    mean, log_var = model.encode_distribution(x)
    z = model.reparameterize(mean, log_var, seed=seed)
    raw = decode_raw(model, z)
    log_lik = model.log_likelihood(x, raw)
    discrete = discrete_log_likelihood(model, x, raw) if model.likelihood == "gaussian" else log_lik
    return gaussian_kl(mean, log_var), log_lik, discrete


def log_importance_weights(model, x, num_samples, seed, discrete=False):
    """`log p(x|z_k) + log p(z_k) - log q(z_k|x)` for `num_samples` draws
    `z_k ~ q(z|x)` of each image of `x`.

    Args:
        model: a `VAE`.
        x: images `(batch, H, W, C)` in [0, 1].
        num_samples: int. Draws per image, decoded in one call of
            `num_samples * batch` latents.
        seed: a `keras.random.SeedGenerator` or an int.
        discrete: bool. Also return the weights under the discrete
            likelihood of `bits_per_dim`. Defaults to `False`.

    Returns:
        float32 `(num_samples, batch)`, or a pair of them with `discrete`.
    """
    x = ops.cast(x, "float32")
    mean, log_var = model.encode_distribution(x)
    batch, latent_dim = ops.shape(mean)[0], ops.shape(mean)[1]
    eps = keras.random.normal((num_samples, batch, latent_dim), seed=seed)
    z = mean[None] + ops.exp(0.5 * log_var)[None] * eps
    # log p(z) - log q(z|x): the 2 pi terms cancel.
    log_ratio = 0.5 * (ops.sum(eps * eps, axis=-1) - ops.sum(z * z, axis=-1)) + 0.5 * ops.sum(
        log_var, axis=-1)[None]
    raw = decode_raw(model, ops.reshape(z, (num_samples * batch, latent_dim)))
    targets = ops.reshape(
        ops.broadcast_to(x[None], (num_samples,) + tuple(x.shape)), (-1,) + tuple(x.shape[1:]))
    log_w = ops.reshape(model.log_likelihood(targets, raw), (num_samples, batch)) + log_ratio
    if not discrete:
        return log_w
    log_d = discrete_log_likelihood(model, targets, raw)
    return log_w, ops.reshape(log_d, (num_samples, batch)) + log_ratio


def importance_weighted_nll(model, x, k=1000, chunk=100, seed=None, discrete=False):
    """The importance-weighted negative log-likelihood (nats) of each image.

    `-(logsumexp_k log w_k - log k)` over `k` posterior draws, taken `chunk`
    draws at a time (memory grows with `chunk * batch`), combined with
    `logaddexp` in float32.

    Args:
        model: a `VAE`.
        x: images `(batch, H, W, C)` in [0, 1].
        k: int. Importance samples per image. Defaults to `1000`.
        chunk: int. Samples per decoder call. Defaults to `100`.
        seed: a `keras.random.SeedGenerator`, an int or None.
        discrete: bool. Also return the estimate under the discrete
            likelihood of `bits_per_dim`. Defaults to `False`.

    Returns:
        float32 `(batch,)`, or a pair of them with `discrete`.

    Example:
    >>> nll = importance_weighted_nll(vae, x_test[:8], k=1000, seed=0)
    """
    if isinstance(seed, int) or seed is None:
        seed = keras.random.SeedGenerator(seed)
    totals = None
    for start in range(0, k, chunk):
        weights = log_importance_weights(model, x, min(chunk, k - start), seed, discrete)
        weights = weights if discrete else (weights,)
        parts = [ops.logsumexp(w, axis=0) for w in weights]
        totals = parts if totals is None else [ops.logaddexp(t, p) for t, p in zip(totals, parts)]
    nll = [math.log(k) - t for t in totals]
    return tuple(nll) if discrete else nll[0]
