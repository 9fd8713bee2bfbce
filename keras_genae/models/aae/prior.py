"""How an adversarial autoencoder draws its latents: from its prior (at a
temperature), or from Gaussians fitted to its codes after training (ex-post
density estimation). `AAESampling` is a mixin of `AdversarialAutoencoder`."""

import math

import keras
import numpy as np
from keras import ops

from keras_genae.data.batches import iter_batches
from keras_genae.training.distribution import batch_random
from keras_genae.utils.validation import check_positive_float

# Mixture prior: component means on a circle of this radius in the plane of
# the first two latent dimensions, each component with this std.
MIXTURE_RADIUS = 2.0
MIXTURE_STD = 0.5


class AAESampling:
    """The prior draws and the ex-post code density of
    `AdversarialAutoencoder` (which sets `prior`, `prior_components`,
    `latent_dim`, `decoder_classes`, `temperature`, `ex_post_density` and,
    with the latter, the `code_density` layer)."""

    def sampler_options(self, n, labels=None, temperature=None):
        """`labels` (class-conditional models only) as int32 numpy `(n,)`
        or None (uniform classes), and `temperature` as a float (None: the
        model's `temperature`).

        Raises:
            ValueError: a bad option, or a model with `ex_post_density`
                whose code density was never fitted.
        """
        temperature = self.temperature if temperature is None else temperature
        check_positive_float(temperature, "temperature")
        if self.ex_post_density and not self.code_density.is_fitted:
            raise ValueError(
                f"This {type(self).__name__} samples from Gaussians fitted to its codes "
                "(`ex_post_density=True`), which are not fitted yet: call "
                "`model.fit_code_density(images, labels)` on its training images first "
                "(`genae train` does it after the last epoch).")
        return {**super().sampler_options(n, labels=labels), "temperature": float(temperature)}

    def _sample_latents(self, n, seed=None, labels=None, temperature=None):
        """`n` latents `(n, latent_size)` in float32: codes drawn at
        `temperature` (None: the model's) from the fitted code density, or
        else from the prior (from the mixture components `labels` where
        given), then, for a supervised model, the one-hot of `labels`
        (uniform classes where None)."""
        seed = self._sample_seed(seed)
        # Two random ops need two different int seeds; a generator advances.
        seeds = (seed, seed + 1) if isinstance(seed, int) else (seed, seed)
        scale = self.temperature if temperature is None else temperature
        if self.ex_post_density:
            if labels is None:  # drawn once: the density's class is the decoder's
                labels = batch_random(keras.random.randint, (n,), minval=0,
                                      maxval=self.code_density.num_classes, seed=seeds[0])
            noise = batch_random(keras.random.normal, (n, self.latent_dim), seed=seeds[1])
            z = self.code_density.draw(labels, noise, scale)
        else:
            z = self._draw_codes(n, seeds, labels, scale)
        return self._with_class_code(z, n, labels, seeds[1]) if self.decoder_classes else z

    def _draw_codes(self, n, seeds, labels=None, temperature=1.0):
        """`n` codes `(n, latent_dim)` from the prior, in float32, its
        noise scaled by `temperature`."""
        shape = (n, self.latent_dim)
        if self.prior == "gaussian":
            return self.prior_draws(batch_random(keras.random.normal, shape, seed=seeds[0]), temperature)
        if self.prior == "uniform":
            return self.prior_draws(batch_random(
                keras.random.uniform, shape, minval=-1.0, maxval=1.0, seed=seeds[0]), temperature)
        k = labels
        if k is None:
            k = batch_random(
                keras.random.randint, (n,), minval=0, maxval=self.prior_components, seed=seeds[0]
            )
        return self.prior_draws(batch_random(keras.random.normal, shape, seed=seeds[1]),
                                temperature, components=k)

    def prior_draws(self, noise, temperature=None, components=None):
        """The prior's draws from its standard `noise` `(n, latent_dim)`
        (N(0, I); U(-1, 1) for a uniform prior) at `temperature` (None: the
        model's): `temperature * noise`, or for the mixture prior the mean
        of `components` `(n,)` (on a circle of radius 2 in the first two
        dimensions) plus `0.5 * temperature * noise`."""
        scale = self.temperature if temperature is None else float(temperature)
        if self.prior != "mixture":
            return noise * scale if scale != 1.0 else noise
        angle = ops.cast(components, "float32") * (2.0 * math.pi / self.prior_components)
        mean = MIXTURE_RADIUS * ops.stack([ops.cos(angle), ops.sin(angle)], axis=-1)
        mean = ops.pad(mean, [[0, 0], [0, self.latent_dim - 2]])
        return mean + (MIXTURE_STD * scale) * noise

    # ------------------------------------------------------ ex-post density
    def fit_code_density(self, x, labels=None, batch_size=256):
        """Fit the code density (`ex_post_density=True`) to the codes of
        images: one full-covariance Gaussian per class of `labels` (a
        class-conditional model), or one for all codes.

        Args:
            x: float images in [0, 1] `(N, H, W, C)`, or a `tf.data.Dataset`
                of images or of `(images, labels)`, batched or not, such as
                `keras_genae.data.load_dataset(..., with_labels=True)`.
            labels: ints `(N,)` with an array `x`; None for a dataset.
            batch_size: int. Images per encoder call. Defaults to `256`.

        Returns:
            The number of codes fitted.

        Example:
        >>> aae.fit(x_train, y_train, epochs=10)
        >>> aae.fit_code_density(x_train, y_train)
        >>> images = aae.sample(16, labels=3)
        """
        if not self.ex_post_density:
            raise ValueError(
                f"This {type(self).__name__} samples from its prior; build it with "
                "`ex_post_density=True` to fit a code density.")
        images, classes = _images_and_labels(x, labels)
        if self.num_classes and classes is None:
            raise ValueError(
                f"A class-conditional {type(self).__name__} fits one Gaussian per class: pass "
                "the images' `labels` (or a dataset of (images, labels)).")
        codes = ops.convert_to_numpy(self.encode(images, batch_size=batch_size))[:, :self.latent_dim]
        self.code_density.fit(codes, classes if self.num_classes else None)
        return len(codes)

    def finish_training(self, data):
        """Fit the code density to the training data (`ex_post_density`)."""
        if self.ex_post_density:
            self.fit_code_density(data)


def _images_and_labels(x, labels):
    """`(images, labels or None)` as numpy arrays, from the forms
    `iter_batches` reads."""
    images, classes = [], []
    for batch, y in iter_batches(x if labels is None else (x, labels)):
        images.append(batch)
        if y is not None:
            classes.append(np.asarray(y).reshape(-1))
    return np.concatenate(images), np.concatenate(classes) if classes else None
