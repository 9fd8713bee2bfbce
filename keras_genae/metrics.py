"""Metrics: streaming codebook statistics, and image-quality measures."""

import keras
from keras import ops


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
