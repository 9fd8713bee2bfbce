"""A gated PixelCNN over grids of discrete codes, with fast sampling."""

import keras
from keras import layers
from keras import ops

from keras_genae.utils.validation import check_non_negative_float
from keras_genae.utils.validation import check_positive_int


def _gate(x):
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


def _shift_down(x):
    """Row `r` of the result is row `r - 1` of `x` (zeros in row 0)."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(x):
    """Column `c` of the result is column `c - 1` of `x` (zeros in column 0)."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


@keras.saving.register_keras_serializable(package="keras_genae")
class GatedPixelCNN(keras.layers.Layer):
    """Gated PixelCNN over `(batch, h, w)` grids of code indices.

    The autoregressive prior of a VQ-VAE: `p(codes) = prod_i p(code_i |
    codes_<i)` in raster order. Each layer has a vertical stack (a causal
    convolution over the rows above) and a horizontal stack (a causal
    convolution along the row, left of the position), joined by gated
    activations `tanh(a) * sigmoid(b)`, so there is no blind spot. With
    `num_classes > 0` every gate gets a learned per-class bias (the
    conditional PixelCNN); an extra "no label" class, trained on a share
    `label_dropout` of the batches' labels, models the unlabeled data.

    Sampling (`sample_codes`) reuses what does not change between steps:
    the vertical stack depends only on the rows above, so it runs once per
    row, and within a row only the horizontal stack of that row runs at
    each step. That is `h` vertical passes and `h * w` one-row horizontal
    passes instead of `h * w` passes of the whole network (in the spirit of
    Ramachandran et al., 2017).

    Args:
        num_codes: int. Codebook size K; the layer outputs K logits per
            position.
        filters: int. Channels of each stack. Defaults to `64`.
        num_layers: int. Gated layers. Defaults to `8`.
        kernel_size: int. Odd width of the causal convolutions. Defaults
            to `3`.
        num_classes: int. Classes to condition on; `0` is unconditional.
            Defaults to `0`.
        label_dropout: float in [0, 1). Share of the training labels
            replaced by "no label". Defaults to `0.1`.
        guidance: float >= 0. The classifier-free guidance scale that
            `sample_codes` uses when given labels and no `guidance` of its
            own (see there); needs `num_classes > 0` when above 0.
            Defaults to `0.0` (plain conditional sampling).
        seed: int or None. Seed of the label dropout. Defaults to `None`.
        **kwargs: base layer arguments.

    Call arguments:
        codes: int tensor `(batch, h, w)`.
        labels: None or int tensor `(batch,)` (conditional only; None is
            "no label").
        training: bool. Apply the label dropout.

    Returns:
        float32 logits `(batch, h, w, num_codes)`.

    References:
        - [van den Oord et al., 2016](https://arxiv.org/abs/1606.05328)
        - [Ramachandran et al., 2017](https://arxiv.org/abs/1704.06001)
        - [Ho and Salimans, 2022](https://arxiv.org/abs/2207.12598)
          (classifier-free guidance)

    Example:
    >>> prior = GatedPixelCNN(num_codes=16, filters=8, num_layers=2, num_classes=10)
    >>> codes = np.random.randint(0, 16, (2, 4, 4))
    >>> prior(codes, labels=np.array([3, 7])).shape
    (2, 4, 4, 16)
    >>> prior.sample_codes(2, (4, 4), labels=np.array([3, 7]), seed=0).shape
    (2, 4, 4)
    """

    def __init__(self, num_codes, filters=64, num_layers=8, kernel_size=3, num_classes=0,
                 label_dropout=0.1, guidance=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_codes, "num_codes")
        check_positive_int(filters, "filters")
        check_positive_int(num_layers, "num_layers")
        check_positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd. Received: kernel_size={kernel_size}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(
                f"`num_classes` must be a non-negative integer. Received: num_classes={num_classes!r}")
        if isinstance(label_dropout, bool) or not isinstance(label_dropout, (int, float)) \
                or not 0 <= label_dropout < 1:
            raise ValueError(
                f"`label_dropout` must be a number in [0, 1). Received: label_dropout={label_dropout!r}")
        check_non_negative_float(guidance, "guidance")
        if guidance > 0 and not num_classes:
            raise ValueError(
                "`guidance` above 0 needs a class-conditional prior (`num_classes > 0`). "
                f"Received: guidance={guidance!r}, num_classes={num_classes}")
        self.guidance = float(guidance)
        self.num_codes = num_codes
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.num_classes = num_classes
        self.label_dropout = float(label_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        p, f2 = kernel_size // 2, 2 * filters
        kw = dict(dtype=self.dtype_policy)
        self.embedding = layers.Embedding(num_codes, filters, name="embedding", **kw)
        self.vertical = [layers.Conv2D(f2, (p + 1, kernel_size), name=f"vertical_{i}", **kw)
                         for i in range(num_layers)]
        self.horizontal = [layers.Conv2D(f2, (1, p + 1), name=f"horizontal_{i}", **kw)
                           for i in range(num_layers)]
        self.vertical_to_horizontal = [layers.Conv2D(f2, 1, name=f"v_to_h_{i}", **kw)
                                       for i in range(num_layers)]
        self.horizontal_out = [layers.Conv2D(filters, 1, name=f"h_out_{i}", **kw)
                               for i in range(num_layers)]
        self.class_bias = [layers.Embedding(num_classes + 1, f2, name=f"class_bias_{i}", **kw)
                           for i in range(num_layers)] if num_classes else []
        self.head = layers.Conv2D(f2, 1, activation="relu", name="head", **kw)
        self.logits = layers.Conv2D(num_codes, 1, name="logits", **kw)

    # ------------------------------------------------------------- stacks
    def _labels(self, labels, n, training):
        """Int labels `(n,)`, "no label" (`num_classes`) where None or dropped."""
        null = ops.full((n,), self.num_classes, dtype="int32")
        if labels is None:
            return null
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        if training and self.label_dropout > 0:
            drop = keras.random.uniform((n,), seed=self.seed_generator) < self.label_dropout
            labels = ops.where(drop, null, labels)
        return labels

    def _biases(self, labels):
        if not self.num_classes:
            return [0.0] * self.num_layers
        return [ops.expand_dims(ops.expand_dims(b(labels), 1), 1) for b in self.class_bias]

    def vertical_links(self, embedded, biases):
        """The vertical stack's contribution to each horizontal layer, each
        `(batch, h, w, 2 * filters)`; row `r` depends on rows `< r` only."""
        p = self.kernel_size // 2
        v, links = embedded, []
        for i in range(self.num_layers):
            pre = self.vertical[i](ops.pad(v, [[0, 0], [p, 0], [p, p], [0, 0]])) + biases[i]
            links.append(self.vertical_to_horizontal[i](_shift_down(pre)))
            out = _gate(pre)
            v = out if i == 0 else v + out
        return links

    def horizontal_logits(self, embedded, links, biases):
        """Logits of the rows of `embedded` `(batch, rows, w, filters)`
        given their vertical links; position `c` sees columns `< c`."""
        p = self.kernel_size // 2
        h = embedded
        for i in range(self.num_layers):
            pre = self.horizontal[i](ops.pad(h, [[0, 0], [0, 0], [p, 0], [0, 0]]))
            if i == 0:
                pre = _shift_right(pre)  # the first layer must not see its own position
            out = self.horizontal_out[i](_gate(pre + links[i] + biases[i]))
            h = out if i == 0 else h + out
        return ops.cast(self.logits(self.head(ops.relu(h))), "float32")

    def call(self, codes, labels=None, training=False):
        codes = ops.cast(codes, "int32")
        labels = self._labels(labels, ops.shape(codes)[0], training)
        biases = self._biases(labels)
        embedded = self.embedding(codes)
        return self.horizontal_logits(embedded, self.vertical_links(embedded, biases), biases)

    def log_prob(self, codes, labels=None):
        """log p(codes | labels) per grid, in nats, float32 `(batch,)`."""
        logits = self(codes, labels=labels)
        log_p = ops.log_softmax(logits, axis=-1)
        picked = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(codes, "int32"), -1), axis=-1)
        return ops.sum(ops.reshape(picked, (ops.shape(codes)[0], -1)), axis=-1)

    # ------------------------------------------------------------ sampling
    def sample_codes(self, n, grid_shape, labels=None, temperature=1.0, seed=None, guidance=None):
        """Draw `n` code grids `(n, h, w)` int32 in raster order.

        Args:
            n: int. Number of grids.
            grid_shape: `(h, w)`.
            labels: None ("no label") or int `(n,)`.
            temperature: float > 0. Divides the logits. Defaults to `1.0`.
            seed: int, `SeedGenerator` or None (the layer's generator). All
                the noise is drawn before the loop (Gumbel-max sampling),
                so the loop itself is deterministic.
            guidance: float >= 0 or None. Classifier-free guidance (Ho and
                Salimans, 2022): each step samples from the logits
                `cond + guidance * (cond - uncond)`, where `uncond` are
                those given "no label"; 0 is plain conditional sampling,
                and above 0 each step runs the network on twice the grids.
                An explicit value above 0 needs `labels`. None: the layer's
                `guidance` where `labels` are given, else 0.
        """
        h, w = int(grid_shape[0]), int(grid_shape[1])
        if not self.built:
            self.build((None, h, w))
        seed = self.seed_generator if seed is None else seed
        u = keras.random.uniform((n, h, w, self.num_codes), minval=1e-6, maxval=1.0 - 1e-6, seed=seed)
        gumbel = -ops.log(-ops.log(u))
        if guidance is None:
            guidance = self.guidance if labels is not None else 0.0
        check_non_negative_float(guidance, "guidance")
        guided = float(guidance) > 0
        if guided and (not self.num_classes or labels is None):
            raise ValueError(
                "`guidance` above 0 needs a class-conditional prior and `labels`. "
                f"Received: guidance={guidance!r}, num_classes={self.num_classes}, "
                f"labels={'None' if labels is None else 'given'}")
        labels = self._labels(labels, n, False)
        if guided:  # the conditional grids, then the same grids with "no label"
            labels = ops.concatenate([labels, ops.full((n,), self.num_classes, dtype="int32")], 0)
        biases = self._biases(labels)
        rows = ops.arange(h, dtype="int32")
        cols = ops.arange(w, dtype="int32")
        inv_t = 1.0 / float(temperature)

        def twice(x):
            return ops.concatenate([x, x], 0) if guided else x

        def combine(logits):
            if not guided:
                return logits
            cond, uncond = logits[:n], logits[n:]
            return cond + float(guidance) * (cond - uncond)

        def row_step(r, codes):
            links = self.vertical_links(self.embedding(twice(codes)), biases)
            row_links = [ops.expand_dims(ops.take(link, r, axis=1), 1) for link in links]
            row_noise = ops.take(gumbel, r, axis=1)  # (n, w, K)

            def col_step(c, codes):
                row = ops.expand_dims(ops.take(codes, r, axis=1), 1)  # (n, 1, w)
                logits = self.horizontal_logits(self.embedding(twice(row)), row_links, biases)[:, 0]
                logits = combine(ops.take(logits, c, axis=1))
                scores = logits * inv_t + ops.take(row_noise, c, axis=1)
                new = ops.cast(ops.argmax(scores, axis=-1), "int32")
                here = ops.logical_and(ops.expand_dims(rows == r, 1), ops.expand_dims(cols == c, 0))
                return ops.where(ops.expand_dims(here, 0), new[:, None, None], codes)

            return ops.fori_loop(0, w, col_step, codes)

        return ops.fori_loop(0, h, row_step, ops.zeros((n, h, w), dtype="int32"))

    def build(self, codes_shape, labels_shape=None):
        f, f2 = self.filters, 2 * self.filters
        self.embedding.build(tuple(codes_shape))
        for i in range(self.num_layers):
            self.vertical[i].build((None, None, None, f))
            self.horizontal[i].build((None, None, None, f))
            self.vertical_to_horizontal[i].build((None, None, None, f2))
            self.horizontal_out[i].build((None, None, None, f))
            if self.class_bias:
                self.class_bias[i].build((None,))
        self.head.build((None, None, None, f))
        self.logits.build((None, None, None, f2))
        self.built = True

    def compute_output_spec(self, codes, labels=None, training=False):
        return keras.KerasTensor(tuple(codes.shape) + (self.num_codes,), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(num_codes=self.num_codes, filters=self.filters, num_layers=self.num_layers,
                      kernel_size=self.kernel_size, num_classes=self.num_classes,
                      label_dropout=self.label_dropout, guidance=self.guidance, seed=self.seed)
        return config
