"""Improved precision and recall of generated images (Kynkäänniemi et
al., 2019), in a classifier's feature space.

Each set of features is taken as the union of balls around its points,
each ball's radius the distance to the point's `k`-th nearest neighbour
in the same set. Precision is the share of the generated points inside
the real set's balls (how many samples look real); recall is the share of
the real points inside the generated set's balls (how much of the data
the samples cover). A sampler that repeats a few good images has high
precision and low recall; one that produces blobs, the reverse.

Distances are computed in chunks, in float64, so 10,000 against 10,000
features take a few seconds and little memory.
"""

import numpy as np

#: The neighbourhood size of the paper (and of its reference code).
DEFAULT_K = 3


def _features(x, name):
    f = np.asarray(x, dtype=np.float64)
    if f.ndim < 2 or len(f) < 2:
        raise ValueError(f"`{name}` must hold at least 2 feature vectors. Received shape: {f.shape}")
    return f.reshape(len(f), -1)


def _squared_distances(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def knn_radii(features, k=DEFAULT_K, chunk=1000):
    """Squared distance of each point to its `k`-th nearest other point.

    Args:
        features: array `(n, d)`, `n > k`.
        k: int. The neighbour. Defaults to `3`.
        chunk: int. Rows per block of the distance matrix. Defaults to `1000`.

    Returns:
        float64 array `(n,)`.
    """
    f = _features(features, "features")
    if not isinstance(k, int) or isinstance(k, bool) or not 0 < k < len(f):
        raise ValueError(f"`k` must be an integer in [1, {len(f) - 1}]. Received: k={k!r}")
    radii = np.empty(len(f))
    for start in range(0, len(f), chunk):
        d = _squared_distances(f[start:start + chunk], f)
        # Column k of the sorted row: column 0 is the point itself (distance 0).
        radii[start:start + chunk] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(points, centers, radii, chunk):
    """Share of `points` within `radii` of at least one of `centers`."""
    inside = 0
    for start in range(0, len(points), chunk):
        d = _squared_distances(points[start:start + chunk], centers)
        inside += int(np.any(d <= radii[None, :], axis=1).sum())
    return inside / len(points)


def precision_recall(real, generated, k=DEFAULT_K, chunk=1000):
    """Improved precision and recall of `generated` against `real` features.

    Args:
        real: array `(n, d)` of the real images' features.
        generated: array `(m, d)` of the samples' features.
        k: int. Neighbourhood size. Defaults to `3`.
        chunk: int. Rows per block of each distance matrix. Defaults to `1000`.

    Returns:
        dict with `precision` and `recall`, floats in [0, 1].

    References:
        - [Kynkäänniemi et al., 2019](https://arxiv.org/abs/1904.06991)

    Example:
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(500, 8))
    >>> pr = precision_recall(real, 0.1 * rng.normal(size=(500, 8)))
    >>> pr["precision"] > 0.9 and pr["recall"] < 0.2
    True
    """
    real = _features(real, "real")
    generated = _features(generated, "generated")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"`real` and `generated` must have the same feature size. Received: "
            f"{real.shape[1]} and {generated.shape[1]}")
    precision = _coverage(generated, real, knn_radii(real, k, chunk), chunk)
    recall = _coverage(real, generated, knn_radii(generated, k, chunk), chunk)
    return {"precision": precision, "recall": recall}
