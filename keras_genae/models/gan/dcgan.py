"""Deep convolutional GAN (DCGAN)."""

import functools

import keras
from keras import layers
from keras import ops

from keras_genae.training.distribution import batch_random
from keras_genae.models.base import GenerativeModel
from keras_genae.models.base import TrainPhase
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.gan.adversarial import MultiOptimizerMixin
from keras_genae.models.gan.adversarial import discriminator_accuracy
from keras_genae.models.gan.adversarial import discriminator_loss
from keras_genae.models.gan.adversarial import int_tuple
from keras_genae.models.gan.adversarial import sigmoid_cross_entropy
from keras_genae.utils.validation import check_choice
from keras_genae.utils.validation import check_positive_int


@register_architecture
class DCGAN(MultiOptimizerMixin, GenerativeModel):
    """Deep convolutional GAN, with the non-saturating loss.

    The generator maps `z ~ N(0, I)` through `Dense -> BatchNorm ->
    LeakyReLU -> Reshape` to a `(H / 2**L, W / 2**L, generator_filters[0])`
    map (`L = len(generator_filters)`), then through `L - 1` blocks of
    `Conv2DTranspose (stride 2) -> BatchNorm -> LeakyReLU`, and a last
    stride-2 `Conv2DTranspose` to the image channels with a tanh (mapped
    to [0, 1] by `(t + 1) / 2`) or sigmoid output. The discriminator is a
    stack of stride-2 `Conv2D -> LeakyReLU(0.2)` and a dense logit; it sees
    images rescaled to [-1, 1] and has no batch normalization, so the
    generator phase changes none of its state.

    Each train step runs `discriminator_steps` discriminator phases (each
    on the same real batch, with fresh noise; loss
    `BCE(D(x), 1 - label_smoothing) + BCE(D(G(z)), 0)`, `d_optimizer`),
    then one generator phase (`BCE(D(G(z)), 1)`, the non-saturating loss,
    `g_optimizer`). The logs hold `discriminator_loss`, `generator_loss`
    and `discriminator_accuracy`; a GAN has no single `loss`.

    A GAN has no encoder: its `capabilities` are `decode` and `sample`, and
    it has no `encode` or `reconstruct` method. `decode(z)` runs the
    generator on latents `(batch, latent_dim)`; `sample_latents(n)` draws
    them from the N(0, I) prior and `sample(n)` decodes those draws.
    Calling the model, `gan(z)`, and `gan.predict(z)` take latents too and
    return images, like `decode`.

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`; height and
            width must be divisible by `2**len(generator_filters)`.
        latent_dim: int. Size of the noise vector. Defaults to `100`.
        generator_filters: sequence of int. Channels of the generator's
            feature maps, from the lowest resolution up. Defaults to
            `(128, 64)`.
        discriminator_filters: sequence of int. Channels of the
            discriminator's stride-2 convolutions. Defaults to `(64, 128)`.
        kernel_size: int. Kernel size of every convolution. Defaults to `4`.
        output_activation: `"tanh"` or `"sigmoid"`. Defaults to `"tanh"`.
        label_smoothing: float in [0, 1). One-sided label smoothing: the
            discriminator's target for real images is `1 - label_smoothing`.
            Defaults to `0.0`.
        discriminator_steps: int. Discriminator phases per generator phase.
            Defaults to `1`.
        seed: int or None. Seed of the model's random ops. Defaults to `None`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [Goodfellow et al., 2014](https://arxiv.org/abs/1406.2661)
        - [Radford et al., 2015](https://arxiv.org/abs/1511.06434)
        - [Salimans et al., 2016](https://arxiv.org/abs/1606.03498)
          (one-sided label smoothing)

    Example:
    >>> import numpy as np
    >>> gan = keras_genae.models.DCGAN(image_shape=(28, 28, 1), latent_dim=32)
    >>> gan.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> x = np.random.rand(64, 28, 28, 1).astype("float32")
    >>> history = gan.fit(x, epochs=1, verbose=0)
    >>> gan.sample(4, seed=0).shape
    TensorShape([4, 28, 28, 1])
    """

    # benchmarks/results/transfer_phases.md: dcgan_mnist fine-tuned on 1,024
    # Fashion-MNIST images reached a Frechet distance of 16.8 at its
    # from-scratch rates, 25.2 at 0.3x and 28.0 at 0.1x.
    default_finetuning = FineTuning(phase_learning_rates=(("d_optimizer", 2e-4), ("g_optimizer", 2e-4)))
    capabilities = frozenset({"decode", "sample"})
    loss_terms = ("discriminator_loss", "generator_loss")
    optimizer_names = ("g_optimizer", "d_optimizer")

    def __init__(
        self,
        image_shape,
        latent_dim=100,
        generator_filters=(128, 64),
        discriminator_filters=(64, 128),
        kernel_size=4,
        output_activation="tanh",
        label_smoothing=0.0,
        discriminator_steps=1,
        seed=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        check_positive_int(latent_dim, "latent_dim")
        check_positive_int(kernel_size, "kernel_size")
        check_positive_int(discriminator_steps, "discriminator_steps")
        check_choice(output_activation, "output_activation", {"tanh", "sigmoid"})
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, (int, float))
            or not 0 <= label_smoothing < 1
        ):
            raise ValueError(
                "`label_smoothing` must be a number in [0, 1). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        self.latent_dim = latent_dim
        self.generator_filters = list(int_tuple(generator_filters, "generator_filters"))
        self.discriminator_filters = list(
            int_tuple(discriminator_filters, "discriminator_filters")
        )
        self.kernel_size = kernel_size
        self.output_activation = output_activation
        self.label_smoothing = float(label_smoothing)
        self.discriminator_steps = discriminator_steps
        factor = 2 ** len(self.generator_filters)
        h, w, c = self.image_shape
        if h % factor or w % factor:
            raise ValueError(
                f"The image height and width must be divisible by "
                f"2**len(generator_filters)={factor}. Received: "
                f"image_shape={self.image_shape}, "
                f"generator_filters={self.generator_filters}. Use fewer levels."
            )
        self.g_optimizer = None
        self.d_optimizer = None
        self.generator = self._make_generator(h // factor, w // factor, c)
        self.discriminator = self._make_discriminator()
        self.build()

    def _make_generator(self, h0, w0, channels):
        dt, k = self.dtype_policy, self.kernel_size
        f = self.generator_filters
        stack = [
            layers.Dense(h0 * w0 * f[0], use_bias=False, dtype=dt, name="project"),
            layers.BatchNormalization(momentum=0.9, dtype=dt, name="project_bn"),
            layers.LeakyReLU(0.2, dtype=dt, name="project_act"),
            layers.Reshape((h0, w0, f[0]), dtype=dt, name="reshape"),
        ]
        for i, filters in enumerate(f[1:]):
            stack += [
                layers.Conv2DTranspose(
                    filters, k, strides=2, padding="same", use_bias=False,
                    dtype=dt, name=f"up_{i}",
                ),
                layers.BatchNormalization(momentum=0.9, dtype=dt, name=f"bn_{i}"),
                layers.LeakyReLU(0.2, dtype=dt, name=f"act_{i}"),
            ]
        # Pre-activation output; `output_activation` is applied in `decode`.
        stack.append(
            layers.Conv2DTranspose(
                channels, k, strides=2, padding="same", dtype=dt, name="to_image"
            )
        )
        return keras.Sequential(stack, name="generator")

    def _make_discriminator(self):
        dt, k = self.dtype_policy, self.kernel_size
        stack = []
        for i, filters in enumerate(self.discriminator_filters):
            stack += [
                layers.Conv2D(filters, k, strides=2, padding="same", dtype=dt, name=f"down_{i}"),
                layers.LeakyReLU(0.2, dtype=dt, name=f"act_{i}"),
            ]
        stack += [
            layers.Flatten(dtype=dt, name="flatten"),
            layers.Dense(1, dtype=dt, name="logit"),
        ]
        return keras.Sequential(stack, name="discriminator")

    def build_layers(self, x):
        self.discriminator(x)
        self.generator(keras.KerasTensor((None, self.latent_dim)))

    def default_optimizer(self, name):
        # Radford et al., 2015.
        return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)

    def compile(self, g_optimizer=None, d_optimizer=None, optimizer=None, **kwargs):
        """Compile with a generator and a discriminator optimizer.

        Args:
            g_optimizer: optimizer of the generator phase. Defaults to
                `Adam(2e-4, beta_1=0.5)`.
            d_optimizer: optimizer of the discriminator phases. Same default.
            optimizer: optional template: each of `g_optimizer` and
                `d_optimizer` left as None gets its own copy of it.
            **kwargs: other `keras.Model.compile` arguments (`run_eagerly`,
                `jit_compile`, `steps_per_execution`).
        """
        self.compile_optimizers(
            {"g_optimizer": g_optimizer, "d_optimizer": d_optimizer},
            optimizer=optimizer,
            **kwargs,
        )

    def build_extra_metrics(self):
        return [keras.metrics.Mean(name="discriminator_accuracy")]

    # ------------------------------------------------------------- networks
    def call(self, z, training=False):
        """Generate images from latents: `gan(z)` and `gan.predict(z)` are
        `decode(z)`."""
        return self.decode(z, training=training)

    def decode_raw(self, z, training=False):
        """The generator's pre-activation output `(batch, H, W, C)` for
        latents `z`, in float32: `decode` maps it to [0, 1] with
        `(tanh(h) + 1) / 2` or `sigmoid(h)` (`output_activation`)."""
        shape = z.shape
        if getattr(shape, "rank", 0) is None:  # a TF trace relaxed to an unknown rank
            shape = None
        if shape is not None and (len(shape) != 2 or shape[-1] not in (None, self.latent_dim)):
            raise ValueError(
                f"`z` must have shape (batch, {self.latent_dim}). "
                f"Received: z.shape={tuple(shape)}"
            )
        return ops.cast(self.generator(ops.cast(z, self.compute_dtype), training=training), "float32")

    def decode(self, z, training=False):
        """Generate images in [0, 1] from latent vectors `(batch, latent_dim)`."""
        h = self.decode_raw(z, training=training)
        if self.output_activation == "tanh":
            return 0.5 * (ops.tanh(h) + 1.0)
        return ops.sigmoid(h)

    def discriminate(self, x, training=False):
        """Discriminator logits `(batch, 1)` of images in [0, 1]."""
        return self._discriminate(self._check_call_input(x), training)

    def _discriminate(self, x, training=False):
        x = 2.0 * ops.cast(x, self.compute_dtype) - 1.0
        return ops.cast(self.discriminator(x, training=training), "float32")

    def _sample_latents(self, n, seed=None):
        """`n` draws `(n, latent_dim)` from the N(0, I) noise prior."""
        return batch_random(keras.random.normal, (n, self.latent_dim), seed=self._sample_seed(seed))

    # --------------------------------------------------------------- losses
    def discriminator_terms(self, x, training=False):
        """Loss and accuracy of the discriminator on `x` and on fakes."""
        fake = ops.stop_gradient(self.decode(self._sample_latents(ops.shape(x)[0]), training))
        real_logits = self._discriminate(x, training)
        fake_logits = self._discriminate(fake, training)
        return {
            "discriminator_loss": discriminator_loss(
                real_logits, fake_logits, 1.0 - self.label_smoothing
            ),
            "discriminator_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }

    def generator_terms(self, x, training=False):
        """Non-saturating generator loss `BCE(D(G(z)), 1)`; `x` gives the
        batch size."""
        fake = self.decode(self._sample_latents(ops.shape(x)[0]), training)
        return {"generator_loss": sigmoid_cross_entropy(self._discriminate(fake, training), 1.0)}

    def compute_losses(self, x, training=False):
        terms = self.discriminator_terms(x, training)
        terms.update(self.generator_terms(x, training))
        return terms

    def train_phases(self):
        self._check_compiled()
        d_phase = TrainPhase(
            name="discriminator",
            objective="discriminator_loss",
            variables=self.discriminator.trainable_variables,
            optimizer=self.d_optimizer,
            loss_fn=functools.partial(self.discriminator_terms, training=True),
        )
        g_phase = TrainPhase(
            name="generator",
            objective="generator_loss",
            variables=self.generator.trainable_variables,
            optimizer=self.g_optimizer,
            loss_fn=functools.partial(self.generator_terms, training=True),
        )
        return [d_phase] * self.discriminator_steps + [g_phase]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "generator_filters": list(self.generator_filters),
                "discriminator_filters": list(self.discriminator_filters),
                "kernel_size": self.kernel_size,
                "output_activation": self.output_activation,
                "label_smoothing": self.label_smoothing,
                "discriminator_steps": self.discriminator_steps,
            }
        )
        return config
