"""The `"prior"` probe: the likelihood of a VQ-VAE with a prior over its codes.

- `prior_bits_per_code`: `-log2 p(codes | label)` of the test images'
  code grids under the prior, per code, with each image's true label for a
  class-conditional prior (the "no label" class when the data has no
  labels, or for an unconditional prior).
- `bits_per_dim`: an upper bound on the model's `-log2 p(x)` per
  dimension, as the VQ-VAE paper reports it: the code grid is the
  posterior's one value, so `-log p(x) <= -log p(x | z) - log p(z)`.
  `-log p(z)` is the prior's code length of the grid, plus `log2(C)` bits
  for a class-conditional prior with true labels (`p(z) >= p(z | y) p(y)`,
  with the uniform `p(y)` that `sample` draws its labels from). `-log p(x |
  z)` is the discretized Gaussian of `keras_genae.evaluation.likelihood`
  around the decoded image, whose one parameter `decoder_sigma` is the
  best of `SIGMAS` on the evaluated images.
"""

import math

import numpy as np
from keras import ops

from keras_genae.evaluation.base import Probe
from keras_genae.evaluation.likelihood import discretized_gaussian_log_likelihood
from keras_genae.models import VQVAE

#: The decoder standard deviations tried for `bits_per_dim` (log-spaced).
SIGMAS = tuple(float(s) for s in np.geomspace(0.01, 0.3, 16))


class PriorLikelihood(Probe):
    name, requires, model_class = "prior", "sample", VQVAE

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.code_nats = 0.0
        self.log_lik = np.zeros(len(SIGMAS))
        self.count = 0
        self.labeled = None

    def update(self, batch):
        model = self.model
        codes = model.encode(batch.x)
        labels = batch.labels if model.uses_labels else None
        if self.labeled is None:
            self.labeled = labels is not None
        if (labels is not None) != self.labeled:
            raise ValueError("The prior probe needs labels on every batch or on none.")
        nll = model.prior_nll(codes, labels=None if labels is None else np.asarray(labels, "int32"))
        self.code_nats += float(np.sum(ops.convert_to_numpy(nll)))
        mean = model.decode(codes)
        for i, sigma in enumerate(SIGMAS):
            ll = discretized_gaussian_log_likelihood(batch.x, mean, sigma)
            self.log_lik[i] += float(np.sum(ops.convert_to_numpy(ll)))
        self.count += batch.size

    def result(self):
        h, w = self.model.latent_shape
        dims = int(np.prod(self.model.image_shape))
        code_bits = self.code_nats / max(self.count, 1) / math.log(2)
        label_bits = math.log2(self.model.prior.num_classes) if self.labeled else 0.0
        best = int(np.argmax(self.log_lik))
        decoder_bits = -self.log_lik[best] / max(self.count, 1) / math.log(2)
        return {
            "prior_bits_per_code": code_bits / (h * w),
            "prior_bits_per_image": code_bits + label_bits,
            "bits_per_dim": (code_bits + label_bits + decoder_bits) / dims,
            "decoder_sigma": SIGMAS[best],
        }
