"""Vector quantization with the straight-through estimator."""

import keras
from keras import ops

from keras_genae.training import distribution
from keras_genae.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_genae")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-neighbour vector quantizer with a learned codebook.

    Each `embedding_dim`-vector of the input is replaced by its nearest
    codebook entry. The output uses the straight-through estimator
    `z + stop_gradient(q - z)`, so the gradient of anything computed from
    the output flows unchanged to `z`.

    The codebook is learned either by gradient descent on the codebook loss
    `mean((q - stop_gradient(z))**2)` (`use_ema=False`), or by exponential
    moving averages of the assigned encoder outputs (`use_ema=True`), held
    in non-trainable variables and updated when `training=True`.

    Args:
        num_embeddings: int. Codebook size K. Defaults to `512`.
        embedding_dim: int. Size D of each code vector. Defaults to `64`.
        use_ema: bool. Learn the codebook by EMA. Defaults to `False`.
        ema_decay: float in (0, 1). EMA decay. Defaults to `0.99`.
        epsilon: float. Laplace smoothing of the EMA cluster sizes.
            Defaults to `1e-5`.
        dead_code_threshold: float. If positive, during training, codes whose
            moving-average usage (expected assignments per batch, decay
            `ema_decay`) falls below this value are moved to random encoder
            outputs of the current batch; the first training batch so
            initializes the whole codebook from data. `0` disables restarts.
            Defaults to `0.0`.
        seed: int or None. Seed of the restarts. Defaults to `None`.
        **kwargs: base layer arguments. The layer computes in float32
            whatever the global dtype policy (its `dtype` defaults to
            `"float32"`): distances and EMA statistics need the precision.

    Under a `tf.distribute` strategy, the code counts and per-code sums of
    the EMA update, and the usage counts, are summed over the replicas
    before the update, and restarts draw from the encoder outputs of the
    global batch: every replica applies the update of the global batch
    (see `keras_genae.training.distribution`).

    Call arguments:
        z: float tensor `(..., embedding_dim)`.
        training: bool. Update the EMA codebook and restart dead codes.

    Returns:
        `(quantized_st, indices, quantized)`: the straight-through output,
        the int32 code indices `z.shape[:-1]`, and the raw codebook vectors.

    References:
        - [van den Oord et al., 2017](https://arxiv.org/abs/1711.00937)
        - [Razavi et al., 2019](https://arxiv.org/abs/1906.00446) (EMA)

    Example:
    >>> vq = VectorQuantizer(num_embeddings=16, embedding_dim=4)
    >>> q, idx, _ = vq(keras.ops.ones((2, 3, 3, 4)))
    >>> idx.shape
    (2, 3, 3)
    """

    def __init__(
        self,
        num_embeddings=512,
        embedding_dim=64,
        use_ema=False,
        ema_decay=0.99,
        epsilon=1e-5,
        dead_code_threshold=0.0,
        seed=None,
        **kwargs,
    ):
        # Mixed precision: quantize in float32 even under a global
        # mixed policy (the model casts the encoder output to float32).
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        check_positive_int(num_embeddings, "num_embeddings")
        check_positive_int(embedding_dim, "embedding_dim")
        if not 0.0 < ema_decay < 1.0:
            raise ValueError(
                f"`ema_decay` must be in (0, 1). Received: ema_decay={ema_decay}"
            )
        if dead_code_threshold < 0:
            raise ValueError(
                "`dead_code_threshold` must be >= 0. "
                f"Received: dead_code_threshold={dead_code_threshold}"
            )
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.use_ema = use_ema
        self.ema_decay = float(ema_decay)
        self.epsilon = float(epsilon)
        self.dead_code_threshold = float(dead_code_threshold)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="vq_seed")

    def build(self, input_shape):
        if input_shape[-1] != self.embedding_dim:
            raise ValueError(
                f"VectorQuantizer expects inputs whose last axis is "
                f"embedding_dim={self.embedding_dim}. Received: input_shape={input_shape}"
            )
        limit = 1.0 / self.num_embeddings
        self.codebook = self.add_weight(
            name="codebook",
            shape=(self.num_embeddings, self.embedding_dim),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            trainable=not self.use_ema,
            dtype="float32",
        )
        # With restarts on, usage starts at zero: the first training batch
        # restarts every code on the encoder's outputs (a data-dependent
        # initialization that avoids an early collapse onto a few codes).
        self.usage = self.add_weight(
            name="usage",
            shape=(self.num_embeddings,),
            initializer="zeros" if self.dead_code_threshold > 0 else "ones",
            trainable=False,
            dtype="float32",
        )
        if self.use_ema:
            self.ema_cluster_size = self.add_weight(
                name="ema_cluster_size",
                shape=(self.num_embeddings,),
                initializer="ones",
                trainable=False,
                dtype="float32",
            )
            self.ema_embed_sum = self.add_weight(
                name="ema_embed_sum",
                shape=(self.num_embeddings, self.embedding_dim),
                initializer="zeros",
                trainable=False,
                dtype="float32",
            )
            # With unit cluster sizes, the sums equal the initial codebook.
            self.ema_embed_sum.assign(self.codebook)

    def distances(self, flat):
        """Squared distances `(N, K)` between rows of `flat` and the codes,
        as `|z|^2 - 2 z.e + |e|^2` (one matmul, no `(N, K, D)` tensor)."""
        codebook = ops.convert_to_tensor(self.codebook)
        return (
            ops.sum(ops.square(flat), axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(codebook))
            + ops.sum(ops.square(codebook), axis=1)[None, :]
        )

    def nearest(self, flat):
        """Index of the nearest code of each row of `flat` `(N, D)`.

        `argmin_k |z|^2 - 2 z.e_k + |e_k|^2` drops the row constant `|z|^2`:
        one `(N, D) x (D, K)` matmul and a broadcast add, in float32."""
        codebook = ops.convert_to_tensor(self.codebook)
        scores = ops.sum(ops.square(codebook), axis=1)[None, :] - 2.0 * ops.matmul(
            flat, ops.transpose(codebook)
        )
        return ops.cast(ops.argmin(scores, axis=1), "int32")

    def code_counts(self, indices):
        """Float32 histogram `(num_embeddings,)` of integer code `indices`
        (any shape), computed with a segment sum (no one-hot tensor)."""
        indices = ops.reshape(ops.cast(indices, "int32"), (-1,))
        return ops.segment_sum(
            ops.ones_like(indices, dtype="float32"), indices,
            num_segments=self.num_embeddings,
        )

    def lookup(self, indices):
        """Codebook vectors of integer `indices`, shape `indices.shape + (D,)`."""
        return ops.take(ops.convert_to_tensor(self.codebook), ops.cast(indices, "int32"), axis=0)

    def call(self, z, training=False):
        z = ops.cast(z, "float32")
        flat = ops.reshape(z, (-1, self.embedding_dim))
        indices = self.nearest(flat)
        if training:
            self._update(flat, indices)
        quantized = ops.reshape(self.lookup(indices), ops.shape(z))
        indices = ops.reshape(indices, ops.shape(z)[:-1])
        quantized_st = z + ops.stop_gradient(quantized - z)
        return quantized_st, indices, quantized

    def _update(self, flat, indices):
        flat = ops.stop_gradient(flat)
        # Statistics of the global batch: summed over the replicas (a no-op
        # on one device), so that every replica applies the same update.
        counts = distribution.all_reduce_sum(self.code_counts(indices))
        d = self.ema_decay
        self.usage.assign(d * self.usage + (1.0 - d) * counts)
        if self.use_ema:
            sums = ops.segment_sum(flat, indices, num_segments=self.num_embeddings)
            sums = distribution.all_reduce_sum(sums)
            cluster = d * self.ema_cluster_size + (1.0 - d) * counts
            embed_sum = d * self.ema_embed_sum + (1.0 - d) * sums
            n = ops.sum(cluster)
            smoothed = (cluster + self.epsilon) / (
                n + self.num_embeddings * self.epsilon
            ) * n
            self.ema_cluster_size.assign(cluster)
            self.ema_embed_sum.assign(embed_sum)
            self.codebook.assign(embed_sum / smoothed[:, None])
        if self.dead_code_threshold > 0:
            self._restart_dead_codes(flat)

    def _restart_dead_codes(self, flat):
        # Candidates from the global batch, so all replicas restart alike.
        flat = distribution.all_gather(flat, axis=0)
        usage = ops.convert_to_tensor(self.usage)
        dead = usage < self.dead_code_threshold
        n = ops.cast(ops.shape(flat)[0], "float32")
        pick = keras.random.uniform((self.num_embeddings,), seed=self.seed_generator)
        pick = ops.minimum(ops.cast(ops.floor(pick * n), "int32"), ops.cast(n, "int32") - 1)
        candidates = ops.take(flat, pick, axis=0)
        dead_col = dead[:, None]
        ones = ops.ones_like(usage)
        self.codebook.assign(ops.where(dead_col, candidates, ops.convert_to_tensor(self.codebook)))
        self.usage.assign(ops.where(dead, ones, usage))
        if self.use_ema:
            self.ema_cluster_size.assign(
                ops.where(dead, ones, ops.convert_to_tensor(self.ema_cluster_size))
            )
            self.ema_embed_sum.assign(
                ops.where(dead_col, candidates, ops.convert_to_tensor(self.ema_embed_sum))
            )

    def compute_output_shape(self, input_shape):
        return input_shape, tuple(input_shape[:-1]), input_shape

    def compute_output_spec(self, z, training=False):
        return (
            keras.KerasTensor(z.shape, dtype="float32"),
            keras.KerasTensor(z.shape[:-1], dtype="int32"),
            keras.KerasTensor(z.shape, dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim,
                "use_ema": self.use_ema,
                "ema_decay": self.ema_decay,
                "epsilon": self.epsilon,
                "dead_code_threshold": self.dead_code_threshold,
                "seed": self.seed,
            }
        )
        return config
