"""Paths between latent vectors: linear (lerp) and spherical (slerp)."""

import numpy as np


def interpolate(a, b, steps, method="lerp"):
    """Points from `a` to `b` (both included) along a line or a great arc.

    Args:
        a, b: float arrays of the same shape (one latent each, any shape).
        steps: int >= 2. Number of points.
        method: `"lerp"` (linear) or `"slerp"` (spherical: the angle moves
            linearly, and the norm too, which suits Gaussian latents whose
            norms concentrate). Defaults to `"lerp"`.

    Returns:
        float32 array `(steps,) + a.shape`.

    Example:
    >>> path = interpolate(np.zeros(2), np.ones(2), 3)
    >>> path.tolist()
    [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must have the same shape. Received: {a.shape} and {b.shape}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an integer >= 2. Received: steps={steps!r}")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"`method` must be 'lerp' or 'slerp'. Received: method={method!r}")
    t = np.linspace(0.0, 1.0, int(steps)).reshape((-1,) + (1,) * a.ndim)
    if method == "lerp":
        return ((1 - t) * a + t * b).astype("float32")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return ((1 - t) * a + t * b).astype("float32")
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(np.sum(ua * ub), -1.0, 1.0))
    if omega < 1e-6:
        direction = (1 - t) * ua + t * ub
    else:
        direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype("float32")
