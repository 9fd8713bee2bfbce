"""Train and test steps for the TensorFlow backend.

One `tf.GradientTape` per phase. The steps run inside Keras' own
TensorFlow train function, and so under any `tf.distribute` strategy whose
scope the model was built in (see `keras_genae.training.distribution`): each phase's
objective, a mean over the replica's shard, is divided by the number of
replicas before the gradient, and `optimizer.apply` sums the gradients
over the replicas. The guard's status is agreed by all replicas, so that a
step is rejected everywhere or nowhere.
"""

import warnings

import tensorflow as tf
from keras import ops

from keras_genae.training import distribution
from keras_genae.training import guard
from keras_genae.training import stateful


def _replicas(model):
    """Per-trace set-up under a strategy: synchronized BatchNorm."""
    replicas = distribution.num_replicas()
    if replicas > 1:
        distribution.sync_batchnorm(model)
    return replicas


class _Backend:
    def __init__(self, replicas):
        self.replicas = replicas

    def gradients(self, model, phase, x, labels=None):
        with tf.GradientTape() as tape:
            losses = phase.losses(model, x, labels)
            objective = tf.cast(losses[phase.objective], tf.float32)
            if self.replicas > 1:
                # Per-replica mean -> share of the global-batch mean; the
                # optimizer sums the gradients over the replicas.
                objective = objective / self.replicas
            scaled = phase.optimizer.scale_loss(objective)
        return losses, tape.gradient(scaled, phase.variables)

    def apply(self, phase, grads):
        phase.optimizer.apply(grads, phase.variables)

    def snapshot(self, variables):
        return [tf.identity(v.value) for v in variables]

    def restore(self, variables, values, ok):
        for v, old in zip(variables, values):
            v.assign(guard.select(ok, v.value, old))

    def global_code(self, model, code):
        """The first failure of any replica (the same on every replica)."""
        if self.replicas <= 1:
            return code
        n = guard.gradient_code(model, len(model.train_phases()))
        seen = distribution.all_reduce_sum(ops.one_hot(ops.cast(code, "int32"), n))
        failed = seen[1:] > 0
        return ops.where(ops.any(failed), ops.argmax(ops.cast(failed, "int32")) + 1, 0)


def train_step(model, data):
    replicas = _replicas(model)
    phases = model.train_phases()
    if replicas == 1 and not all(p.optimizer.built for p in phases):
        # Not built by `prepare` (e.g. `train_on_batch`): create the
        # optimizers' variables outside the function being traced, so it is
        # traced once and XLA can compile it.
        with tf.init_scope():
            model.build_optimizers()
    return _logs(stateful.train_step(model, data, _Backend(replicas)))


def test_step(model, data):
    return _logs(stateful.test_step(model, data, _Backend(_replicas(model))))


def _logs(logs):
    """Keras 3 reduces the step's logs under `MultiWorkerMirroredStrategy`
    with `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars
    ("Invalid reduction dimension 0 for input with 0 dimensions", see
    tensorflow/tensorflow#72388). Give scalars a length-1 axis there: the
    reduction then averages over the replicas and that axis, to a scalar."""
    strategy = tf.distribute.get_strategy()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )
    if not multi_worker:
        return logs
    return {k: tf.reshape(v, [1]) if v.shape.rank == 0 else v for k, v in logs.items()}


on_rejected = stateful.on_rejected


def prepare(model):
    """Before Keras builds the step function: build every phase's optimizer
    in the strategy's scope (created in the first call of the step function
    instead, they make `tf.function` trace it twice), and, under a strategy
    with several replicas, turn `jit_compile` off (Keras cannot compile a
    multi-device step with XLA), with a warning."""
    strategy = model.distribute_strategy
    with strategy.scope():
        model.build_optimizers()
    if model.jit_compile and strategy.num_replicas_in_sync > 1:
        warnings.warn(
            f"jit_compile=True is not supported with {type(strategy).__name__} "
            f"over {strategy.num_replicas_in_sync} replicas (XLA cannot compile "
            "a multi-device step); training without XLA.",
            stacklevel=4,
        )
        model.jit_compile = False
        model.train_function = model.test_function = None
