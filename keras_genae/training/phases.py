"""The backend-neutral description of a train step: its phases, and one
optimizer object that holds the state of every phase's optimizer.

A model's `train_phases()` returns the `TrainPhase`s of one step. Each
backend module of `keras_genae.training` runs them in order, the same way:
compute the phase's loss dict, differentiate `losses[phase.objective]`
with respect to `phase.variables`, apply the gradients with
`phase.optimizer`. State that the forward pass changes (EMA codebooks,
usage counters, BatchNorm statistics, seed generators) carries over from
one phase to the next.
"""

import dataclasses

import keras


@dataclasses.dataclass
class TrainPhase:
    """One optimization phase of a train step.

    Args:
        name: str. Name of the phase, used in error messages.
        objective: str. Key of the loss dict that the phase minimizes.
        variables: list of `keras.Variable`. The variables it updates.
        optimizer: `keras.optimizers.Optimizer`. The optimizer that applies
            the phase's gradients; it must have been built on `variables`.
        loss_fn: callable or None. `loss_fn(x)` returns the loss dict of the
            phase; by default `model.compute_losses(x, training=True)`.
    """

    name: str
    objective: str
    variables: list
    optimizer: object
    loss_fn: object = None

    def losses(self, model, x, labels=None):
        """The loss dict of this phase on the batch `x` (and its `labels`,
        given only to a model whose `uses_labels` is true)."""
        extra = {} if labels is None else {"labels": labels}
        if self.loss_fn is not None:
            return self.loss_fn(x, **extra)
        return model.compute_losses(x, training=True, **extra)


@keras.saving.register_keras_serializable(package="keras_genae")
class PhasedOptimizer(keras.optimizers.Optimizer):
    """`model.optimizer` of a model trained with one optimizer per phase.

    It holds the phases' optimizers and exposes the union of their
    variables as its own `variables`, so that every backend's state
    plumbing carries all of them: Keras' JAX trainer threads
    `model.optimizer.variables` through its jit-compiled step, and only
    those. The phases apply their gradients with their own optimizer; this
    container never applies gradients itself. `iterations` and
    `learning_rate` are those of the first optimizer, the one that Keras
    callbacks such as `LearningRateScheduler` act on.

    The phases' optimizers are also attributes of the model and are saved
    there (as before this container existed), so the container saves no
    variables of its own.

    Args:
        optimizers: dict, name to built or unbuilt `keras.optimizers.Optimizer`.
        name: str. Name of the container. Defaults to `"phased_optimizer"`.

    Example:
    >>> opt = PhasedOptimizer({"g": keras.optimizers.Adam(), "d": keras.optimizers.Adam()})
    >>> opt.phase_names
    ['g', 'd']
    """

    def __init__(self, optimizers, name="phased_optimizer", **kwargs):
        if not optimizers:
            raise ValueError(
                "`optimizers` must be a non-empty dict of optimizers. "
                f"Received: optimizers={optimizers!r}"
            )
        for key, opt in optimizers.items():
            if not isinstance(opt, keras.optimizers.Optimizer):
                raise ValueError(
                    f"`optimizers[{key!r}]` must be a Keras optimizer. Received: {opt!r}"
                )
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self._phase_optimizers = list(optimizers.values())
        self.phase_names = list(optimizers)

    @property
    def optimizers(self):
        """The phases' optimizers, in order."""
        return list(self._phase_optimizers)

    @property
    def variables(self):
        out = []
        for opt in self._phase_optimizers:
            out.extend(opt.variables)
        return out

    @property
    def built(self):
        return all(opt.built for opt in getattr(self, "_phase_optimizers", ()))

    @built.setter
    def built(self, value):
        pass  # derived from the phases' optimizers

    def build(self, variables):
        """No-op: the model builds each phase's optimizer on its phase's
        variables (`GenerativeAutoencoder.build_optimizers`)."""

    @property
    def iterations(self):
        return self._phase_optimizers[0].iterations

    @property
    def learning_rate(self):
        return self._phase_optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._phase_optimizers[0].learning_rate = value

    def apply(self, grads, trainable_variables=None):
        raise TypeError(
            "PhasedOptimizer does not apply gradients itself: each phase of "
            "`model.train_phases()` applies its own with `phase.optimizer`."
        )

    def save_own_variables(self, store):
        pass  # the phases' optimizers are saved as the model's attributes

    def load_own_variables(self, store):
        pass

    def get_config(self):
        return {
            "name": self.name,
            "optimizers": {
                n: keras.saving.serialize_keras_object(o)
                for n, o in zip(self.phase_names, self._phase_optimizers)
            },
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizers"] = {
            n: keras.saving.deserialize_keras_object(o, custom_objects=custom_objects)
            for n, o in config["optimizers"].items()
        }
        return cls(**config)
