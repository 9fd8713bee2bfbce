"""The `sample` endpoints: images from noise drawn outside the graph.

An exported graph holds no random op, so that it is deterministic: the
caller draws the prior's noise (and, for a class-conditional prior, the
labels) and the endpoint maps it to images, as `model.sample` does after
its draw:

- VAE, an AAE with a Gaussian or uniform prior, DCGAN: `noise` `(n,
  latent_dim)` from the prior (N(0, I); U(-1, 1) for a uniform AAE),
  decoded. A conditional DCGAN and a supervised AAE (`num_classes`) also
  take `labels` `(n,)` int32, decoded as one-hots beside the noise.
- AAE with a mixture prior: `noise` `(n, latent_dim)` N(0, I) and the
  mixture `labels` `(n,)` int32: `z = mean(labels) + std * noise`.
- An AAE with `ex_post_density`: `noise` `(n, latent_dim)` N(0, I) (and
  class `labels` `(n,)` int32, class-conditional models): `z = mean(labels)
  + L(labels) @ noise`, the class's Gaussian fitted to the codes.
- An AAE scales its noise by its `temperature` in the graph, as
  `model.sample` does by default (`prior_draws`, `ClassGaussians.draw`).
- VQ-VAE with a PixelCNN prior: `noise` `(n, h, w, num_embeddings)`
  uniform in (0, 1) (and `labels` `(n,)` int32 for a class-conditional
  prior; the value `num_classes` means "no label"): the codes are drawn in
  raster order by Gumbel-max, `argmax(logits + gumbel(noise))`, in a loop
  of `h * w` steps inside the graph (temperature 1, the prior's own
  guidance), then decoded. The same noise gives the same codes as
  `GatedPixelCNN.sample_codes`, which draws it with `keras.random.uniform`.

`noise_sampler(model, batch_size)` returns `(inputs, fn, doc)`; a model
class is added with `@noise_sampler.register(ModelClass)`, and the
backends it cannot be exported on with `@not_exportable_on.register`.

On PyTorch the VQ-VAE's `sample` is not exported: Keras' `fori_loop` is a
Python loop there, so an exporter traces `h * w` copies of the step (256
on CIFAR-10), and `torch.onnx` cannot convert the step's ops
(`aten::ravel`). It exports on TensorFlow (SavedModel, ONNX, LiteRT) and on
JAX (SavedModel), where the loop is one graph op.
"""

import functools

from keras import ops

from keras_genae.models.aae.aae import AdversarialAutoencoder
from keras_genae.models.gan.dcgan import DCGAN
from keras_genae.models.vae.vae import VAE
from keras_genae.export.specs import TensorInfo
from keras_genae.models.vqvae.vqvae import VQVAE

#: Uniform noise is clipped to this open interval, as `sample_codes` draws it.
UNIFORM_EPS = 1e-6


class NotExportableError(ValueError):
    """An endpoint that cannot be built as a deterministic graph."""


def _info(name, shape, dtype):
    return TensorInfo(name, shape, dtype)


def _labels_info(batch_size):
    return _info("labels", (batch_size,), "int32")


@functools.singledispatch
def noise_sampler(model, batch_size=None):
    """`(inputs, fn, doc)` of the `sample` endpoint of `model`.

    Raises:
        NotExportableError: a model class with a prior but no known
            noise-to-images map.
    """
    raise NotExportableError(
        f"{type(model).__name__} declares `sample`, but keras_genae.export has no noise-in "
        "sampler for it: register one with `@keras_genae.export.noise.noise_sampler.register`, "
        "or export the other endpoints (`endpoints=[...]`).")


@noise_sampler.register(VAE)
def _vae(model, batch_size=None):
    noise = _info("noise", (batch_size, model.latent_dim), "float32")
    return [noise], lambda noise: model.decode(noise), "noise ~ N(0, I) -> decoded images"


@noise_sampler.register(AdversarialAutoencoder)
def _aae(model, batch_size=None):
    noise = _info("noise", (batch_size, model.latent_dim), "float32")
    scaled = f", scaled by the temperature {model.temperature:g}" if model.temperature != 1.0 else ""
    if model.ex_post_density:
        return _aae_code_density(model, noise, batch_size, scaled)
    if model.prior in ("gaussian", "uniform"):
        law = "N(0, I)" if model.prior == "gaussian" else "U(-1, 1)"
        if model.decoder_classes:  # a supervised AAE: the decoder reads the class
            return _class_conditional(model, noise, batch_size, f"noise ~ {law} (the style prior){scaled}",
                                      "decoded images", model.prior_draws)
        return ([noise], lambda noise: model.decode(model.prior_draws(noise)),
                f"noise ~ {law} (the prior){scaled} -> decoded images")
    k = model.prior_components

    def sample(noise, labels):
        return model.decode(model.prior_draws(noise, components=labels))

    return ([noise, _labels_info(batch_size)], sample,
            f"noise ~ N(0, I){scaled} and mixture components `labels` in [0, {k}) -> decoded images")


def _aae_code_density(model, noise, batch_size, scaled):
    """An AAE that samples from the Gaussians fitted to its codes: `noise`
    N(0, I) (and the class `labels` of a class-conditional model) mapped to
    `mean + temperature * L @ noise` of each class's Gaussian."""
    density, temperature = model.code_density, model.temperature
    if not model.num_classes:
        def sample(noise):
            return model.decode(density.draw(ops.zeros((ops.shape(noise)[0],), "int32"), noise, temperature))

        return [noise], sample, f"noise ~ N(0, I){scaled} -> the fitted code Gaussian -> decoded images"

    def sample(noise, labels):
        z = density.draw(labels, noise, temperature)
        if model.decoder_classes:
            z = ops.concatenate([z, ops.one_hot(labels, model.num_classes)], axis=-1)
        return model.decode(z)

    return ([noise, _labels_info(batch_size)], sample,
            f"noise ~ N(0, I){scaled} and class `labels` in [0, {model.num_classes}) -> the class's "
            "fitted code Gaussian -> decoded images")


@noise_sampler.register(DCGAN)
def _dcgan(model, batch_size=None):
    noise = _info("noise", (batch_size, model.latent_dim), "float32")
    if not model.num_classes:
        return [noise], lambda noise: model.decode(noise), "noise ~ N(0, I) -> generated images"
    return _class_conditional(model, noise, batch_size, "noise ~ N(0, I)", "generated images")


def _class_conditional(model, noise, batch_size, law, result, draws=None):
    """The endpoint of a model whose decoder reads the one-hot class beside
    the noise (a conditional DCGAN, a supervised AAE), the noise mapped by
    `draws` first where given."""
    classes = model.num_classes

    def sample(noise, labels):
        z = noise if draws is None else draws(noise)
        return model.decode(ops.concatenate([z, ops.one_hot(labels, classes)], axis=-1))

    return ([noise, _labels_info(batch_size)], sample,
            f"{law} and class `labels` in [0, {classes}) -> {result}")


@functools.singledispatch
def not_exportable_on(model):
    """Backend -> why `model`'s `sample` endpoint cannot be exported there."""
    return {}


@not_exportable_on.register(VQVAE)
def _vqvae_backends(model):
    h, w = (int(d) for d in model.latent_shape)
    return {"torch": (
        f"the PixelCNN prior draws the {h * w} codes in a loop, which the PyTorch backend runs "
        "as Python (an exporter would trace every step) and torch.onnx cannot convert "
        "(aten::ravel); export `sample` on the tensorflow backend (SavedModel, ONNX, LiteRT) "
        "or the jax backend (SavedModel)")}


@noise_sampler.register(VQVAE)
def _vqvae(model, batch_size=None):
    h, w = (int(d) for d in model.latent_shape)
    noise = _info("noise", (batch_size, h, w, model.num_embeddings), "float32")
    classes = model.prior.num_classes
    doc = (f"uniform noise in (0, 1) for the {h}x{w} code grid's Gumbel-max draws"
           + (f" and class `labels` in [0, {classes}] ({classes}: no label)" if classes else "")
           + f" -> images; the PixelCNN prior draws the {h * w} codes one by one in the graph")
    if classes:
        return ([noise, _labels_info(batch_size)],
                lambda noise, labels: model.decode(pixelcnn_codes(model.prior, noise, labels)), doc)
    return [noise], lambda noise: model.decode(pixelcnn_codes(model.prior, noise, None)), doc


def pixelcnn_codes(prior, noise, labels=None):
    """Code grids `(n, h, w)` int32 drawn by the gated PixelCNN `prior`
    from uniform `noise` `(n, h, w, K)`: `GatedPixelCNN.sample_codes` at
    temperature 1 with the prior's guidance, the noise given instead of
    drawn (the vertical stack once per row, the horizontal one per code).
    """
    n = ops.shape(noise)[0]
    h, w = int(noise.shape[1]), int(noise.shape[2])
    gumbel = -ops.log(-ops.log(ops.clip(noise, UNIFORM_EPS, 1.0 - UNIFORM_EPS)))
    guidance = float(getattr(prior, "guidance", 0.0)) if labels is not None else 0.0
    guided = guidance > 0
    labels = prior._labels(labels, n, False)
    if guided:  # the conditional grids, then the same grids with "no label"
        labels = ops.concatenate([labels, ops.full_like(labels, prior.num_classes)], 0)
    biases = prior._biases(labels)
    rows, cols = ops.arange(h, dtype="int32"), ops.arange(w, dtype="int32")

    def twice(x):
        return ops.concatenate([x, x], 0) if guided else x

    def combine(logits):
        if not guided:
            return logits
        cond, uncond = ops.split(logits, 2, axis=0)
        return cond + guidance * (cond - uncond)

    def row_step(r, codes):
        links = prior.vertical_links(prior.embedding(twice(codes)), biases)
        row_links = [ops.expand_dims(ops.take(link, r, axis=1), 1) for link in links]
        row_noise = ops.take(gumbel, r, axis=1)

        def col_step(c, codes):
            row = ops.expand_dims(ops.take(codes, r, axis=1), 1)
            logits = prior.horizontal_logits(prior.embedding(twice(row)), row_links, biases)[:, 0]
            scores = combine(ops.take(logits, c, axis=1)) + ops.take(row_noise, c, axis=1)
            new = ops.cast(ops.argmax(scores, axis=-1), "int32")
            here = ops.logical_and(ops.expand_dims(rows == r, 1), ops.expand_dims(cols == c, 0))
            return ops.where(ops.expand_dims(here, 0), new[:, None, None], codes)

        return ops.fori_loop(0, w, col_step, codes)

    return ops.fori_loop(0, h, row_step, ops.zeros((n, h, w), dtype="int32"))
