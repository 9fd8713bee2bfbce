"""Vector-quantized variational autoencoder."""

import keras
from keras import layers
from keras import ops

from keras_genae.layers.quantizer import VectorQuantizer
from keras_genae.metrics import CodebookPerplexity
from keras_genae.metrics import CodebookUsage
from keras_genae.metrics import mean_psnr
from keras_genae.models.backbone import attach_conv_backbone
from keras_genae.models.backbone import backbone_config
from keras_genae.models.base import GenerativeAutoencoder
from keras_genae.models.base import register_architecture
from keras_genae.models.finetuning import FineTuning
from keras_genae.utils.validation import check_non_negative_float


@register_architecture
class VQVAE(GenerativeAutoencoder):
    """VQ-VAE: a convolutional autoencoder with a discrete latent grid.

    The encoder maps an image to an `(h, w, embedding_dim)` grid with
    `h = H / 2**levels`; each vector is quantized to its nearest codebook
    entry by a `VectorQuantizer`, with the straight-through gradient. The
    loss is `mse + codebook_loss + commitment_cost * commitment_loss`
    (`codebook_loss` is left out of the objective with `use_ema=True`).
    Codebook usage (the share of codes used in the epoch) and perplexity
    are tracked over each epoch.

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
        seed: int or None. Defaults to `None`.
        **kwargs: base `keras.Model` arguments.

    References:
        - [van den Oord et al., 2017](https://arxiv.org/abs/1711.00937)

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
    """

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
        seed=None,
        **kwargs,
    ):
        self.num_embeddings = num_embeddings
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
        self.build()

    def build_extra_metrics(self):
        return [
            CodebookUsage(self.num_embeddings, name="codebook_usage", source="code_counts"),
            CodebookPerplexity(self.num_embeddings, name="perplexity", source="code_counts"),
        ]

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

    def compute_losses(self, x, training=False):
        x = ops.cast(x, self.compute_dtype)
        z = ops.cast(self.encode_continuous(x, training), "float32")
        quantized_st, indices, quantized = self.quantizer(z, training=training)
        logits = self.decode_raw(quantized_st, training)
        target = ops.cast(x, "float32")
        rec = ops.mean(ops.square(target - ops.cast(logits, "float32")))
        codebook = ops.mean(ops.square(quantized - ops.stop_gradient(z)))
        commitment = ops.mean(ops.square(z - ops.stop_gradient(quantized)))
        loss = rec + self.commitment_cost * commitment
        if not self.use_ema:
            loss = loss + codebook
        counts = self.quantizer.code_counts(indices)
        return {
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
                **backbone_config(self),
            }
        )
        return config
