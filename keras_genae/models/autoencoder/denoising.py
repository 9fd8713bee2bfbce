"""Denoising autoencoder."""

from keras import ops
import keras

from keras_genae.training.distribution import batch_random
from keras_genae.models.autoencoder.autoencoder import Autoencoder
from keras_genae.models.base import register_architecture
from keras_genae.utils.validation import check_choice


@register_architecture
class DenoisingAutoencoder(Autoencoder):
    """Autoencoder trained to restore clean images from corrupted ones.

    The corruption is applied only in the train step; the loss compares the
    reconstruction of the corrupted input with the clean input. At inference,
    `reconstruct(noisy)` returns a cleaned image.

    Args:
        noise_type: `"gaussian"` (additive noise of std `noise_level`,
            clipped to [0, 1]) or `"masking"` (each pixel set to 0 with
            probability `noise_level`). Defaults to `"gaussian"`.
        noise_level: float. Noise std or masking probability.
            Defaults to `0.3`.
        **kwargs: every argument of `Autoencoder`.

    References:
        - [Vincent et al., 2008](https://doi.org/10.1145/1390156.1390294)

    Example:
    >>> import numpy as np
    >>> model = keras_genae.models.DenoisingAutoencoder(
    ...     image_shape=(28, 28, 1), noise_type="masking", noise_level=0.5)
    >>> x = np.random.rand(8, 28, 28, 1).astype("float32")
    >>> noisy = model.corrupt(x, seed=0)
    >>> model.reconstruct(noisy).shape
    TensorShape([8, 28, 28, 1])
    """

    def __init__(self, image_shape, noise_type="gaussian", noise_level=0.3, **kwargs):
        check_choice(noise_type, "noise_type", {"gaussian", "masking"})
        if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or not (
            0 < noise_level <= (1 if noise_type == "masking" else float("inf"))
        ):
            raise ValueError(
                "`noise_level` must be a positive number (a probability in (0, 1] "
                f"for masking noise). Received: noise_level={noise_level!r}"
            )
        self.noise_type = noise_type
        self.noise_level = float(noise_level)
        super().__init__(image_shape=image_shape, **kwargs)

    def corrupt(self, x, seed=None):
        """Corrupt a batch of images in [0, 1] with the training noise.

        Args:
            x: images in [0, 1].
            seed: int or None. Fixed seed; `None` uses the model's
                `SeedGenerator`.
        """
        x = ops.convert_to_tensor(x)
        x = ops.cast(x, "float32")
        seed = self._sample_seed(seed)
        if self.noise_type == "gaussian":
            noise = batch_random(
                keras.random.normal, ops.shape(x), stddev=self.noise_level, seed=seed
            )
            return ops.clip(x + noise, 0.0, 1.0)
        keep = batch_random(keras.random.uniform, ops.shape(x), seed=seed) >= self.noise_level
        return x * ops.cast(keep, x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"noise_type": self.noise_type, "noise_level": self.noise_level})
        return config
