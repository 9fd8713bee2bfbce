"""Fréchet distance between image sets in a classifier's feature space.

The Fréchet (2-Wasserstein) distance between the Gaussians fitted to two
sets of features is

    ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

`tr((S_a S_b)^(1/2))` is computed as `tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))`:
the inner matrix is symmetric positive semi-definite, so both square roots
come from symmetric eigendecompositions (`numpy.linalg.eigh`) in float64,
with round-off negatives clipped to zero. This is exact in exact arithmetic
and avoids the complex values that a general `sqrtm` of the non-symmetric
product can produce.

With the features of `keras_genae.models.FeatureClassifier` instead of
Inception-v3, the numbers are not comparable with published FIDs; compare
them with the train-vs-test distance of the same classifier (stored in its
`metrics.json`), computed with the same sample sizes.
"""

import numpy as np
from keras import ops

from keras_genae.data.batches import iter_batches


def iter_image_batches(data, batch_size=256):
    """Yield float32 image batches from an array or a `tf.data.Dataset`.

    A dataset may yield images or `(images, labels)`, batched or not.
    """
    for images, _ in iter_batches(data, batch_size):
        yield images


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors, in float64.

    Example:
    >>> stats = FeatureStatistics()
    >>> stats.update(np.random.randn(100, 8))
    >>> stats.mean.shape, stats.covariance.shape
    ((8,), (8, 8))
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, features):
        f = np.asarray(features, dtype=np.float64)
        f = f.reshape(len(f), -1)
        if self._shift is None:
            # Accumulating around a shift keeps the covariance accurate when
            # the mean is large compared with the spread.
            self._shift = f.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((f.shape[1], f.shape[1]))
        d = f - self._shift
        self.count += len(f)
        self._sum += d.sum(axis=0)
        self._outer += d.T @ d

    @property
    def mean(self):
        return self._shift + self._sum / self.count

    @property
    def covariance(self):
        """Unbiased covariance (`ddof=1`), as `np.cov`."""
        if self.count < 2:
            raise ValueError(
                f"A covariance needs at least 2 feature vectors. Received: {self.count}."
            )
        centered_sum = self._sum / self.count
        return (self._outer - self.count * np.outer(centered_sum, centered_sum)) / (
            self.count - 1
        )


def _sqrt_psd(matrix):
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance_from_statistics(mean_a, cov_a, mean_b, cov_b):
    """Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    Args:
        mean_a, mean_b: arrays `(d,)`.
        cov_a, cov_b: symmetric positive semi-definite arrays `(d, d)`.

    Returns:
        A non-negative float.
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != (
        mean_a.shape[0], mean_a.shape[0]
    ):
        raise ValueError(
            "The means must have the same shape (d,) and the covariances (d, d). "
            f"Received: means {mean_a.shape}, {mean_b.shape}; covariances "
            f"{cov_a.shape}, {cov_b.shape}."
        )
    cov_a = (cov_a + cov_a.T) / 2
    cov_b = (cov_b + cov_b.T) / 2
    root_a = _sqrt_psd(cov_a)
    inner = root_a @ cov_b @ root_a
    inner_eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = np.sqrt(np.clip(inner_eigenvalues, 0.0, None)).sum()
    diff = mean_a - mean_b
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_distance(features_a, features_b):
    """Fréchet distance between the Gaussians fitted to two feature sets.

    Args:
        features_a: array `(n_a, d)`, or a `FeatureStatistics`.
        features_b: array `(n_b, d)`, or a `FeatureStatistics`.

    Returns:
        A non-negative float: 0 for identical sets.

    Example:
    >>> a = np.random.randn(5000, 4)
    >>> frechet_distance(a, a + 1.0)  # about 4: the squared mean shift
    """
    stats = []
    for features in (features_a, features_b):
        if not isinstance(features, FeatureStatistics):
            f = np.asarray(features)
            if f.ndim != 2 or len(f) < 2:
                raise ValueError(
                    "Features must be an array of shape (n, d) with n >= 2. "
                    f"Received shape {f.shape}."
                )
            s = FeatureStatistics()
            s.update(f)
            features = s
        stats.append(features)
    a, b = stats
    return frechet_distance_from_statistics(a.mean, a.covariance, b.mean, b.covariance)


def dataset_features(classifier, data, batch_size=256, statistics=False):
    """Classifier features of every image of `data`.

    Args:
        classifier: a `FeatureClassifier` (anything with `features(x)`).
        data: float images in [0, 1]: an array or a `tf.data.Dataset`.
        batch_size: int. Batch size for arrays. Defaults to `256`.
        statistics: bool. Return a `FeatureStatistics` instead of the
            `(n, d)` array, without keeping the features. Defaults to
            `False`.
    """
    stats = FeatureStatistics() if statistics else None
    chunks = []
    for batch in iter_image_batches(data, batch_size):
        f = ops.convert_to_numpy(classifier.features(batch))
        if stats is not None:
            stats.update(f)
        else:
            chunks.append(f)
    if stats is not None:
        return stats
    return np.concatenate(chunks, axis=0)


def frechet_distance_between(classifier, data_a, data_b, batch_size=256):
    """Fréchet distance between two image sets in `classifier`'s features.

    Example:
    >>> frechet_distance_between(clf, x_train[:10000], x_test)
    """
    return frechet_distance(
        dataset_features(classifier, data_a, batch_size, statistics=True),
        dataset_features(classifier, data_b, batch_size, statistics=True),
    )
