"""The parts every probe shares: the `Probe` base class, the `Batch` it
sees, a streaming mean, and the capabilities of a model."""

import numpy as np
from keras import ops

def capabilities(model):
    """The declared capabilities of `model` (`model.capabilities`: those of
    its class, narrowed by its config), a frozenset of strings."""
    return frozenset(model.capabilities)


class Batch:
    """One batch of evaluation data: the clean images `x`, their `labels`
    (or None), and the `inputs` the model sees (noisy ones when a probe
    corrupts them in `prepare`)."""

    def __init__(self, x, labels=None):
        self.x = ops.convert_to_tensor(x, "float32")
        self.labels = labels
        self.inputs = self.x
        self.size = int(self.x.shape[0])
        self._reconstruction = None

    def reconstruction(self, model):
        """`model.reconstruct(self.inputs)`, computed once per batch."""
        if self._reconstruction is None:
            self._reconstruction = model.reconstruct(self.inputs)
        return self._reconstruction


class Mean:
    """A streaming mean of the values of every batch, in float64."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, values):
        values = np.asarray(ops.convert_to_numpy(values), np.float64)
        self.total += float(values.sum())
        self.count += values.size

    def result(self):
        return self.total / self.count if self.count else float("nan")


class Probe:
    """Base class of the probes.

    Args:
        model: the evaluated model.
        settings: the `keras_genae.evaluation.core.Settings` of the run.
        **options: the probe's own options (`evaluate(probes=[(name,
            options)])`).
    """

    #: The name in `PROBES`.
    name = None
    #: The capability the model needs, or None.
    requires = None
    #: The model class a family's own probe needs (e.g. `VAE`), or None.
    model_class = None

    def __init__(self, model, settings, **options):
        if options:
            raise ValueError(
                f"The {self.name!r} probe takes no options. Received: {sorted(options)}")
        self.model, self.settings = model, settings

    @classmethod
    def unavailable(cls, model, settings):
        """Why the probe cannot run on `model` with `settings`, or None."""
        if cls.model_class is not None and not isinstance(model, cls.model_class):
            return f"it needs a {cls.model_class.__name__}. Received: a {type(model).__name__}"
        if cls.requires is not None and cls.requires not in capabilities(model):
            return f"the model cannot {cls.requires} (capabilities: {sorted(capabilities(model))})"
        return None

    def prepare(self, batch):
        """Called on every batch before any probe's `update`."""

    def update(self, batch):
        raise NotImplementedError

    def result(self):
        """The metrics, a dict of Python floats and ints."""
        raise NotImplementedError
