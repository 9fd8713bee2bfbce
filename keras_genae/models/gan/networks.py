"""The DCGAN's two networks, and the moving average of the generator's
weights that it samples with."""

import keras
from keras import layers
from keras import ops

from keras_genae.layers.spectral_norm import SpectralConv2D
from keras_genae.layers.spectral_norm import SpectralDense

#: The generator's upsampling blocks: a stride-2 transposed convolution,
#: or nearest-neighbour resizing followed by a convolution (Odena et al.,
#: 2016, "Deconvolution and checkerboard artifacts").
UPSAMPLING = ("transpose", "resize")


def make_generator(latent_shape_hw, channels, filters, kernel_size, upsampling, dtype,
                   name="generator"):
    """`Dense -> BN -> LeakyReLU -> Reshape`, then `len(filters) - 1`
    upsampling blocks with BN and LeakyReLU, and a last upsampling to the
    image channels (pre-activation)."""
    h0, w0 = latent_shape_hw
    k = kernel_size

    def up(n, i, bias):
        if upsampling == "transpose":
            return [layers.Conv2DTranspose(n, k, strides=2, padding="same", use_bias=bias,
                                           dtype=dtype, name=f"up_{i}")]
        return [layers.UpSampling2D(2, interpolation="nearest", dtype=dtype, name=f"resize_{i}"),
                layers.Conv2D(n, k, padding="same", use_bias=bias, dtype=dtype, name=f"up_{i}")]

    stack = [
        layers.Dense(h0 * w0 * filters[0], use_bias=False, dtype=dtype, name="project"),
        layers.BatchNormalization(momentum=0.9, dtype=dtype, name="project_bn"),
        layers.LeakyReLU(0.2, dtype=dtype, name="project_act"),
        layers.Reshape((h0, w0, filters[0]), dtype=dtype, name="reshape"),
    ]
    for i, n in enumerate(filters[1:]):
        stack += up(n, i, False) + [
            layers.BatchNormalization(momentum=0.9, dtype=dtype, name=f"bn_{i}"),
            layers.LeakyReLU(0.2, dtype=dtype, name=f"act_{i}"),
        ]
    if upsampling == "transpose":
        stack.append(layers.Conv2DTranspose(channels, k, strides=2, padding="same",
                                            dtype=dtype, name="to_image"))
    else:
        stack += [layers.UpSampling2D(2, interpolation="nearest", dtype=dtype, name="resize_out"),
                  layers.Conv2D(channels, k, padding="same", dtype=dtype, name="to_image")]
    return keras.Sequential(stack, name=name)


def make_discriminator(filters, kernel_size, spectral_norm, dtype, seed=None):
    """Stride-2 `Conv2D -> LeakyReLU(0.2)` per entry of `filters`, then a
    dense logit; spectrally normalized with `spectral_norm`."""
    conv = SpectralConv2D if spectral_norm else layers.Conv2D
    dense = SpectralDense if spectral_norm else layers.Dense
    extra = (lambda i: {"seed": None if seed is None else seed + i}) if spectral_norm else (lambda i: {})
    stack = []
    for i, n in enumerate(filters):
        stack += [
            conv(n, kernel_size, strides=2, padding="same", dtype=dtype, name=f"down_{i}", **extra(i)),
            layers.LeakyReLU(0.2, dtype=dtype, name=f"act_{i}"),
        ]
    stack += [layers.Flatten(dtype=dtype, name="flatten"),
              dense(1, dtype=dtype, name="logit", **extra(len(filters)))]
    return keras.Sequential(stack, name="discriminator")


def make_class_projection(num_classes, image_hw, filters, dtype):
    """The class embeddings of a projection discriminator (Miyato and
    Koyama, 2018), one row per class and one for unlabeled batches, of the
    size of the discriminator's flattened features; None if `num_classes`
    is 0."""
    if not num_classes:
        return None
    h, w = image_hw
    for _ in filters:  # stride-2 "same" convolutions
        h, w = -(-h // 2), -(-w // 2)
    return keras.layers.Embedding(num_classes + 1, filters[-1] * h * w, dtype=dtype,
                                  name="class_projection")


def projection_logits(discriminator, projection, x, labels, training):
    """`D(x, y) = w . h(x) + e_y . h(x)`, with `h` the discriminator's
    features before its logit layer `w` and `e_y` the class embedding."""
    h = x
    for layer in discriminator.layers[:-1]:
        h = layer(h, training=training)
    logit = discriminator.layers[-1](h, training=training)
    e = projection(ops.cast(ops.reshape(labels, (-1,)), "int32"))
    return logit + ops.sum(e * h, axis=-1, keepdims=True)


def copy_weights(target, source):
    """Set every variable of `target` to a copy of that of `source` (same
    architecture; a copy, as JAX may not hand one buffer to two variables)."""
    for t, s in zip(target.variables, source.variables):
        t.assign(ops.convert_to_numpy(s))


def ema_update(target, source, decay, count):
    """One step of the moving average `target <- d * target + (1 - d) *
    source` over every variable (weights and BatchNorm statistics), with
    `d = min(decay, (1 + t) / (10 + t))` after `t` updates, the warm-up of
    TensorFlow's `ExponentialMovingAverage`, so that early weights fade
    fast. `count` (a float variable) counts the updates."""
    t = ops.convert_to_tensor(count)
    d = ops.minimum(decay, (1.0 + t) / (10.0 + t))
    for tv, sv in zip(target.variables, source.variables):
        value = ops.stop_gradient(ops.cast(sv, tv.dtype))
        tv.assign(ops.cast(d, tv.dtype) * tv + (1.0 - ops.cast(d, tv.dtype)) * value)
    count.assign(t + 1.0)
