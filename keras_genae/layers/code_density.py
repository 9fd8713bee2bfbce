"""`ClassGaussians`: full-covariance Gaussians fitted to an encoder's codes,
one per class, to sample a deterministic autoencoder from."""

import keras
import numpy as np
from keras import ops

from keras_genae.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_genae")
class ClassGaussians(keras.layers.Layer):
    """One full-covariance Gaussian per class over `dim`-d codes, fitted
    after training to the codes of the training images (ex-post density
    estimation).

    An autoencoder whose codes are only pushed towards a prior (by an
    adversary, a KL term or nothing) leaves holes in it: prior draws that
    no training image encodes to, which decode to blurred images. Ghosh et
    al. (2020) sample such models from a density fitted to the codes
    instead. `fit` sets each class's mean and the Cholesky factor of its
    covariance from the codes of its images (one class for unlabeled
    codes); `draw` maps standard normal noise to codes of given classes.
    The parameters are non-trainable weights, saved with the model's.
    Before `fit`, `fitted` is 0 and every class is N(0, I).

    Args:
        num_classes: int. Number of Gaussians (1: one for all codes).
        dim: int. Size of a code.
        **kwargs: base `keras.layers.Layer` arguments.

    References:
        - [Ghosh et al., 2020](https://arxiv.org/abs/1903.12436)

    Example:
    >>> import numpy as np
    >>> density = ClassGaussians(num_classes=2, dim=3)
    >>> codes = np.random.randn(200, 3).astype("float32")
    >>> density.fit(codes, np.arange(200) % 2)
    >>> z = density.draw(np.array([0, 1]), np.random.randn(2, 3).astype("float32"))
    """

    def __init__(self, num_classes, dim, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_classes, "num_classes")
        check_positive_int(dim, "dim")
        self.num_classes = num_classes
        self.dim = dim

    def build(self, input_shape=None):
        if self.built:
            return
        k, d = self.num_classes, self.dim
        self.means = self.add_weight(name="means", shape=(k, d), initializer="zeros",
                                     trainable=False, dtype="float32")
        self.scale_trils = self.add_weight(
            name="scale_trils", shape=(k, d, d), trainable=False, dtype="float32",
            # Materialized (not a broadcast view, which PyTorch cannot assign into).
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(
                np.tile(np.eye(d, dtype="float32"), (k, 1, 1)), dtype=dtype))
        self.fitted = self.add_weight(name="fitted", shape=(), initializer="zeros", trainable=False,
                                      dtype="float32")
        self.built = True

    @property
    def is_fitted(self):
        """Whether `fit` has set the Gaussians (read eagerly)."""
        self.build()
        return bool(ops.convert_to_numpy(self.fitted) > 0)

    def fit(self, codes, labels=None):
        """Set each class's mean and covariance to those of its codes.

        Args:
            codes: float array `(N, dim)`.
            labels: None (one class) or ints `(N,)` in `[0, num_classes)`;
                every class needs at least `dim + 1` codes.

        Raises:
            ValueError: codes of the wrong shape, missing labels, or a
                class with too few codes for its covariance.
        """
        self.build()
        codes = np.asarray(codes, dtype="float64")
        if codes.ndim != 2 or codes.shape[1] != self.dim:
            raise ValueError(f"`codes` must have shape (N, {self.dim}). Received: shape={codes.shape}")
        if labels is None:
            if self.num_classes != 1:
                raise ValueError(f"Fitting {self.num_classes} class Gaussians needs the codes' `labels`.")
            labels = np.zeros(len(codes), dtype="int64")
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(codes):
            raise ValueError(f"`labels` must have one entry per code ({len(codes)}). Received: {len(labels)}")
        means = np.zeros((self.num_classes, self.dim))
        trils = np.zeros((self.num_classes, self.dim, self.dim))
        for k in range(self.num_classes):
            part = codes[labels == k]
            if len(part) <= self.dim:
                raise ValueError(
                    f"Class {k} has {len(part)} codes; a {self.dim}-d covariance needs at least "
                    f"{self.dim + 1}. Fit on more images of every class.")
            means[k] = part.mean(axis=0)
            covariance = np.cov(part, rowvar=False) + 1e-6 * np.eye(self.dim)
            trils[k] = np.linalg.cholesky(covariance)
        self.means.assign(means.astype("float32"))
        self.scale_trils.assign(trils.astype("float32"))
        self.fitted.assign(1.0)

    def draw(self, classes, noise, temperature=1.0):
        """Codes `(n, dim)` of `classes` `(n,)` from standard normal `noise`
        `(n, dim)`: `mean + temperature * L @ noise` per row, `L` the
        Cholesky factor of the class's covariance."""
        classes = ops.cast(classes, "int32")
        mean = ops.take(self.means, classes, axis=0)
        tril = ops.take(self.scale_trils, classes, axis=0)
        noise = ops.cast(noise, "float32")
        return mean + float(temperature) * ops.einsum("nij,nj->ni", tril, noise)

    def call(self, noise, classes=None):
        """`draw(classes, noise)` at temperature 1; no `classes`: class 0."""
        if classes is None:
            classes = ops.zeros(ops.shape(noise)[:1], "int32")
        return self.draw(classes, noise)

    def compute_output_spec(self, noise, classes=None):
        return keras.KerasTensor(noise.shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dim": self.dim})
        return config
