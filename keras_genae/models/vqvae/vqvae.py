"""Vector-quantized variational autoencoder."""

import keras
from keras import layers
from keras import ops

from keras_genae.layers.pixelcnn import GatedPixelCNN
from keras_genae.layers.quantizer import VectorQuantizer
from keras_genae.metrics import CodebookPerplexity
from keras_genae.metrics import CodebookUsage
from keras_genae.metrics import mean_psnr
from keras_genae.models.backbone import attach_conv_backbone
from keras_genae.models.backbone import backbone_config
from keras_genae.models.base import GenerativeAutoencoder
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.vqvae.prior import CodePrior
from keras_genae.utils.validation import check_non_negative_float

#: The parts of a VQ-VAE that `autoencoder_trainable` freezes.
AUTOENCODER_PARTS = ("encoder", "pre_quantization", "quantizer", "decoder")
#: Images per batch on which the frozen autoencoder's terms are logged
#: while the prior trains alone.
FROZEN_LOG_IMAGES = 16


@register_architecture
class VQVAE(CodePrior, GenerativeAutoencoder):
    """VQ-VAE: a convolutional autoencoder with a discrete latent grid.

    The encoder maps an image to an `(h, w, embedding_dim)` grid with
    `h = H / 2**levels`; each vector is quantized to its nearest codebook
    entry by a `VectorQuantizer`, with the straight-through gradient. The
    loss is `mse + codebook_loss + commitment_cost * commitment_loss`
    (`codebook_loss` is left out of the objective with `use_ema=True`).
    Codebook usage (the share of codes used in the epoch) and perplexity
    are tracked over each epoch.

    With `prior`, the model also holds a `GatedPixelCNN` over its code
    grids, and so samples (`sample(n, labels=..., temperature=...,
    guidance=...)`; see `CodePrior`).
    `fit` trains the prior on the codes of each batch beside the
    autoencoder (its loss `prior_loss`, in nats per code, needs no
    gradient through the encoder), and on the batch's labels when the
    prior is class-conditional (`fit(images, labels)`, or a dataset of
    `(images, labels)`; unlabeled batches train its "no label" class). Set
    `autoencoder_trainable = False` to train the prior alone, on the
    codes of a frozen VQ-VAE (the zoo recipes' second stage).

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`.
        num_embeddings: int. Codebook size. Defaults to `512`.
        embedding_dim: int. Size of each code vector. Defaults to `64`.
        commitment_cost: float. Weight beta of the commitment loss.
            Defaults to `0.25`.
        use_ema: bool. Learn the codebook by EMA (decay `ema_decay`)
            instead of by gradient. Defaults to `False`.
        ema_decay: float. Defaults to `0.99`.
        dead_code_threshold: float. See `VectorQuantizer`. Defaults to `0.0`.
        encoder_filters: sequence of int. Defaults to `(64, 128)`.
        decoder_filters: sequence of int or None. Defaults to the mirror.
        num_res_blocks: int. Defaults to `2`.
        use_batchnorm: bool. Defaults to `False`.
        prior: None or dict. The `GatedPixelCNN` arguments (all but
            `num_codes`) of a prior over the code grid; None: no prior, and
            no sampling. Defaults to `None`.
        autoencoder_trainable: bool. Whether `fit` trains the encoder,
            codebook and decoder; False trains the prior alone (see the
            `autoencoder_trainable` property). Defaults to `True`.
        seed: int or None. Defaults to `None`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [van den Oord et al., 2017](https://arxiv.org/abs/1711.00937)
        - [van den Oord et al., 2016](https://arxiv.org/abs/1606.05328)
          (the gated PixelCNN prior)

    Example:
    >>> import numpy as np
    >>> vq = keras_genae.models.VQVAE(image_shape=(32, 32, 3),
    ...     num_embeddings=64, embedding_dim=16, encoder_filters=(32, 64))
    >>> vq.compile()
    >>> x = np.random.rand(32, 32, 32, 3).astype("float32")
    >>> history = vq.fit(x, epochs=1, verbose=0)
    >>> codes = vq.encode(x[:2])           # (2, 8, 8) int32 indices
    >>> vq.decode(codes).shape
    TensorShape([2, 32, 32, 3])
    >>> vq = keras_genae.models.VQVAE(image_shape=(32, 32, 3), num_embeddings=64,
    ...     embedding_dim=16, encoder_filters=(32, 64),
    ...     prior=dict(filters=32, num_layers=4, num_classes=10))
    >>> vq.compile()
    >>> history = vq.fit(x, np.random.randint(0, 10, 32), epochs=1, verbose=0)
    >>> vq.sample(4, labels=[0, 1, 2, 3], temperature=0.9, seed=0).shape
    TensorShape([4, 32, 32, 3])
    """

    capabilities = frozenset({"encode", "decode", "reconstruct", "sample"})

    loss_terms = ("loss", "reconstruction_loss", "codebook_loss", "commitment_loss")
    reports_psnr = True
    # benchmarks/results/transfer_sweep.md and transfer_readme_recipe.md: 3e-4
    # did best on the MNIST-sized VQ-VAEs, but 1e-4 is the rate that never
    # lowered vqvae_cifar10's held-out PSNR, in short runs or long ones.
    default_finetuning = FineTuning(learning_rate=1e-4)
    output_activation = "linear"

    def __init__(
        self,
        image_shape,
        num_embeddings=512,
        embedding_dim=64,
        commitment_cost=0.25,
        use_ema=False,
        ema_decay=0.99,
        dead_code_threshold=0.0,
        encoder_filters=(64, 128),
        decoder_filters=None,
        num_res_blocks=2,
        use_batchnorm=False,
        prior=None,
        autoencoder_trainable=True,
        seed=None,
        **kwargs,
    ):
        self.num_embeddings = num_embeddings
        if prior is not None and not isinstance(prior, dict):
            raise ValueError(
                "`prior` must be None or a dict of `GatedPixelCNN` arguments, e.g. "
                f"dict(filters=64, num_layers=8). Received: prior={prior!r}")
        self.prior_config = None if prior is None else dict(prior)
        if self.prior_config is not None:
            self.loss_terms = self.loss_terms + ("prior_loss",)
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        check_non_negative_float(commitment_cost, "commitment_cost")
        self.embedding_dim = embedding_dim
        self.commitment_cost = float(commitment_cost)
        self.use_ema = use_ema
        self.ema_decay = ema_decay
        self.dead_code_threshold = dead_code_threshold
        feature_shape = attach_conv_backbone(
            self, encoder_filters, decoder_filters, num_res_blocks, use_batchnorm
        )
        self.latent_shape = feature_shape[:2]
        self.pre_quantization = layers.Conv2D(
            embedding_dim, 1, dtype=self.dtype_policy, name="pre_quantization"
        )
        self.quantizer = VectorQuantizer(
            num_embeddings=num_embeddings,
            embedding_dim=embedding_dim,
            use_ema=use_ema,
            ema_decay=ema_decay,
            dead_code_threshold=dead_code_threshold,
            seed=seed,
            name="quantizer",
        )
        self.prior = None
        if self.prior_config is not None:
            self.prior = GatedPixelCNN(num_codes=num_embeddings, name="prior", dtype=self.dtype_policy,
                                       **{"seed": seed, **self.prior_config})
        else:  # a VQ-VAE samples only through a prior
            self.capabilities = type(self).capabilities - {"sample"}
        self.autoencoder_trainable = autoencoder_trainable
        self.build()

    def build_extra_metrics(self):
        return [
            CodebookUsage(self.num_embeddings, name="codebook_usage", source="code_counts"),
            CodebookPerplexity(self.num_embeddings, name="perplexity", source="code_counts"),
        ]

    # ---------------------------------------------------------------- prior
    @property
    def autoencoder_trainable(self):
        """Whether `fit` trains the autoencoder (encoder, codebook, decoder);
        False trains the prior alone. Defaults to `True`."""
        return all(getattr(self, part).trainable for part in AUTOENCODER_PARTS)

    @autoencoder_trainable.setter
    def autoencoder_trainable(self, value):
        if not isinstance(value, bool):
            raise ValueError(
                f"`autoencoder_trainable` must be True or False. Received: {value!r}")
        if not value and self.prior is None:
            raise ValueError(
                "A VQ-VAE without a prior has nothing to train with `autoencoder_trainable=False`.")
        for part in AUTOENCODER_PARTS:
            getattr(self, part).trainable = value

    def copy_autoencoder_weights(self, source):
        """Set the encoder, codebook and decoder to those of the VQ-VAE
        `source` (of the same architecture), leaving the prior as it is."""
        for part in AUTOENCODER_PARTS:
            getattr(self, part).set_weights(getattr(source, part).get_weights())

    def sample_latents(self, n, seed=None, labels=None, temperature=1.0, guidance=None):
        """Draw `n` code grids `(n, h, w)`, int32, from the prior.

        Args:
            n: int. Number of grids.
            seed: int or None. An int gives the same draws on every call;
                None draws from and advances the model's `SeedGenerator`.
            labels: None, an int, or `n` ints: the classes to condition on
                (class-conditional priors). None draws them uniformly.
            temperature: float > 0. Divides the prior's logits: below 1,
                likelier and less varied samples. Defaults to `1.0`.
            guidance: float >= 0 or None. Classifier-free guidance scale
                of a class-conditional prior (`GatedPixelCNN.sample_codes`):
                above 0, samples that look more like their class, at twice
                the cost per step. None: the prior's `guidance` (0 for the
                zoo checkpoints; `benchmarks/guidance.py` measures scales).
            batch_size: int or None. Grids per compiled call (256).
        """
        self._require_prior("sample_latents")
        return self._sample_latents(n, seed, **self._options(n, labels, temperature, guidance))

    def sample(self, n, seed=None, labels=None, temperature=1.0, guidance=None):
        """Draw `n` images from the prior: `decode(sample_latents(...))`.
        Arguments as for `sample_latents`.

        Example:
        >>> images = keras_genae.load("vqvae_mnist").sample(16, labels=3, seed=0)
        """
        self._require_prior("sample")
        return self.decode(self._sample_latents(n, seed, **self._options(n, labels, temperature, guidance)))

    def encode_continuous(self, x, training=False):
        """The encoder's continuous output `(batch, h, w, embedding_dim)`."""
        return self.pre_quantization(self.encoder(x, training=training))

    def _encode(self, x, training=False):
        """Code indices `(batch, h, w)` of images in [0, 1]."""
        _, indices, _ = self.quantizer(self.encode_continuous(x, training))
        return indices

    def indices_to_vectors(self, indices):
        """Codebook vectors `(batch, h, w, embedding_dim)` of code indices."""
        return self.quantizer.lookup(indices)

    def decode_raw(self, z, training=False):
        """The decoder's output for quantized vectors `z` `(batch, h, w,
        embedding_dim)`: the image itself, unclipped (the output is linear;
        `decode` clips it to [0, 1]), in the compute dtype."""
        return self.decoder(ops.cast(z, self.compute_dtype), training=training)

    def decode(self, z, training=False):
        """Decode code indices `(batch, h, w)` (any integer dtype) or
        quantized vectors `(batch, h, w, embedding_dim)` to images."""
        z = ops.convert_to_tensor(z)
        if "int" in str(z.dtype):
            if len(z.shape) != 3:
                raise ValueError(
                    "Code indices must have shape (batch, h, w). "
                    f"Received shape {tuple(z.shape)}."
                )
            z = self.indices_to_vectors(z)
        elif len(z.shape) != 4 or z.shape[-1] != self.embedding_dim:
            raise ValueError(
                "`decode` takes int code indices of shape (batch, h, w) or "
                f"quantized vectors of shape (batch, h, w, {self.embedding_dim}). "
                f"Received shape {tuple(z.shape)} and dtype {z.dtype}."
            )
        return self.images_from_output(self.decode_raw(z, training=training))

    def reconstruct(self, x, training=False):
        x = self._check_call_input(x)
        q, _, _ = self.quantizer(self.encode_continuous(x, training))
        return self.images_from_output(self.decode_raw(q, training=training))

    def build_layers(self, x):
        super().build_layers(x)
        if self.prior is not None:
            self.prior(keras.KerasTensor((None,) + tuple(self.latent_shape), dtype="int32"))

    def train_phases(self):
        phases = super().train_phases()
        if self.prior is not None:
            phases[0].objective = "objective"  # loss + prior_loss
        return phases

    def compute_losses(self, x, training=False, labels=None):
        x = ops.cast(x, self.compute_dtype)
        training_ae = training and self.autoencoder_trainable
        z = ops.cast(self.encode_continuous(x, training_ae), "float32")
        quantized_st, indices, quantized = self.quantizer(z, training=training_ae)
        if training and not training_ae:
            # The prior trains alone: the frozen decoder's terms are only
            # logged, so they are measured on the batch's first images.
            x, quantized_st = x[:FROZEN_LOG_IMAGES], quantized_st[:FROZEN_LOG_IMAGES]
        logits = self.decode_raw(quantized_st, training_ae)
        target = ops.cast(x, "float32")
        rec = ops.mean(ops.square(target - ops.cast(logits, "float32")))
        codebook = ops.mean(ops.square(quantized - ops.stop_gradient(z)))
        commitment = ops.mean(ops.square(z - ops.stop_gradient(quantized)))
        loss = rec + self.commitment_cost * commitment
        if not self.use_ema:
            loss = loss + codebook
        counts = self.quantizer.code_counts(indices)
        terms = {}
        if self.prior is not None:
            # The prior learns the codes; no gradient reaches the encoder.
            codes = ops.stop_gradient(indices)
            logits_p = self.prior(codes, labels=labels, training=training)
            nll = ops.mean(ops.sparse_categorical_crossentropy(codes, logits_p, from_logits=True))
            terms = {"prior_loss": nll, "objective": loss + nll}
        return {
            **terms,
            "loss": loss,
            "reconstruction_loss": rec,
            "codebook_loss": codebook,
            "commitment_loss": commitment,
            "code_counts": counts,
            "psnr": mean_psnr(target, self.images_from_output(logits)),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim,
                "commitment_cost": self.commitment_cost,
                "use_ema": self.use_ema,
                "ema_decay": self.ema_decay,
                "dead_code_threshold": self.dead_code_threshold,
                "prior": self.prior_config,
                "autoencoder_trainable": self.autoencoder_trainable,
                **backbone_config(self),
            }
        )
        return config
