"""Convolutional building blocks shared by every model family."""

import keras
from keras import layers

from keras_genae.utils.validation import check_positive_int
from keras_genae.utils.validation import check_spatial_divisible


def _as_int_tuple(value, name):
    if isinstance(value, int):
        value = (value,)
    value = tuple(value)
    if not value or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(
            f"`{name}` must be a non-empty sequence of positive integers. "
            f"Received: {name}={value}"
        )
    return value


@keras.saving.register_keras_serializable(package="keras_genae")
class ResidualBlock(layers.Layer):
    """Pre-activation residual block: `x + conv1x1(relu(conv3x3(relu(x))))`.

    Convolutions in the conv stacks use He initialization, which keeps the
    activations of deep ReLU stacks from vanishing.

    Args:
        filters: int. Number of channels of the input and output.
        hidden_filters: int. Channels of the inner 3x3 convolution. Defaults
            to `filters // 2` (at least 1).
        **kwargs: base layer arguments such as `name` and `dtype`.

    References:
        - [van den Oord et al., 2017](https://arxiv.org/abs/1711.00937),
          the residual stack of the VQ-VAE.

    Example:
    >>> block = ResidualBlock(16)
    >>> block(keras.ops.zeros((2, 8, 8, 16))).shape
    (2, 8, 8, 16)
    """

    def __init__(self, filters, hidden_filters=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(filters, "filters")
        if hidden_filters is not None:
            check_positive_int(hidden_filters, "hidden_filters")
        self.filters = filters
        self.hidden_filters = hidden_filters
        hidden = hidden_filters or max(filters // 2, 1)
        self.conv1 = layers.Conv2D(
            hidden, 3, padding="same", kernel_initializer="he_uniform",
            dtype=self.dtype_policy, name="conv1",
        )
        self.conv2 = layers.Conv2D(
            filters, 1, padding="same", kernel_initializer="he_uniform",
            dtype=self.dtype_policy, name="conv2",
        )

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, x):
        h = self.conv1(keras.ops.relu(x))
        h = self.conv2(keras.ops.relu(h))
        return x + h

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"filters": self.filters, "hidden_filters": self.hidden_filters}
        )
        return config


class _ConvStack(layers.Layer):
    """A sequence of layers built and called in order; the shared body of
    `ConvEncoder` and `ConvDecoder`. Subclasses fill `self.stack`."""

    def __init__(
        self,
        filters,
        num_res_blocks=0,
        kernel_size=4,
        use_batchnorm=False,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _as_int_tuple(filters, "filters")
        if isinstance(num_res_blocks, bool) or not isinstance(num_res_blocks, int) or num_res_blocks < 0:
            raise ValueError(
                "`num_res_blocks` must be a non-negative integer. "
                f"Received: num_res_blocks={num_res_blocks}"
            )
        check_positive_int(kernel_size, "kernel_size")
        self.num_res_blocks = num_res_blocks
        self.kernel_size = kernel_size
        self.use_batchnorm = use_batchnorm
        self.activation = activation
        self.levels = len(self.filters)
        self.stack = []

    def _add_level(self, conv_cls, filters, i, prefix):
        """A strided (transposed) convolution, optional BN, activation."""
        self.stack.append(
            conv_cls(
                filters,
                self.kernel_size,
                strides=2,
                padding="same",
                kernel_initializer="he_uniform",
                dtype=self.dtype_policy,
                name=f"{prefix}_{i}",
            )
        )
        if self.use_batchnorm:
            self.stack.append(
                layers.BatchNormalization(dtype=self.dtype_policy, name=f"bn_{i}")
            )
        self.stack.append(
            layers.Activation(self.activation, dtype=self.dtype_policy, name=f"act_{i}")
        )

    def _add_res_blocks(self, filters, out_name):
        for i in range(self.num_res_blocks):
            self.stack.append(
                ResidualBlock(filters, dtype=self.dtype_policy, name=f"res_{i}")
            )
        if self.num_res_blocks:
            self.stack.append(
                layers.Activation("relu", dtype=self.dtype_policy, name=out_name)
            )

    def build(self, input_shape):
        shape = input_shape
        for layer in self.stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training=None):
        for layer in self.stack:
            if isinstance(layer, layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": list(self.filters),
                "num_res_blocks": self.num_res_blocks,
                "kernel_size": self.kernel_size,
                "use_batchnorm": self.use_batchnorm,
                "activation": self.activation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_genae")
class ConvEncoder(_ConvStack):
    """Stack of strided convolutions that halves the resolution per level.

    The output is a feature map of shape
    `(batch, H / 2**levels, W / 2**levels, filters[-1])`, where
    `levels = len(filters)`. Convolutions use He initialization, which keeps
    the activations of deep ReLU stacks from vanishing.

    Args:
        filters: sequence of int. Channels of each downsampling level.
            Defaults to `(32, 64)`.
        num_res_blocks: int. Residual blocks after the last level.
            Defaults to `0`.
        kernel_size: int. Kernel size of the strided convolutions.
            Defaults to `4`.
        use_batchnorm: bool. Batch normalization after each strided
            convolution. Defaults to `False`.
        activation: str. Activation after each level. Defaults to `"relu"`.
        **kwargs: base layer arguments.

    Example:
    >>> enc = ConvEncoder(filters=(32, 64))
    >>> enc(keras.ops.zeros((2, 28, 28, 1))).shape
    (2, 7, 7, 64)
    """

    def __init__(self, filters=(32, 64), **kwargs):
        super().__init__(filters=filters, **kwargs)
        for i, f in enumerate(self.filters):
            self._add_level(layers.Conv2D, f, i, "down")
        self._add_res_blocks(self.filters[-1], out_name="out")

    def build(self, input_shape):
        check_spatial_divisible(input_shape[1:], self.levels)
        super().build(input_shape)


@keras.saving.register_keras_serializable(package="keras_genae")
class ConvDecoder(_ConvStack):
    """Mirror of `ConvEncoder`: transposed convolutions that double the
    resolution per level, then a 3x3 convolution to `channels` outputs.

    The decoder returns its raw output: logits for models with a Bernoulli
    likelihood, or the image itself for squared-error models (see
    `GenerativeAutoencoder.images_from_output`).

    Args:
        channels: int. Channels of the output image.
        filters: sequence of int. Channels of each upsampling level, from
            the lowest resolution up. Defaults to `(64, 32)`.
        num_res_blocks: int. Residual blocks before the first level.
            Defaults to `0`.
        kernel_size: int. Kernel size of the transposed convolutions.
            Defaults to `4`.
        use_batchnorm: bool. Defaults to `False`.
        activation: str. Defaults to `"relu"`.
        **kwargs: base layer arguments.

    Example:
    >>> dec = ConvDecoder(channels=1, filters=(64, 32))
    >>> dec(keras.ops.zeros((2, 7, 7, 64))).shape
    (2, 28, 28, 1)
    """

    def __init__(self, channels, filters=(64, 32), **kwargs):
        super().__init__(filters=filters, **kwargs)
        check_positive_int(channels, "channels")
        self.channels = channels
        if self.num_res_blocks:
            self.stack.append(
                layers.Conv2D(
                    self.filters[0],
                    3,
                    padding="same",
                    kernel_initializer="he_uniform",
                    dtype=self.dtype_policy,
                    name="res_in",
                )
            )
        self._add_res_blocks(self.filters[0], out_name="res_out")
        for i, f in enumerate(self.filters):
            self._add_level(layers.Conv2DTranspose, f, i, "up")
        self.stack.append(
            layers.Conv2D(
                channels, 3, padding="same", dtype=self.dtype_policy, name="logits"
            )
        )

    def get_config(self):
        config = super().get_config()
        config["channels"] = self.channels
        return config


@keras.saving.register_keras_serializable(package="keras_genae")
class DenseBottleneck(layers.Layer):
    """Flatten a feature map and project it to a vector (encoder side), or
    project a vector and reshape it to a feature map (decoder side).

    Args:
        units: int. Output size for `mode="flatten"`.
        target_shape: tuple of 3 ints. Feature-map shape for
            `mode="unflatten"`.
        mode: `"flatten"` or `"unflatten"`.
        **kwargs: base layer arguments.

    Example:
    >>> head = DenseBottleneck(units=16, mode="flatten")
    >>> head(keras.ops.zeros((2, 7, 7, 8))).shape
    (2, 16)
    """

    def __init__(self, units=None, target_shape=None, mode="flatten", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("flatten", "unflatten"):
            raise ValueError(
                "`mode` must be 'flatten' or 'unflatten'. "
                f"Received: mode={mode!r}"
            )
        self.units = units
        self.target_shape = tuple(target_shape) if target_shape else None
        self.mode = mode
        if mode == "flatten":
            check_positive_int(units, "units")
            self.dense = layers.Dense(units, dtype=self.dtype_policy, name="dense")
        else:
            size = 1
            for d in self.target_shape:
                size *= d
            self.dense = layers.Dense(size, dtype=self.dtype_policy, name="dense")

    def build(self, input_shape):
        if self.mode == "flatten":
            flat = 1
            for d in input_shape[1:]:
                flat *= d
            self.dense.build((input_shape[0], flat))
        else:
            self.dense.build(input_shape)

    def call(self, x):
        if self.mode == "flatten":
            x = keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))
            return self.dense(x)
        x = self.dense(x)
        return keras.ops.reshape(x, (-1,) + self.target_shape)

    def compute_output_shape(self, input_shape):
        if self.mode == "flatten":
            return (input_shape[0], self.units)
        return (input_shape[0],) + self.target_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "target_shape": list(self.target_shape)
                if self.target_shape
                else None,
                "mode": self.mode,
            }
        )
        return config
