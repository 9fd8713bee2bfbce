"""Variational autoencoder (and beta-VAE)."""

import math

import keras
from keras import ops

from keras_genae.training.distribution import batch_random
from keras_genae.metrics import mean_psnr
from keras_genae.models.autoencoder.autoencoder import Autoencoder
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.losses import bernoulli_nll
from keras_genae.models.losses import gaussian_kl
from keras_genae.models.losses import gaussian_nll
from keras_genae.utils.validation import check_choice
from keras_genae.utils.validation import check_non_negative_float


@register_architecture
class VAE(Autoencoder):
    """Variational autoencoder with a diagonal Gaussian posterior and an
    N(0, I) prior.

    The encoder outputs the mean and log-variance of q(z|x). In the train
    step, `z = mean + exp(0.5 * log_var) * eps` is drawn with the model's
    `SeedGenerator` (the reparameterization trick), and the loss is
    `reconstruction_loss + beta * kl_loss`. Both terms are in nats per
    image, and `neg_elbo` (the negative ELBO, `beta = 1`) is reported too.

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`.
        latent_dim: int. Size of the latent vector. Defaults to `16`.
        likelihood: `"bernoulli"` (binary cross-entropy from logits, for
            binary or near-binary images such as MNIST) or `"gaussian"`
            (fixed-variance Gaussian, an MSE scaled by
            `1 / (2 * gaussian_sigma**2)`). Defaults to `"bernoulli"`.
        gaussian_sigma: float. Standard deviation of the Gaussian
            likelihood. Defaults to `0.1`.
        beta: float. Weight of the KL term; `beta > 1` gives a beta-VAE.
            Defaults to `1.0`.
        encoder_filters, decoder_filters, num_res_blocks, use_batchnorm,
        seed: as for `Autoencoder`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [Kingma & Welling, 2013](https://arxiv.org/abs/1312.6114)
        - [Higgins et al., 2017](https://openreview.net/forum?id=Sy2fzU9gl)
          (beta-VAE)

    Example:
    >>> import numpy as np
    >>> vae = keras_genae.models.VAE(image_shape=(28, 28, 1), latent_dim=8)
    >>> vae.compile()
    >>> x = np.random.rand(64, 28, 28, 1).astype("float32")
    >>> history = vae.fit(x, epochs=1, verbose=0)
    >>> vae.sample(4, seed=0).shape
    TensorShape([4, 28, 28, 1])
    """

    capabilities = frozenset({"encode", "decode", "reconstruct", "sample"})
    loss_terms = ("loss", "reconstruction_loss", "kl_loss", "neg_elbo", "mse")
    # benchmarks/results/transfer_sweep.md: the Bernoulli VAEs did best at
    # 3e-4, the Gaussian vae_cifar10 only kept its PSNR at 3e-5; 1e-4 is the
    # family's middle ground (the zoo recipes set their own).
    default_finetuning = FineTuning(learning_rate=1e-4)

    def __init__(
        self,
        image_shape,
        latent_dim=16,
        likelihood="bernoulli",
        gaussian_sigma=0.1,
        beta=1.0,
        **kwargs,
    ):
        check_choice(likelihood, "likelihood", {"bernoulli", "gaussian"})
        check_non_negative_float(beta, "beta")
        if isinstance(gaussian_sigma, bool) or not isinstance(
            gaussian_sigma, (int, float)
        ) or gaussian_sigma <= 0:
            raise ValueError(
                "`gaussian_sigma` must be a positive number. "
                f"Received: gaussian_sigma={gaussian_sigma!r}"
            )
        self.likelihood = likelihood
        self.gaussian_sigma = float(gaussian_sigma)
        self.beta = float(beta)
        # The likelihood defines the reconstruction term of a VAE.
        kwargs.pop("reconstruction_loss", None)
        kwargs["reconstruction_loss"] = "bce" if likelihood == "bernoulli" else "mse"
        super().__init__(image_shape=image_shape, latent_dim=latent_dim, **kwargs)

    def latent_head_units(self):
        return 2 * self.latent_dim

    def encode_distribution(self, x, training=False):
        """Return `(mean, log_var)` of q(z|x), each `(batch, latent_dim)`."""
        x = self._check_call_input(x)
        return self._posterior(x, training)

    def _posterior(self, x, training=False):
        h = self.to_latent(self.encoder(x, training=training))
        mean, log_var = ops.split(ops.cast(h, "float32"), 2, axis=-1)
        return mean, log_var

    def _encode(self, x, training=False):
        """The posterior mean, the deterministic code of `x`."""
        return self._posterior(x, training)[0]

    def reparameterize(self, mean, log_var, seed=None):
        """Draw `z = mean + exp(0.5 * log_var) * eps`, `eps ~ N(0, I)`."""
        eps = batch_random(keras.random.normal, ops.shape(mean), seed=self._sample_seed(seed))
        return mean + ops.exp(0.5 * log_var) * eps

    def _sample_latents(self, n, seed=None):
        """`n` draws `(n, latent_dim)` from the N(0, I) prior, float32."""
        return keras.random.normal((n, self.latent_dim), seed=self._sample_seed(seed))

    def log_likelihood(self, x, logits):
        """log p(x|z) per image in nats, from the decoder's raw output
        (Bernoulli logits, or the Gaussian mean)."""
        if self.likelihood == "bernoulli":
            return -bernoulli_nll(x, logits)
        return -gaussian_nll(x, logits, self.gaussian_sigma)

    def compute_losses(self, x, training=False):
        x = ops.cast(x, self.compute_dtype)
        mean, log_var = self._posterior(x, training)
        z = self.reparameterize(mean, log_var)
        logits = self.decode_raw(ops.cast(z, self.compute_dtype), training)
        target = ops.cast(x, "float32")
        rec = ops.mean(-self.log_likelihood(target, logits))
        kl = ops.mean(gaussian_kl(mean, log_var))
        images = self.images_from_output(logits)
        mse = ops.mean(ops.square(target - images))
        if not training:
            # Logged as val_psnr: the deterministic reconstruction, from the
            # posterior mean (what `reconstruct` returns).
            images = self.images_from_output(self.decode_raw(ops.cast(mean, self.compute_dtype)))
        return {
            "psnr": mean_psnr(target, images),
            "loss": rec + self.beta * kl,
            "reconstruction_loss": rec,
            "kl_loss": kl,
            "neg_elbo": rec + kl,
            "mse": mse,
        }

    def get_config(self):
        config = super().get_config()
        config.pop("reconstruction_loss")
        config.update(
            {
                "likelihood": self.likelihood,
                "gaussian_sigma": self.gaussian_sigma,
                "beta": self.beta,
            }
        )
        return config


def nats_to_bits_per_dim(nats, num_dims):
    """Convert a per-image NLL in nats to bits per dimension."""
    return nats / (num_dims * math.log(2.0))
