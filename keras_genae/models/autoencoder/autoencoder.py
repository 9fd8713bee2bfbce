"""Deterministic convolutional autoencoder."""

from keras import ops

from keras_genae.layers.blocks import DenseBottleneck
from keras_genae.metrics import mean_psnr
from keras_genae.models.backbone import attach_conv_backbone
from keras_genae.models.backbone import backbone_config
from keras_genae.models.base import GenerativeAutoencoder
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.losses import reconstruction_error
from keras_genae.utils.validation import check_choice
from keras_genae.utils.validation import check_positive_int


@register_architecture
class Autoencoder(GenerativeAutoencoder):
    """Convolutional autoencoder with a dense latent vector.

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`; height and
            width must be divisible by `2**len(encoder_filters)`.
        latent_dim: int. Size of the latent vector. Defaults to `32`.
        encoder_filters: sequence of int. Channels of each downsampling
            level. Defaults to `(32, 64)`.
        decoder_filters: sequence of int or None. Channels of each upsampling
            level; `None` mirrors `encoder_filters`. Defaults to `None`.
        num_res_blocks: int. Residual blocks at the lowest resolution of the
            encoder and of the decoder. Defaults to `0`.
        use_batchnorm: bool. Batch normalization in the conv stacks.
            Defaults to `False`.
        reconstruction_loss: `"bce"` (per-pixel binary cross-entropy) or
            `"mse"`. Defaults to `"bce"`.
        seed: int or None. Seed of the model's random ops. Defaults to `None`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [Hinton & Salakhutdinov, 2006](https://doi.org/10.1126/science.1127647)

    Example:
    >>> import numpy as np
    >>> model = keras_genae.models.Autoencoder(image_shape=(28, 28, 1))
    >>> model.compile()
    >>> x = np.random.rand(64, 28, 28, 1).astype("float32")
    >>> history = model.fit(x, epochs=1, verbose=0)
    >>> model.reconstruct(x[:4]).shape
    TensorShape([4, 28, 28, 1])
    """

    loss_terms = ("loss", "reconstruction_loss", "mse")
    reports_psnr = True
    # benchmarks/results/transfer_sweep.md: 3e-4 was best for ae_mnist and dae_mnist.
    default_finetuning = FineTuning(learning_rate=3e-4)

    def __init__(
        self,
        image_shape,
        latent_dim=32,
        encoder_filters=(32, 64),
        decoder_filters=None,
        num_res_blocks=0,
        use_batchnorm=False,
        reconstruction_loss="bce",
        seed=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        check_positive_int(latent_dim, "latent_dim")
        check_choice(reconstruction_loss, "reconstruction_loss", {"bce", "mse"})
        self.latent_dim = latent_dim
        self.reconstruction_loss = reconstruction_loss
        feature_shape = attach_conv_backbone(
            self, encoder_filters, decoder_filters, num_res_blocks, use_batchnorm
        )
        self.to_latent = DenseBottleneck(
            units=self.latent_head_units(), mode="flatten",
            dtype=self.dtype_policy, name="to_latent",
        )
        self.from_latent = DenseBottleneck(
            target_shape=(feature_shape[0], feature_shape[1], self.decoder_filters[0]),
            mode="unflatten", dtype=self.dtype_policy, name="from_latent",
        )
        self.build()

    @property
    def output_activation(self):
        return "sigmoid" if self.reconstruction_loss == "bce" else "linear"

    def latent_head_units(self):
        return self.latent_dim

    def _encode(self, x, training=False):
        """Latent vectors `(batch, latent_dim)` of images in [0, 1]."""
        return self.to_latent(self.encoder(x, training=training))

    def decode_raw(self, z, training=False):
        """The decoder's pre-activation output for latents `z`, in the
        compute dtype: Bernoulli logits when `output_activation` is
        `"sigmoid"` (`decode` applies the sigmoid), the image itself,
        unclipped, when it is `"linear"` (`decode` clips it to [0, 1])."""
        return self.decoder(self.from_latent(z), training=training)

    def decode(self, z, training=False):
        """Map latent vectors to images in [0, 1]."""
        return self.images_from_output(self.decode_raw(z, training=training))

    def compute_losses(self, x, training=False):
        x = ops.cast(x, self.compute_dtype)
        x_in = self.corrupt(x) if training else x
        return self.reconstruction_statistics(x, self.decode_raw(self._encode(x_in, training), training))

    def reconstruction_statistics(self, x, logits):
        """`loss` (= `reconstruction_loss`), `mse` and `psnr` of the
        decoder's raw output `logits` against the images `x`."""
        target = ops.cast(x, "float32")
        rec = reconstruction_error(target, logits, self.reconstruction_loss)
        images = self.images_from_output(logits)
        mse = ops.mean(ops.square(target - images))
        return {"loss": rec, "reconstruction_loss": rec, "mse": mse, "psnr": mean_psnr(target, images)}

    def corrupt(self, x, seed=None):
        """The input corruption applied during training (none here)."""
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                **backbone_config(self),
                "reconstruction_loss": self.reconstruction_loss,
            }
        )
        return config
