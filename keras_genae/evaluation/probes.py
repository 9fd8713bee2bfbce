"""The probes of `keras_genae.evaluation.evaluate`: one quality measure each.

A probe sees every batch of the evaluation data once (`prepare`, then
`update`) and returns its metrics at the end (`result`). `PROBES` names them;
a family lists the ones that fit its models (`Family.probes`), and
`evaluate(..., probes=...)` picks others.

| name | metrics | models |
|---|---|---|
| `"reconstruction"` | `mse`, `psnr` (dB), `ssim` | those that reconstruct |
| `"denoising"` | `noisy_psnr`, `psnr_gain` | those that reconstruct |
| `"likelihood"` | `neg_elbo`, `kl` (nats), `bits_per_dim` | VAEs |
| `"is_nll"` | `is_nll` (nats), `is_nll_k`, `is_nll_bits_per_dim` | VAEs |
| `"codebook"` | `codebook_usage`, `codes_used`, `perplexity` | VQ-VAEs |
| `"prior"` | `prior_bits_per_code`, `prior_bits_per_image`, `bits_per_dim`, `decoder_sigma` | VQ-VAEs with a prior (`keras_genae.evaluation.prior`) |
| `"frechet"` | `frechet_distance`, `num_samples`, `precision`, `recall`, `class_share_<k>`, `class_share_min`, `class_share_max` | those that sample |
| `"classification"` | `test_accuracy`, `frechet_distance_train_test` | classifiers |

Conventions:

- MSE is the mean over pixels and images. PSNR is `10 log10(1 / MSE_i)` per
  image (data range 1), averaged over images; an exact reconstruction has
  infinite PSNR. SSIM is `keras_genae.evaluation.image_metrics.ssim`.
- Denoising: the inputs get the model's own training noise
  (`DenoisingAutoencoder.noise_type` and `noise_level`), or additive
  Gaussian noise of `noise_stddev` (clipped to [0, 1]) when `evaluate` is
  given one; the reconstruction metrics then compare the denoised output
  with the clean images, `noisy_psnr` the noisy input with them.
- Likelihoods: see `keras_genae.evaluation.likelihood`.
- Codebook: `codebook_usage` is the share of the codes used at least once
  over the whole set, `perplexity` the `exp` of the entropy of the code
  histogram (the effective number of codes).
- Fréchet: `num_samples` samples against the images of the data (or of
  `fd_reference`), in the penultimate features of a `classifier`. For a
  classifier, `class_share_<k>` is the share of the samples that the
  classifier assigns to class `k` (a sampler that covers the data evenly
  gives `1 / num_classes` each). `precision` and `recall` are the
  improved precision and recall of the samples in the same features, k = 3
  (`keras_genae.evaluation.precision_recall`). For a
  classifier, `frechet_distance_train_test` compares the train images of
  `fd_reference` with the data in its own features: the scale of the model
  distances.
"""

import logging
import math

import keras
import numpy as np
from keras import ops

from keras_genae.evaluation.base import Mean
from keras_genae.evaluation.base import Probe
from keras_genae.evaluation.frechet import FeatureStatistics
from keras_genae.evaluation.frechet import frechet_distance
from keras_genae.evaluation.frechet import iter_image_batches
from keras_genae.evaluation.image_metrics import ssim
from keras_genae.evaluation.precision_recall import DEFAULT_K as PRECISION_RECALL_K
from keras_genae.evaluation.precision_recall import precision_recall
from keras_genae.evaluation.prior import PriorLikelihood
from keras_genae.evaluation import likelihood
from keras_genae.metrics import mse_per_image
from keras_genae.metrics import psnr
from keras_genae.models import VAE
from keras_genae.models import VQVAE
from keras_genae.models import DenoisingAutoencoder

logger = logging.getLogger(__name__)


def _is_binary(x):
    return bool(ops.all(ops.logical_or(ops.equal(x, 0.0), ops.equal(x, 1.0))))


class Reconstruction(Probe):
    name, requires = "reconstruction", "reconstruct"

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.sums = {k: Mean() for k in ("mse", "psnr", "ssim")}

    def update(self, batch):
        y = batch.reconstruction(self.model)
        for key, metric in (("mse", mse_per_image), ("psnr", psnr), ("ssim", ssim)):
            self.sums[key].update(metric(batch.x, y))

    def result(self):
        return {k: s.result() for k, s in self.sums.items()}


class Denoising(Probe):
    name, requires = "denoising", "reconstruct"

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.noisy, self.denoised = Mean(), Mean()

    @classmethod
    def unavailable(cls, model, settings):
        if settings.noise_stddev is None and not isinstance(model, DenoisingAutoencoder):
            return ("it needs `noise_stddev=` or a model with its own noise (a "
                    "DenoisingAutoencoder)")
        return super().unavailable(model, settings)

    def prepare(self, batch):
        seeds, stddev = self.settings.seeds, self.settings.noise_stddev
        if stddev is None:
            batch.inputs = self.model.corrupt(batch.x, seed=seeds)
        else:
            noise = keras.random.normal(ops.shape(batch.x), stddev=stddev, seed=seeds)
            batch.inputs = ops.clip(batch.x + noise, 0.0, 1.0)

    def update(self, batch):
        self.noisy.update(psnr(batch.x, batch.inputs))
        self.denoised.update(psnr(batch.x, batch.reconstruction(self.model)))

    def result(self):
        noisy = self.noisy.result()
        return {"noisy_psnr": noisy, "psnr_gain": self.denoised.result() - noisy}


class _VAEProbe(Probe):
    model_class = VAE

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.dims = int(np.prod(model.image_shape))
        self.gaussian = model.likelihood == "gaussian"
        self.binary = True

    def _bits_per_dim(self, nats, discrete_nats, key):
        """`{key: bits/dim}` of the discrete likelihood, or nothing (with a
        warning) for a Bernoulli VAE on grey images."""
        if self.gaussian:
            return {key: discrete_nats / (self.dims * math.log(2.0))}
        if self.binary:
            return {key: nats / (self.dims * math.log(2.0))}
        logger.warning(
            "The data is not binary, so the Bernoulli negative ELBO is no "
            f"likelihood and {key} is left out. Evaluate on binarized "
            "images: keras_genae.data.load_dataset(..., binarize='static')."
        )
        return {}

    def _check_binary(self, x):
        if not self.gaussian and self.binary:
            self.binary = _is_binary(x)


class Likelihood(_VAEProbe):
    name = "likelihood"

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.neg_elbo, self.kl, self.discrete = Mean(), Mean(), Mean()

    def update(self, batch):
        kl, log_lik, discrete = likelihood.elbo_terms(self.model, batch.x, self.settings.seeds)
        self.kl.update(kl)
        self.neg_elbo.update(kl - log_lik)
        if self.gaussian:
            self.discrete.update(kl - discrete)
        self._check_binary(batch.x)

    def result(self):
        results = {"neg_elbo": self.neg_elbo.result(), "kl": self.kl.result()}
        return {**results, **self._bits_per_dim(
            results["neg_elbo"], self.discrete.result(), "bits_per_dim")}


class ImportanceSampledNLL(_VAEProbe):
    """`is_nll`: the importance-weighted NLL (Burda et al. 2015).

    Options:
        k: int. Posterior samples per image. Defaults to `1000`.
        chunk: int. Samples per image in one decoder call. Defaults to
            `100`.
        decode_batch: int. At most this many latents per decoder call:
            images go `max(1, decode_batch // chunk)` at a time. Defaults
            to `1000`.

    References:
        - [Burda et al., 2015](https://arxiv.org/abs/1509.00519)
    """

    name = "is_nll"

    def __init__(self, model, settings, k=1000, chunk=100, decode_batch=1000):
        super().__init__(model, settings)
        for key, value in (("k", k), ("chunk", chunk), ("decode_batch", decode_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value!r}")
        self.k, self.chunk = k, min(chunk, k)
        self.images_per_call = max(1, decode_batch // self.chunk)
        # Its own stream: adding this probe changes no other probe's draws.
        seed = None if settings.seed is None else settings.seed + 1_000_003
        self.seeds = keras.random.SeedGenerator(seed)
        self.nll, self.discrete = Mean(), Mean()

    def update(self, batch):
        for start in range(0, batch.size, self.images_per_call):
            x = batch.x[start:start + self.images_per_call]
            nll, discrete = likelihood.importance_weighted_nll(
                self.model, x, self.k, self.chunk, self.seeds, discrete=True)
            self.nll.update(nll)
            self.discrete.update(discrete)
        self._check_binary(batch.x)

    def result(self):
        results = {"is_nll": self.nll.result(), "is_nll_k": self.k}
        return {**results, **self._bits_per_dim(
            results["is_nll"], self.discrete.result(), "is_nll_bits_per_dim")}


class Codebook(Probe):
    name, model_class = "codebook", VQVAE

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.counts = np.zeros(model.num_embeddings, np.int64)

    def update(self, batch):
        indices = ops.convert_to_numpy(self.model.encode(batch.x)).reshape(-1)
        self.counts += np.bincount(indices, minlength=len(self.counts))

    def result(self):
        counts = self.counts
        p = counts / max(counts.sum(), 1)
        return {
            "codebook_usage": float(np.mean(counts > 0)),
            "codes_used": int(np.sum(counts > 0)),
            "perplexity": float(np.exp(-np.sum(p[p > 0] * np.log(p[p > 0])))),
        }


def _reference_features(classifier, images, batch_size):
    """The classifier's features of `images`, as one array."""
    return np.concatenate([
        ops.convert_to_numpy(classifier.features(ops.convert_to_tensor(x, "float32")))
        for x in iter_image_batches(images, batch_size)])


def _statistics(features):
    stats = FeatureStatistics()
    stats.update(features)
    return stats


class Frechet(Probe):
    name, requires = "frechet", "sample"

    @classmethod
    def unavailable(cls, model, settings):
        if settings.classifier is None or settings.num_samples <= 0:
            return "it needs a `classifier=` and `num_samples` > 0"
        return super().unavailable(model, settings)

    def __init__(self, model, settings, **options):
        from keras_genae.evaluation.classifier import check_classifier

        super().__init__(model, settings, **options)
        self.classifier = check_classifier(settings.classifier, model.image_shape)
        self.reference = []

    def update(self, batch):
        if self.settings.fd_reference is None:
            self.reference.append(ops.convert_to_numpy(self.classifier.features(batch.x)))

    def result(self):
        s = self.settings
        if s.fd_reference is not None:
            reference = _reference_features(self.classifier, s.fd_reference, s.batch_size)
        else:
            reference = np.concatenate(self.reference) if self.reference else np.zeros((0, 1))
        if len(reference) < 2:
            raise ValueError("The Fréchet distance needs at least 2 images in `data`.")
        generated, predicted = [], []
        for i, start in enumerate(range(0, s.num_samples, s.batch_size)):
            n = min(s.batch_size, s.num_samples - start)
            images = self.model.sample(n, seed=s.seed * 100_003 + i + 1)
            generated.append(ops.convert_to_numpy(self.classifier.features(images)))
            logits = ops.convert_to_numpy(self.classifier(images, training=False))
            predicted.append(np.argmax(logits, axis=-1))
        generated = np.concatenate(generated)
        shares = np.bincount(np.concatenate(predicted), minlength=logits.shape[-1]) / s.num_samples
        pr = precision_recall(reference, generated, k=PRECISION_RECALL_K) \
            if min(len(reference), len(generated)) > PRECISION_RECALL_K else {}
        return {"frechet_distance": frechet_distance(_statistics(generated), _statistics(reference)),
                "num_samples": s.num_samples, **pr,
                **{f"class_share_{k}": float(v) for k, v in enumerate(shares)},
                "class_share_min": float(shares.min()), "class_share_max": float(shares.max())}


class Classification(Probe):
    name, requires = "classification", "classify"

    def __init__(self, model, settings, **options):
        super().__init__(model, settings, **options)
        self.correct = self.total = 0
        self.test = FeatureStatistics()

    def update(self, batch):
        if batch.labels is None:
            raise ValueError(
                "The test accuracy of a classifier needs labels: pass `data` as "
                "(images, labels) or a dataset of them (load_dataset(..., with_labels=True)).")
        logits = self.model(batch.x, training=False)
        predicted = np.argmax(ops.convert_to_numpy(logits), axis=-1)
        self.correct += int(np.sum(predicted == np.asarray(batch.labels)))
        self.total += batch.size
        if self.settings.fd_reference is not None:
            self.test.update(ops.convert_to_numpy(self.model.features(batch.x)))

    def result(self):
        results = {"test_accuracy": self.correct / max(self.total, 1)}
        s = self.settings
        if s.fd_reference is not None:
            train = _reference_features(self.model, s.fd_reference, s.batch_size)
            results["frechet_distance_train_test"] = float(frechet_distance(_statistics(train), self.test))
        return results


#: Name -> probe class.
PROBES = {cls.name: cls for cls in (
    Reconstruction, Denoising, Likelihood, ImportanceSampledNLL, Codebook, PriorLikelihood, Frechet,
    Classification)}
