"""Metrics: per-image MSE and PSNR, the PSNR of the training logs, and
streaming codebook statistics."""

import math

import keras
from keras import ops

#: PSNR in dB of the training logs for an exact reconstruction (MSE 0),
#: so that the logged mean stays finite.
MAX_LOGGED_PSNR = 100.0


def mse_per_image(x, y):
    """Mean squared error of each image pair, `(batch,)` float32."""
    d = ops.cast(x, "float32") - ops.cast(y, "float32")
    return ops.mean(ops.reshape(ops.square(d), (ops.shape(d)[0], -1)), axis=-1)


def psnr(x, y, data_range=1.0):
    """Peak signal-to-noise ratio in dB of each image pair, `(batch,)`.

    `10 log10(data_range**2 / MSE)`; `inf` for identical images.

    Example:
    >>> x = np.full((1, 8, 8, 1), 0.5, "float32")
    >>> psnr(x, x + 0.1)  # 10 log10(1 / 0.01) = 20 dB
    """
    mse = mse_per_image(x, y)
    return 10.0 * ops.log(data_range**2 / mse) / math.log(10.0)


def mean_psnr(x, y):
    """The batch's mean PSNR in dB (images in [0, 1]), each image's capped
    at `MAX_LOGGED_PSNR`: the `psnr` metric that `fit` and `evaluate` log."""
    floor = 10.0 ** (-MAX_LOGGED_PSNR / 10.0)
    mse = ops.maximum(mse_per_image(x, y), floor)
    return ops.mean(-10.0 * ops.log(mse) / math.log(10.0))


def psnr_tracker():
    """The `psnr` entry of a reconstruction model's logs: the mean over the
    epoch's batches of `terms["psnr"]` (see `mean_psnr`)."""
    return keras.metrics.Mean(name="psnr")


class _CodeHistogram(keras.metrics.Metric):
    """Accumulates a histogram of code assignments over an epoch.

    `update_state(counts)` takes a `(num_embeddings,)` vector of counts.
    """

    def __init__(self, num_embeddings, name, source=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_embeddings = num_embeddings
        self.source = source or name
        self.counts = self.add_variable(
            shape=(num_embeddings,), initializer="zeros", name="counts"
        )

    def update_state(self, counts, sample_weight=None):
        self.counts.assign_add(ops.cast(counts, self.dtype))

    def reset_state(self):
        self.counts.assign(ops.zeros((self.num_embeddings,), dtype=self.dtype))

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "name": self.name, "source": self.source}


@keras.saving.register_keras_serializable(package="keras_genae")
class CodebookUsage(_CodeHistogram):
    """Share of the codebook used at least once since the last reset."""

    def result(self):
        return ops.mean(ops.cast(self.counts > 0, self.dtype))


@keras.saving.register_keras_serializable(package="keras_genae")
class CodebookPerplexity(_CodeHistogram):
    """`exp(entropy)` of the code distribution since the last reset: the
    effective number of codes in use."""

    def result(self):
        return codebook_perplexity(self.counts)


def codebook_perplexity(counts):
    counts = ops.cast(counts, "float32")
    p = counts / ops.maximum(ops.sum(counts), 1.0)
    entropy = -ops.sum(ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-12)), 0.0))
    return ops.exp(entropy)
