"""`CodePrior`: what a `VQVAE` with a prior over its code grids does with
it — the checked sampling options (labels, temperature, guidance), the
draws of code grids, and their likelihood."""

import keras
from keras import ops

from keras_genae.inference import is_concrete
from keras_genae.utils.validation import check_class_labels
from keras_genae.utils.validation import check_non_negative_float
from keras_genae.utils.validation import check_positive_float


class CodePrior:
    """Mixin of `VQVAE`: sampling from and scoring with `self.prior`, a
    `GatedPixelCNN` over the `self.latent_shape` code grid (or None).

    The public `sample` and `sample_latents` stay on `VQVAE`, where the
    base class compiles them (`keras_genae.inference`); they call
    `_options` and `_sample_latents` here.
    """

    @property
    def uses_labels(self):
        """Whether training reads the batches' labels (a class-conditional prior)."""
        return self.prior is not None and self.prior.num_classes > 0

    @property
    def num_classes(self):
        """The classes the prior is conditioned on (0: unconditional or no prior)."""
        return self.prior.num_classes if self.prior is not None else 0

    def _check_labels(self, labels, n):
        """`labels` as int32 `(n,)` (a scalar is repeated), or None."""
        if labels is None:
            return None
        if self.prior is None or not self.prior.num_classes:
            raise ValueError(
                f"`labels` needs a class-conditional prior; this VQ-VAE's prior is "
                f"{'unconditional' if self.prior is not None else 'absent'}. Received: labels={labels!r}")
        return check_class_labels(labels, n, self.prior.num_classes)

    def sampler_options(self, n, labels=None, temperature=1.0, guidance=None):
        """`labels` as int32 numpy `(n,)` or None, `temperature` as a float
        and `guidance` as a float (None: the prior's own; see `sample_latents`)."""
        check_positive_float(temperature, "temperature")
        if guidance is not None:
            check_non_negative_float(guidance, "guidance")
            if guidance > 0 and not self.num_classes:
                raise ValueError(
                    "`guidance` above 0 needs a class-conditional prior; this VQ-VAE's prior "
                    f"is unconditional. Received: guidance={guidance!r}")
        guidance = self.prior.guidance if guidance is None else float(guidance)
        return {"labels": self._check_labels(labels, n), "temperature": float(temperature),
                "guidance": guidance}

    def _options(self, n, labels, temperature, guidance):
        """The options as given (in a compiled call: checked already, and
        `labels` a tensor), else checked."""
        if labels is not None and not is_concrete(labels) and not isinstance(labels, (int, list, tuple)):
            return {"labels": ops.cast(labels, "int32"), "temperature": float(temperature),
                    "guidance": self.prior.guidance if guidance is None else float(guidance)}
        return self.sampler_options(n, labels=labels, temperature=temperature, guidance=guidance)

    def class_labels(self, n, seed=None):
        """`n` labels drawn uniformly from the classes (what `sample`
        conditions on when given no labels), int32 `(n,)`."""
        return keras.random.randint((n,), 0, self.prior.num_classes, seed=seed, dtype="int32")

    def _sample_latents(self, n, seed=None, labels=None, temperature=1.0, guidance=0.0):
        """Code grids `(n, h, w)` drawn from the prior, int32."""
        seed = self._sample_seed(seed)
        if isinstance(seed, int):  # two draws: from a generator started where a compiled call's is
            seed = keras.random.SeedGenerator(seed)
        if labels is None and self.prior.num_classes:
            labels = self.class_labels(n, seed=seed)
        return self.prior.sample_codes(n, self.latent_shape, labels=labels, temperature=temperature,
                                       seed=seed, guidance=guidance if labels is not None else 0.0)

    def _require_prior(self, method):
        if self.prior is None:
            raise NotImplementedError(
                f"This VQ-VAE has no prior, so `{method}` is not available: a VQ-VAE samples "
                "through a prior over its codes. Build it with `prior=dict(...)` and train it, "
                "or load a zoo VQ-VAE (they ship theirs).")

    def prior_nll(self, codes, labels=None):
        """-log p(codes | labels) per grid under the prior, in nats,
        float32 `(batch,)`."""
        self._require_prior("prior_nll")
        return -self.prior.log_prob(codes, labels=labels)
