"""Adversarial autoencoder (AAE)."""

import functools

import keras
from keras import layers
from keras import ops

from keras_genae.layers.code_density import ClassGaussians
from keras_genae.models.aae.prior import AAESampling
from keras_genae.models.autoencoder.autoencoder import Autoencoder
from keras_genae.models.base import TrainPhase
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.gan.adversarial import ClassConditioning
from keras_genae.models.gan.adversarial import MultiOptimizerMixin
from keras_genae.models.gan.adversarial import discriminator_accuracy
from keras_genae.models.gan.adversarial import discriminator_loss
from keras_genae.models.gan.adversarial import int_tuple
from keras_genae.models.gan.adversarial import sigmoid_cross_entropy
from keras_genae.utils.validation import check_bool
from keras_genae.utils.validation import check_choice
from keras_genae.utils.validation import check_non_negative_int
from keras_genae.utils.validation import check_positive_float
from keras_genae.utils.validation import check_positive_int


@register_architecture
class AdversarialAutoencoder(AAESampling, ClassConditioning, MultiOptimizerMixin, Autoencoder):
    """Adversarial autoencoder: a deterministic autoencoder whose codes are
    matched to a prior by a latent discriminator.

    The encoder, decoder and dense latent are those of `Autoencoder`. The
    discriminator is an MLP (`Dense -> LeakyReLU(0.2)` per entry of
    `discriminator_units`, then a dense logit) on latent vectors. Each
    train step runs three phases, in this order:

    1. reconstruction: the encoder and decoder minimize the
       reconstruction loss (`ae_optimizer`);
    2. discriminator: the discriminator learns to tell prior draws (real)
       from encoder codes (fake), with loss
       `BCE(D(z_prior), 1) + BCE(D(E(x)), 0)` (`d_optimizer`);
    3. generator: the encoder is updated to fool the discriminator, with
       the non-saturating loss `BCE(D(E(x)), 1)` (`g_optimizer`).

    The generator phase has its own optimizer rather than sharing
    `ae_optimizer`: the encoder's Adam moments would otherwise mix the
    reconstruction and adversarial gradients, whose scales differ, and the
    step counter would advance twice per batch. Makhzani et al. likewise
    tune the two phases' learning rates apart.

    The logs hold `loss` (the objective of phase 1: the reconstruction
    loss, plus `classification_loss` for a supervised model),
    `reconstruction_loss`, `mse`, `psnr`, `discriminator_loss`,
    `generator_loss` and `discriminator_accuracy`. `sample_latents(n)`
    draws from the prior and `sample(n)` decodes those draws; both take
    `temperature=` (default: the model's `temperature`).

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`.
        latent_dim: int. Size of the latent vector. Defaults to `8`.
        prior: `"gaussian"` (N(0, I)), `"uniform"` (U(-1, 1) per
            dimension) or `"mixture"` (`prior_components` Gaussians of std
            0.5, with means evenly spaced on a circle of radius 2 in the
            plane of the first two latent dimensions; needs
            `latent_dim >= 2`). Defaults to `"gaussian"`.
        prior_components: int. Number of components of the mixture prior.
            Defaults to `10`.
        discriminator_units: sequence of int. Hidden units of the latent
            discriminator. Defaults to `(256, 256)`.
        conditional: bool. Match the codes of each class to one component
            of the mixture prior (Makhzani et al., "Incorporating label
            information in the adversarial regularization"): training
            reads labels (`fit(images, labels)`), the discriminator sees
            each code with its one-hot label (an extra slot for unlabeled
            batches), and `sample(n, labels=...)` draws chosen classes.
            Needs `prior="mixture"`. Defaults to `False`.
        num_classes: int. A supervised AAE over this many classes
            (Makhzani et al., "Supervised adversarial autoencoders"); `0`
            is none. The decoder reads the one-hot class beside the code,
            so the code, matched to a Gaussian or uniform prior, holds the
            style only. The encoder also predicts the class (a softmax head
            trained with cross-entropy on labeled batches): a latent is
            `(batch, latent_dim + num_classes)`, the code then the class
            probabilities, so `encode` and `reconstruct` need no labels.
            The discriminator sees the code only (showing it the label too,
            to match every class's codes to the prior, gave blurrier
            samples: benchmarks/results/gan_pilots.md).
            Training reads labels; an unlabeled batch is reconstructed
            through the predicted class. `sample(n, labels=...)` decodes a
            prior draw with the one-hot of each label, every class equally
            likely by default. Defaults to `0`.
        temperature: float > 0. The spread of `sample`'s draws when it
            is given none: the noise of the prior (a Gaussian's std, a
            uniform's half-width, a mixture component's std) or of the
            fitted code Gaussians (`ex_post_density`) is scaled by it, so
            below 1 the samples stay nearer the modes (the truncation of
            Kingma and Dhariwal 2018 and Brock et al. 2019): less varied.
            On the zoo's AAEs it did not help: the codes of real images
            are not densest at the prior's centre, and below 1 the
            Fréchet distance rose (benchmarks/results/gan_pilots.md). The
            discriminator always sees the prior itself. Defaults to `1.0`.
        ex_post_density: bool. Sample from full-covariance Gaussians fitted
            to the codes of the training images after training, one per
            class for a class-conditional model, instead of from the prior
            (ex-post density estimation, Ghosh et al. 2020): the adversary
            matches the codes to the prior only roughly, and prior draws
            that no image encodes to decode to blurred images. Training
            and the discriminator are unchanged; `fit_code_density(images,
            labels)` fits the Gaussians (`genae train` calls it after the
            last epoch), and `sample` refuses until then. Training moves
            the codes, so after fine-tuning (`fit`, `keras_genae.finetune`)
            call `fit_code_density` again, with labels for a
            class-conditional model, to sample the new codes. On `aae_mnist`'s
            weights it takes the Fréchet distance of the samples from 16.2
            (the mixture prior) to 7.2 and their class shares from
            5.3%-16.6% to 7.9%-12.6% (benchmarks/results/aae_sampling.md).
            Defaults to `False`.
        encoder_filters, decoder_filters, num_res_blocks, use_batchnorm,
        reconstruction_loss, seed: as for `Autoencoder`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [Makhzani et al., 2015](https://arxiv.org/abs/1511.05644)
        - [Kingma and Dhariwal, 2018](https://arxiv.org/abs/1807.03039)
        - [Brock et al., 2019](https://arxiv.org/abs/1809.11096)
        - [Ghosh et al., 2020](https://arxiv.org/abs/1903.12436)

    Example:
    >>> import numpy as np
    >>> aae = keras_genae.models.AdversarialAutoencoder(
    ...     image_shape=(28, 28, 1), latent_dim=8, prior="gaussian")
    >>> aae.compile(ae_optimizer=keras.optimizers.Adam(1e-3),
    ...             d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> x = np.random.rand(64, 28, 28, 1).astype("float32")
    >>> history = aae.fit(x, epochs=1, verbose=0)
    >>> aae.sample(4, seed=0).shape
    TensorShape([4, 28, 28, 1])
    """

    # benchmarks/results/transfer_phases.md: aae_mnist on 1,024 Fashion-MNIST
    # images kept the most PSNR at 0.3x its from-scratch rates (16.13 dB,
    # against 16.11 at 1x and 14.96 at 0.1x).
    default_finetuning = FineTuning(phase_learning_rates=(
        ("ae_optimizer", 3e-4), ("d_optimizer", 6e-5), ("g_optimizer", 6e-5)))
    loss_terms = ("loss", "reconstruction_loss", "mse", "discriminator_loss", "generator_loss")
    capabilities = frozenset({"encode", "decode", "reconstruct", "sample"})
    optimizer_names = ("ae_optimizer", "d_optimizer", "g_optimizer")

    def __init__(
        self,
        image_shape,
        latent_dim=8,
        prior="gaussian",
        prior_components=10,
        discriminator_units=(256, 256),
        conditional=False,
        num_classes=0,
        temperature=1.0,
        ex_post_density=False,
        **kwargs,
    ):
        check_positive_int(latent_dim, "latent_dim")
        check_non_negative_int(num_classes, "num_classes")
        check_positive_float(temperature, "temperature")
        if num_classes and (conditional or prior == "mixture"):
            raise ValueError(
                "`num_classes` makes a supervised AAE (the decoder reads the class) with a "
                "'gaussian' or 'uniform' prior over the style; `conditional=True` matches the "
                "classes to the mixture prior instead. Use one of them. Received: "
                f"num_classes={num_classes}, prior={prior!r}, conditional={conditional}")
        check_choice(prior, "prior", {"gaussian", "uniform", "mixture"})
        check_positive_int(prior_components, "prior_components")
        if prior == "mixture" and latent_dim < 2:
            raise ValueError(
                "The mixture prior needs `latent_dim >= 2`. "
                f"Received: latent_dim={latent_dim}"
            )
        check_bool(conditional, "conditional")
        check_bool(ex_post_density, "ex_post_density")
        if conditional and prior != "mixture":
            raise ValueError(
                "`conditional=True` matches each class to a component of the mixture prior: "
                f"use prior='mixture'. Received: prior={prior!r}")
        # Read by `build`, which the parent's `__init__` calls.
        self.prior = prior
        self.prior_components = prior_components
        self.conditional = conditional
        self.decoder_classes = num_classes
        self.temperature = float(temperature)
        self.ex_post_density = ex_post_density
        if num_classes:
            self.loss_terms = self.loss_terms + ("classification_loss",)
        self.discriminator_units = list(
            int_tuple(discriminator_units, "discriminator_units")
        )
        super().__init__(image_shape=image_shape, latent_dim=latent_dim, **kwargs)
        self.ae_optimizer = None
        self.d_optimizer = None
        self.g_optimizer = None

    def build(self, input_shape=None):
        if self.built:
            return
        # Created here, as `Autoencoder.__init__` builds (and so locks) the
        # model once its own layers exist.
        dt = self.dtype_policy
        stack = []
        for i, units in enumerate(self.discriminator_units):
            stack += [
                layers.Dense(units, dtype=dt, name=f"dense_{i}"),
                layers.LeakyReLU(0.2, dtype=dt, name=f"act_{i}"),
            ]
        stack.append(layers.Dense(1, dtype=dt, name="logit"))
        self.discriminator = keras.Sequential(stack, name="discriminator")
        if self.ex_post_density:
            self.code_density = ClassGaussians(self.num_classes or 1, self.latent_dim, name="code_density")
            self.code_density.build()
        super().build(input_shape)

    def build_layers(self, x):
        super().build_layers(x)
        extra = self.prior_components + 1 if self.conditional else 0
        self.discriminator(keras.KerasTensor((None, self.latent_dim + extra)))

    # ---------------------------------------------------------- the labels
    @property
    def num_classes(self):
        """The classes the model conditions on: those the decoder reads (a
        supervised model), or those matched to the mixture's components
        (`conditional`); 0 for neither."""
        return self.decoder_classes or (self.prior_components if self.conditional else 0)

    @property
    def latent_size(self):
        """Size of a latent vector: the code, then (a supervised model) the
        class probabilities."""
        return self.latent_dim + self.decoder_classes

    def latent_head_units(self):
        return self.latent_size

    def _code_and_logits(self, x, training=False):
        """The code `(batch, latent_dim)` of images and (a supervised model)
        the class logits `(batch, num_classes)`, else None."""
        h = self.to_latent(self.encoder(x, training=training))
        if not self.decoder_classes:
            return h, None
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def _encode(self, x, training=False):
        code, logits = self._code_and_logits(x, training)
        if logits is None:
            return code
        probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        return ops.concatenate([code, ops.cast(probabilities, code.dtype)], axis=-1)

    def _label_code(self, labels, n):
        """The discriminator's label input: one-hot `(n, components + 1)`,
        the last slot for unlabeled batches."""
        k = self.prior_components
        index = ops.full((n,), k, dtype="int32") if labels is None else ops.cast(labels, "int32")
        return ops.one_hot(index, k + 1, dtype=self.compute_dtype)

    def default_optimizer(self, name):
        if name == "ae_optimizer":
            return keras.optimizers.Adam(learning_rate=1e-3)
        return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)

    def compile(
        self, ae_optimizer=None, d_optimizer=None, g_optimizer=None, optimizer=None, **kwargs
    ):
        """Compile with one optimizer per phase.

        Args:
            ae_optimizer: optimizer of the reconstruction phase. Defaults to
                `Adam(1e-3)`.
            d_optimizer: optimizer of the discriminator phase. Defaults to
                `Adam(2e-4, beta_1=0.5)`.
            g_optimizer: optimizer of the generator (encoder) phase.
                Defaults to `Adam(2e-4, beta_1=0.5)`.
            optimizer: optional template: each optimizer left as None gets
                its own copy of it.
            **kwargs: other `keras.Model.compile` arguments (`run_eagerly`,
                `jit_compile`, `steps_per_execution`).
        """
        self.compile_optimizers(
            {"ae_optimizer": ae_optimizer, "d_optimizer": d_optimizer, "g_optimizer": g_optimizer},
            optimizer=optimizer, **kwargs)

    def build_extra_metrics(self):
        return [keras.metrics.Mean(name="discriminator_accuracy")]

    def discriminate(self, z, training=False, labels=None):
        """Discriminator logits `(batch, 1)` of latent vectors (and, for a
        conditional model, of their `labels`; None: unlabeled)."""
        z = ops.cast(z, self.compute_dtype)
        if self.conditional:
            z = ops.concatenate([z, self._label_code(labels, ops.shape(z)[0])], axis=-1)
        return ops.cast(self.discriminator(z, training=training), "float32")

    # --------------------------------------------------------------- losses
    def reconstruction_terms(self, x, training=False, labels=None):
        """`loss`, `reconstruction_loss`, `mse` and `psnr` of the
        autoencoder. A supervised model decodes each image with the one-hot
        of its label where given (else its predicted class probabilities)
        and adds the `classification_loss` of its class head to `loss`."""
        if not self.decoder_classes:
            return Autoencoder.compute_losses(self, x, training)
        x = ops.cast(x, self.compute_dtype)
        code, logits = self._code_and_logits(x, training)
        logits = ops.cast(logits, "float32")
        if labels is None:
            classes = ops.softmax(logits, axis=-1)
            classification = ops.zeros(())
        else:
            labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
            classes = ops.one_hot(labels, self.decoder_classes)
            classification = ops.mean(ops.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
        latent = ops.concatenate([code, ops.cast(classes, code.dtype)], axis=-1)
        terms = self.reconstruction_statistics(x, self.decode_raw(latent, training))
        terms["classification_loss"] = classification
        terms["loss"] = terms["reconstruction_loss"] + classification
        return terms

    def discriminator_terms(self, x, training=False, labels=None):
        """Loss and accuracy of the discriminator: prior draws against the
        codes of `x`. A conditional model draws each prior sample from the
        component of its image's label, and shows the label to the
        discriminator with both."""
        x = ops.cast(x, self.compute_dtype)
        labels = labels if self.conditional else None
        fake = ops.stop_gradient(self._code_and_logits(x, training)[0])
        seed = self._sample_seed(None)
        real = self._draw_codes(ops.shape(x)[0], (seed, seed), labels)  # temperature 1
        real_logits = self.discriminate(real, training, labels)
        fake_logits = self.discriminate(fake, training, labels)
        return {
            "discriminator_loss": discriminator_loss(real_logits, fake_logits),
            "discriminator_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }

    def generator_terms(self, x, training=False, labels=None):
        """Non-saturating loss of the encoder against the discriminator."""
        labels = labels if self.conditional else None
        z = self._code_and_logits(ops.cast(x, self.compute_dtype), training)[0]
        return {"generator_loss": sigmoid_cross_entropy(self.discriminate(z, training, labels), 1.0)}

    def compute_losses(self, x, training=False, labels=None):
        terms = self.reconstruction_terms(x, training, labels)
        terms.update(self.discriminator_terms(x, training, labels))
        terms.update(self.generator_terms(x, training, labels))
        return terms

    def train_phases(self):
        self._check_compiled()
        encoder_vars = self.encoder.trainable_variables + self.to_latent.trainable_variables
        decoder_vars = self.from_latent.trainable_variables + self.decoder.trainable_variables
        return [
            TrainPhase(
                name="reconstruction",
                objective="loss",
                variables=encoder_vars + decoder_vars,
                optimizer=self.ae_optimizer,
                loss_fn=functools.partial(self.reconstruction_terms, training=True),
            ),
            TrainPhase(
                name="discriminator",
                objective="discriminator_loss",
                variables=self.discriminator.trainable_variables,
                optimizer=self.d_optimizer,
                loss_fn=functools.partial(self.discriminator_terms, training=True),
            ),
            TrainPhase(
                name="generator",
                objective="generator_loss",
                variables=encoder_vars,
                optimizer=self.g_optimizer,
                loss_fn=functools.partial(self.generator_terms, training=True),
            ),
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "prior": self.prior,
                "prior_components": self.prior_components,
                "discriminator_units": list(self.discriminator_units),
                "conditional": self.conditional,
                "num_classes": self.decoder_classes,
                "temperature": self.temperature,
                "ex_post_density": self.ex_post_density,
            }
        )
        return config
