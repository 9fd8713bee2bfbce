"""Loss terms in `keras.ops`, shared by the model families. Every function
returns float32 values whatever the compute dtype."""

import math

from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


def bernoulli_nll(x, logits):
    """Per-image negative log-likelihood (nats) of `x` under
    Bernoulli(sigmoid(logits)), summed over pixels. Shape `(batch,)`."""
    x, logits = _f32(x), _f32(logits)
    # Stable binary cross-entropy from logits.
    per_pixel = ops.maximum(logits, 0) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=-1)


def gaussian_nll(x, mean, sigma):
    """Per-image negative log-likelihood (nats) of `x` under
    N(mean, sigma**2), summed over pixels. Shape `(batch,)`."""
    x, mean = _f32(x), _f32(mean)
    per_pixel = 0.5 * ops.square((x - mean) / sigma) + math.log(sigma) + 0.5 * math.log(
        2 * math.pi
    )
    return ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=-1)


def reconstruction_error(x, output, kind):
    """Mean per-pixel reconstruction error of the decoder's raw output:
    `"bce"` (the output is logits) or `"mse"` (the output is the image).

    A squared error is taken on a linear output, never through a sigmoid,
    whose saturation stalls training."""
    x, output = _f32(x), _f32(output)
    if kind == "bce":
        per_pixel = ops.maximum(output, 0) - output * x + ops.log1p(
            ops.exp(-ops.abs(output))
        )
        return ops.mean(per_pixel)
    return ops.mean(ops.square(x - output))


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the
    latent dimensions. Shape `(batch,)`."""
    mean, log_var = _f32(mean), _f32(log_var)
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - 1.0 - log_var, axis=-1)
