"""The train and test steps of the backends whose variables are stateful
(TensorFlow and PyTorch): one loop over the phases, shared by both, and
parameterized by how a backend computes a phase's gradients.

The step snapshots every variable it may change, runs the phases (each
one's forward-pass state changes carry over to the next), then selects
every variable back to its snapshot when the guard rejects the step
(`keras_genae.training.guard`). The selection is branch-free, so the same
code runs eagerly, in a `tf.function` and under XLA.
"""

import keras
from keras import ops

from keras_genae.training import guard


def unpack_images(data):
    """The images of a batch `x`, `(x, y)` or `(x, y, sample_weight)`."""
    return unpack_batch(None, data)[0]


def unpack_batch(model, data):
    """`(images, labels)` of a batch; labels only for a model whose
    `uses_labels` is true (a class-conditional prior), else None."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, (tuple, list)):
        x = x[0]
    if y is None or not getattr(model, "uses_labels", False):
        return x, None
    return x, ops.cast(ops.reshape(y, (-1,)), "int32")


def state_variables(model, train=True):
    """Every variable a step may change, except the guard's status: the
    model's weights, statistics and seed states, the optimizers' state and
    the loss trackers (`train=False`: the trackers only)."""
    groups = [m.variables for m in model.metrics if m is not model.guard_status]
    if train:
        groups = [
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
        ] + groups
    out, seen = [], set()
    for group in groups:
        for v in group:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def train_step(model, data, backend):
    """One guarded train step.

    `backend` provides `gradients(model, phase, x, labels) -> (losses, grads)`,
    `apply(phase, grads)`, `snapshot(variables)`, `restore(variables,
    values, ok)` and `global_code(model, code)` (the code agreed by every
    replica).
    """
    x, labels = unpack_batch(model, data)
    x = guard.check_dtype(x)
    code = guard.input_code(x)
    prior_ok = ops.equal(model.guard_status.status, 0.0)
    variables = state_variables(model)
    before = backend.snapshot(variables)
    terms = {}
    for i, phase in enumerate(model.train_phases()):
        losses, grads = backend.gradients(model, phase, x, labels)
        code = guard.first(code, guard.terms_code(model, losses))
        code = guard.first(code, guard.gradients_code(model, i, grads, phase.optimizer))
        backend.apply(phase, grads)
        terms.update(losses)
    logs = model.update_metrics(terms)
    return _finish(model, logs, code, prior_ok, variables, before, backend)


def test_step(model, data, backend):
    """One guarded test step: the loss trackers only count passing batches."""
    x, labels = unpack_batch(model, data)
    x = guard.check_dtype(x)
    code = guard.input_code(x)
    prior_ok = ops.equal(model.guard_status.status, 0.0)
    variables = state_variables(model, train=False)
    before = backend.snapshot(variables)
    terms = test_losses(model, x, labels)
    code = guard.first(code, guard.terms_code(model, terms))
    logs = model.update_metrics(terms)
    return _finish(model, logs, code, prior_ok, variables, before, backend)


def test_losses(model, x, labels):
    """The loss dict of a test step (with the labels, where the model uses them)."""
    if labels is None:
        return model.compute_losses(x, training=False)
    return model.compute_losses(x, training=False, labels=labels)


def _finish(model, logs, code, prior_ok, variables, before, backend):
    code = backend.global_code(model, code)
    ok = ops.logical_and(prior_ok, ops.equal(code, guard.OK))
    backend.restore(variables, before, ok)
    model.guard_status.update_state(code)
    logs = dict(logs)
    logs[guard.STATUS_KEY] = model.guard_status.result()
    return logs


def on_rejected(model, out):
    """After a rejected step (the variables are restored already): clear
    the status, so that the next `fit` or `train_on_batch` starts clean."""
    model.guard_status.reset_state()
