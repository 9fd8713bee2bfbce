"""Train and test steps for the JAX backend, in the style of keras.io's
guide to customizing `fit()` with JAX: pure functions of the state that
Keras' JAX trainer threads through its jit-compiled step,

    state = (trainable, non_trainable, optimizer, metrics variables)

where the optimizer variables are those of `model.optimizer`, which for a
model with one optimizer per phase is a `PhasedOptimizer` holding them all.

The step keeps the current value of every variable in a table. Each phase
runs `phase.losses` inside a `keras.StatelessScope` mapped onto the table,
differentiates its objective with `jax.value_and_grad` with respect to the
phase's variables only, writes back the state its forward pass changed
(EMA codebooks, usage counters, BatchNorm statistics, seed generators) and
applies its optimizer with `stateless_apply`. The guard then selects the
whole new state or the old one (`jnp.where`, no branch).

Under `keras.distribution.DataParallel` the arrays are global: loss means,
BatchNorm statistics, EMA sums and random draws are those of the global
batch with no collective (the helpers of `keras_genae.training.distribution` are
no-ops off TensorFlow).
"""

import jax
import keras
from keras import ops

from keras_genae.training import guard
from keras_genae.training.stateful import test_losses
from keras_genae.training.stateful import unpack_batch

_TRAIN_KEYS = (
    "trainable_variables",
    "non_trainable_variables",
    "optimizer_variables",
    "metrics_variables",
)
_TEST_KEYS = ("trainable_variables", "non_trainable_variables", "metrics_variables")


def _refs(model, train):
    groups = [model.trainable_variables, model.non_trainable_variables]
    if train:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    return groups


def _table(groups, state):
    table = {}
    for refs, values in zip(groups, state):
        if len(refs) != len(values):
            raise ValueError(
                "The JAX training state does not match the model's variables "
                f"({len(values)} values for {len(refs)} variables). Build and "
                "compile the model before `fit`."
            )
        for v, value in zip(refs, values):
            table[id(v)] = value
    return table


def _run(fn, variables, table):
    """Run `fn()` in a stateless scope over `table`; returns its result and
    the values of `variables` after it (changed ones included)."""
    mapping = [(v, table[id(v)]) for v in variables]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        result = fn()
    after = []
    for v in variables:
        value = scope.get_current_value(v)
        after.append(table[id(v)] if value is None else value)
    return result, after


def _phase(model, phase, x, labels, table, variables):
    """Losses, gradients and the forward pass's state changes of a phase."""
    phase_ids = [id(v) for v in phase.variables]

    def objective(phase_values):
        local = dict(table)
        local.update(zip(phase_ids, phase_values))

        def forward():
            losses = phase.losses(model, x, labels)
            scaled = phase.optimizer.scale_loss(ops.cast(losses[phase.objective], "float32"))
            return losses, scaled

        (losses, scaled), after = _run(forward, variables, local)
        return scaled, (losses, after)

    (_, (losses, after)), grads = jax.value_and_grad(objective, has_aux=True)(
        [table[i] for i in phase_ids]
    )
    return losses, grads, after


def _start(model, state, data, train):
    """The state as a table, a copy of it, every variable, the batch and
    its guard status."""
    groups = _refs(model, train=train)
    table = _table(groups, state)
    x, labels = unpack_batch(model, data)
    x = guard.check_dtype(x)
    variables = [v for g in groups for v in g]
    return groups, table, dict(table), variables, (x, labels), guard.input_code(x)


def train_step(model, state, data):
    groups, table, old, variables, (x, labels), code = _start(model, state, data, train=True)
    terms = {}
    for i, phase in enumerate(model.train_phases()):
        losses, grads, after = _phase(model, phase, x, labels, table, variables)
        table.update(zip(map(id, variables), after))
        code = guard.first(code, guard.terms_code(model, losses))
        code = guard.first(code, guard.gradients_code(model, i, grads, phase.optimizer))
        opt = phase.optimizer
        new_vars, new_opt = opt.stateless_apply(
            [table[id(v)] for v in opt.variables], grads, [table[id(v)] for v in phase.variables]
        )
        table.update(zip(map(id, phase.variables), new_vars))
        table.update(zip(map(id, opt.variables), new_opt))
        terms.update(losses)
    return _finish(model, groups, table, old, terms, code)


def test_step(model, state, data):
    groups, table, old, variables, (x, labels), code = _start(model, state, data, train=False)
    terms, after = _run(lambda: test_losses(model, x, labels), variables, table)
    table.update(zip(map(id, variables), after))
    code = guard.first(code, guard.terms_code(model, terms))
    return _finish(model, groups, table, old, terms, code)


def _finish(model, groups, table, old, terms, code):
    metrics = model.metrics_variables
    logs, after = _run(lambda: model.update_metrics(terms), metrics, table)
    table.update(zip(map(id, metrics), after))
    status = model.guard_status.status
    prior = old[id(status)]
    ok = ops.logical_and(ops.equal(prior, 0.0), ops.equal(code, guard.OK))
    new = {k: guard.select(ok, table[k], old[k]) for k in table}
    # The status itself is never rolled back (it is sticky).
    new[id(status)] = ops.where(ops.equal(prior, 0.0), ops.cast(code, "float32"), prior)
    logs = dict(logs)
    logs[guard.STATUS_KEY] = new[id(status)]
    return logs, tuple([new[id(v)] for v in g] for g in groups)


def on_rejected(model, out):
    """After a rejected step: hand the (restored) state back to the model
    with the status cleared, as Keras' JAX `fit` keeps the state outside the
    variables between steps (and may have purged their values)."""
    _, state = out
    state = [list(group) for group in state]
    metrics = state[-1]
    for i, v in enumerate(model.metrics_variables):
        if v is model.guard_status.status:
            metrics[i] = ops.zeros_like(metrics[i])
    keys = _TRAIN_KEYS if len(state) == 4 else _TEST_KEYS
    model._jax_state = dict(zip(keys, state))
    model._jax_state_synced = False
    model.jax_state_sync()


def prepare(model):
    model.build_optimizers()
