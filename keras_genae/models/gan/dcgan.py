"""Deep convolutional GAN (DCGAN)."""

import functools

import keras
from keras import ops

from keras_genae.training.distribution import batch_random
from keras_genae.models.base import GenerativeModel
from keras_genae.models.base import TrainPhase
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.gan.adversarial import ClassConditioning
from keras_genae.models.gan.adversarial import MultiOptimizerMixin
from keras_genae.models.gan.adversarial import discriminator_accuracy
from keras_genae.models.gan.adversarial import discriminator_loss
from keras_genae.models.gan.adversarial import generator_loss
from keras_genae.models.gan.adversarial import hinge_discriminator_loss
from keras_genae.models.gan.adversarial import int_tuple
from keras_genae.models.gan.networks import UPSAMPLING
from keras_genae.models.gan.networks import copy_weights
from keras_genae.models.gan.networks import ema_update
from keras_genae.models.gan.networks import make_discriminator
from keras_genae.models.gan.networks import make_class_projection
from keras_genae.models.gan.networks import make_generator
from keras_genae.models.gan.networks import projection_logits
from keras_genae.utils.validation import check_bool
from keras_genae.utils.validation import check_choice
from keras_genae.utils.validation import check_fraction
from keras_genae.utils.validation import check_non_negative_int
from keras_genae.utils.validation import check_positive_int


@register_architecture
class DCGAN(ClassConditioning, MultiOptimizerMixin, GenerativeModel):
    """Deep convolutional GAN, with the options that make GANs work at
    this scale: a moving average of the generator's weights to sample with,
    spectral normalization, the hinge loss, and resize-convolutions.

    The generator maps `z ~ N(0, I)` through `Dense -> BatchNorm ->
    LeakyReLU -> Reshape` to a `(H / 2**L, W / 2**L, generator_filters[0])`
    map (`L = len(generator_filters)`), then through `L - 1` upsampling
    blocks `-> BatchNorm -> LeakyReLU`, and a last upsampling to the image
    channels with a tanh (mapped to [0, 1] by `(t + 1) / 2`) or sigmoid
    output. An upsampling block is a stride-2 `Conv2DTranspose`
    (`upsampling="transpose"`) or a nearest-neighbour `UpSampling2D` and a
    `Conv2D` (`"resize"`, which cannot make checkerboard artifacts). The
    discriminator is a stack of stride-2 `Conv2D -> LeakyReLU(0.2)` and a
    dense logit, spectrally normalized with `spectral_norm=True`; it sees
    images rescaled to [-1, 1] and has no batch normalization, so the
    generator phase changes none of its state.

    Each train step runs `discriminator_steps` discriminator phases (each
    on the same real batch, with fresh noise; `d_optimizer`), then one
    generator phase (`g_optimizer`). With `loss="non_saturating"` they
    minimize `BCE(D(x), 1 - label_smoothing) + BCE(D(G(z)), 0)` and
    `BCE(D(G(z)), 1)`; with `"hinge"`, `mean(relu(1 - D(x))) + mean(relu(1 +
    D(G(z))))` and `-mean(D(G(z)))`. The logs hold `discriminator_loss`,
    `generator_loss` and `discriminator_accuracy`; a GAN has no single
    `loss`. With `ema_decay > 0`, each generator phase also moves
    `generator_ema`, a moving average of the generator's weights and
    BatchNorm statistics (decay `ema_decay`, with a warm-up), and
    inference (`decode`, `sample`, `predict`) runs it.

    A GAN has no encoder: its `capabilities` are `decode` and `sample`.
    `decode(z)`, `gan(z)` and `gan.predict(z)` run the generator on latents
    `(batch, latent_size)`, which `sample_latents(n)` draws from the prior.

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
        loss: `"non_saturating"` or `"hinge"`. Defaults to
            `"non_saturating"`.
        spectral_norm: bool. Spectrally normalize the discriminator's
            kernels. Defaults to `False`.
        upsampling: `"transpose"` or `"resize"`. Defaults to `"transpose"`.
        ema_decay: float in [0, 1). Decay of the moving average of the
            generator's weights that inference runs; `0` samples with the
            generator itself. Defaults to `0.999`.
        num_classes: int. Classes to condition on; `0` is unconditional.
            A conditional model's latents are the noise followed by the
            one-hot class (`latent_size = latent_dim + num_classes`), its
            discriminator is a projection discriminator, training reads
            labels (`fit(images, labels)`; unlabeled batches train with
            uniform classes and an "unlabeled" projection), and
            `sample(n, labels=...)` draws chosen classes. Defaults to `0`.
        seed: int or None. Seed of the model's random ops. Defaults to `None`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [Goodfellow et al., 2014](https://arxiv.org/abs/1406.2661)
        - [Radford et al., 2015](https://arxiv.org/abs/1511.06434)
        - [Salimans et al., 2016](https://arxiv.org/abs/1606.03498)
          (one-sided label smoothing)
        - [Odena et al., 2016](https://distill.pub/2016/deconv-checkerboard/)
          (resize-convolutions)
        - [Miyato et al., 2018](https://arxiv.org/abs/1802.05957)
          (spectral normalization, the hinge loss)
        - [Yazıcı et al., 2019](https://arxiv.org/abs/1806.04498)
          (the moving average of the generator's weights)
        - [Miyato and Koyama, 2018](https://arxiv.org/abs/1802.05637)
          (the projection discriminator)

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
        loss="non_saturating",
        spectral_norm=False,
        upsampling="transpose",
        ema_decay=0.999,
        num_classes=0,
        seed=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        check_positive_int(latent_dim, "latent_dim")
        check_positive_int(kernel_size, "kernel_size")
        check_positive_int(discriminator_steps, "discriminator_steps")
        check_choice(output_activation, "output_activation", {"tanh", "sigmoid"})
        check_choice(loss, "loss", {"non_saturating", "hinge"})
        check_choice(upsampling, "upsampling", set(UPSAMPLING))
        check_fraction(ema_decay, "ema_decay")
        check_non_negative_int(num_classes, "num_classes")
        check_bool(spectral_norm, "spectral_norm")
        check_fraction(label_smoothing, "label_smoothing")
        if loss == "hinge" and label_smoothing:
            raise ValueError(
                "`label_smoothing` applies to the non-saturating loss only; use "
                f"label_smoothing=0 with loss='hinge'. Received: label_smoothing={label_smoothing!r}")
        self.latent_dim = latent_dim
        self.generator_filters = list(int_tuple(generator_filters, "generator_filters"))
        self.discriminator_filters = list(
            int_tuple(discriminator_filters, "discriminator_filters")
        )
        self.kernel_size = kernel_size
        self.output_activation = output_activation
        self.label_smoothing = float(label_smoothing)
        self.discriminator_steps = discriminator_steps
        # Not `self.loss`: Keras' `compile(loss=...)` writes that attribute.
        self.gan_loss = loss
        self.spectral_norm = spectral_norm
        self.upsampling = upsampling
        self.ema_decay = float(ema_decay)
        self.num_classes = num_classes
        #: Size of a latent vector: the noise, then the class one-hot.
        self.latent_size = latent_dim + num_classes
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
        args = ((h // factor, w // factor), c, self.generator_filters, kernel_size, upsampling,
                self.dtype_policy)
        self.generator = make_generator(*args)
        self.discriminator = make_discriminator(
            self.discriminator_filters, kernel_size, spectral_norm, self.dtype_policy, seed=seed)
        self.class_projection = make_class_projection(
            num_classes, (h, w), self.discriminator_filters, self.dtype_policy)
        self.generator_ema = None
        if self.ema_decay > 0:
            self.generator_ema = make_generator(*args, name="generator_ema")
            self.generator_ema.trainable = False
            self.ema_updates = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="ema_updates")
        self.build()
        if self.generator_ema is not None:
            copy_weights(self.generator_ema, self.generator)

    def build_layers(self, x):
        self.discriminator(x)
        self.generator(keras.KerasTensor((None, self.latent_size)))
        if self.generator_ema is not None:
            self.generator_ema(keras.KerasTensor((None, self.latent_size)))
        if self.class_projection is not None:
            self.class_projection.build((None,))

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
        `(tanh(h) + 1) / 2` or `sigmoid(h)` (`output_activation`). With
        `ema_decay > 0`, inference (`training=False`) runs the moving
        average of the generator's weights, training the generator itself."""
        self._check_latent_vectors(z, self.latent_size, f" (the noise, then the one-hot of "
                                   f"{self.num_classes} classes)" if self.num_classes else "")
        net = self.generator if training or self.generator_ema is None else self.generator_ema
        return ops.cast(net(ops.cast(z, self.compute_dtype), training=training), "float32")

    def decode(self, z, training=False):
        """Generate images in [0, 1] from latent vectors `(batch, latent_size)`."""
        h = self.decode_raw(z, training=training)
        if self.output_activation == "tanh":
            return 0.5 * (ops.tanh(h) + 1.0)
        return ops.sigmoid(h)

    def discriminate(self, x, training=False, labels=None):
        """Discriminator logits `(batch, 1)` of images in [0, 1] (and, for
        a conditional model, of their `labels`; None: unlabeled)."""
        return self._discriminate(self._check_call_input(x), training, labels)

    def _discriminate(self, x, training=False, labels=None):
        x = 2.0 * ops.cast(x, self.compute_dtype) - 1.0
        if self.class_projection is None:
            return ops.cast(self.discriminator(x, training=training), "float32")
        if labels is None:  # the "unlabeled" row
            labels = ops.full((ops.shape(x)[0],), self.num_classes, dtype="int32")
        return ops.cast(projection_logits(self.discriminator, self.class_projection, x, labels,
                                          training), "float32")

    # ---------------------------------------------------------------- prior
    def _sample_latents(self, n, seed=None, labels=None):
        """`n` latents: N(0, I) noise and, for a conditional model, the
        one-hot of `labels` (drawn uniformly where None)."""
        seed = self._sample_seed(seed)
        seeds = (seed, seed + 1) if isinstance(seed, int) else (seed, seed)
        z = batch_random(keras.random.normal, (n, self.latent_dim), seed=seeds[0])
        return self._with_class_code(z, n, labels, seeds[1]) if self.num_classes else z

    # --------------------------------------------------------------- losses
    def _fakes(self, n, labels, training):
        """Fakes for a step: with the batch's labels (a conditional model;
        uniform classes for an unlabeled batch)."""
        return self.decode(self._sample_latents(n, labels=labels), training)

    def discriminator_terms(self, x, training=False, labels=None):
        """Loss and accuracy of the discriminator on `x` and on fakes (of
        the same classes, for a conditional model)."""
        labels = labels if self.num_classes else None
        fake = ops.stop_gradient(self._fakes(ops.shape(x)[0], labels, training))
        real_logits = self._discriminate(x, training, labels)
        fake_logits = self._discriminate(fake, training, labels)
        if self.gan_loss == "hinge":
            d_loss = hinge_discriminator_loss(real_logits, fake_logits)
        else:
            d_loss = discriminator_loss(real_logits, fake_logits, 1.0 - self.label_smoothing)
        return {
            "discriminator_loss": d_loss,
            "discriminator_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }

    def generator_terms(self, x, training=False, labels=None):
        """The generator's loss (`loss`) on fakes; `x` gives the batch size.
        In training, it also moves the weights' average one step towards
        the generator's current weights (those before this phase's update)."""
        labels = labels if self.num_classes else None
        if training and self.generator_ema is not None:
            ema_update(self.generator_ema, self.generator, self.ema_decay, self.ema_updates)
        fake = self._fakes(ops.shape(x)[0], labels, training)
        return {"generator_loss": generator_loss(self._discriminate(fake, training, labels), self.gan_loss)}

    def compute_losses(self, x, training=False, labels=None):
        terms = self.discriminator_terms(x, training, labels)
        terms.update(self.generator_terms(x, training, labels))
        return terms

    def train_phases(self):
        self._check_compiled()
        d_phase = TrainPhase(
            name="discriminator",
            objective="discriminator_loss",
            variables=self.discriminator.trainable_variables + (
                self.class_projection.trainable_variables if self.class_projection else []),
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

    @classmethod
    def from_config(cls, config):
        # A DCGAN saved before the moving average existed has no
        # `ema_decay` in its config, nor the average's weights: it samples
        # with its generator, as it did.
        config = dict(config)
        config.setdefault("ema_decay", 0.0)
        return super().from_config(config)

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
                "loss": self.gan_loss,
                "spectral_norm": self.spectral_norm,
                "upsampling": self.upsampling,
                "ema_decay": self.ema_decay,
                "num_classes": self.num_classes,
            }
        )
        return config
