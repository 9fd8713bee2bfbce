"""Spectrally normalized convolution and dense layers, for discriminators."""

import keras
from keras import layers
from keras import ops


def _l2_normalize(x):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-12)


class _SpectralNorm:
    """The shared part: `kernel / sigma`, with `sigma` the largest singular
    value of the kernel (as a `(fan_in, units)` matrix) estimated by one
    power iteration per training call. The estimate's vector `u` is a
    non-trainable weight updated in the forward pass (as BatchNorm's
    statistics are), and the gradient flows through `kernel / sigma` with
    `u` and `v` held constant (Miyato et al., 2018). The kernel variable
    itself is never overwritten, so every backend differentiates the same
    function."""

    def __init__(self, *args, seed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed = seed

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(
            shape=(1, self.kernel.shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
            trainable=False, name="spectral_u", dtype="float32")

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    # Saved as plain layers save (every variable in order): `Dense` and
    # `Conv2D` save only their kernel and bias.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def normalized_kernel(self, training):
        w = ops.cast(self.kernel, "float32")
        matrix = ops.reshape(w, (-1, w.shape[-1]))
        u = ops.convert_to_tensor(self.u)
        v = _l2_normalize(ops.matmul(u, ops.transpose(matrix)))
        new_u = ops.stop_gradient(_l2_normalize(ops.matmul(v, matrix)))
        v = ops.stop_gradient(v)
        if training:
            self.u.assign(new_u)
        sigma = ops.sum(ops.matmul(v, matrix) * new_u)
        return ops.cast(w / sigma, self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_genae")
class SpectralConv2D(_SpectralNorm, layers.Conv2D):
    """`Conv2D` whose kernel is divided by its spectral norm.

    Args:
        seed: int or None. Seed of the power iteration's start vector.
            Defaults to `None`.
        **kwargs: `keras.layers.Conv2D` arguments.

    References:
        - [Miyato et al., 2018](https://arxiv.org/abs/1802.05957)

    Example:
    >>> conv = SpectralConv2D(8, 3, strides=2, padding="same")
    >>> conv(np.zeros((2, 8, 8, 3), "float32")).shape
    (2, 4, 4, 8)
    """

    def call(self, inputs, training=False):
        out = ops.conv(inputs, self.normalized_kernel(training), strides=self.strides,
                       padding=self.padding, data_format=self.data_format,
                       dilation_rate=self.dilation_rate)
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out


@keras.saving.register_keras_serializable(package="keras_genae")
class SpectralDense(_SpectralNorm, layers.Dense):
    """`Dense` whose kernel is divided by its spectral norm.

    Args:
        seed: int or None. Seed of the power iteration's start vector.
            Defaults to `None`.
        **kwargs: `keras.layers.Dense` arguments.

    References:
        - [Miyato et al., 2018](https://arxiv.org/abs/1802.05957)

    Example:
    >>> SpectralDense(4)(np.zeros((2, 3), "float32")).shape
    (2, 4)
    """

    def call(self, inputs, training=False):
        out = ops.matmul(inputs, self.normalized_kernel(training))
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out
