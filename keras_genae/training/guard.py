"""The NaN and input guard of the train and test steps, in `keras.ops`.

Every step computes a status code, on every backend the same way:

- `OK` (0): the batch is finite and in [0, 1], every loss term that the
  model lists in `loss_terms` is finite, and so is every gradient.
- `INPUT_NON_FINITE` / `INPUT_OUT_OF_RANGE`: the batch itself is bad.
- `term_code(i, inf)`: the `i`-th entry of `model.loss_terms` became NaN
  (or, with `inf`, infinite).
- `gradient_code(p)`: the gradients of phase `p` are not finite although
  its loss terms are.

A step whose status is not `OK` is rejected: the backend module restores
every variable the step may have changed (weights, optimizer state, EMA
codebooks, usage counters, BatchNorm statistics, seed generators and the
loss trackers) to its value before the step. There is no branch: the step
runs to the end and its results are selected away, which XLA and
`jax.jit` compile well.

The status rides in a `GuardStatus` metric, so that it is part of the
state that every backend threads through its step (on JAX, the metrics
variables of the jitted state), and it is sticky: after a failure the
later steps of the same `steps_per_execution` block are rejected too. The
step also returns it in its logs under `STATUS_KEY`. `guard_function`
wraps Keras' train and test functions: it takes the status out of the
logs and raises the error that names the failure.
"""

import keras
from keras import ops

from keras_genae.errors import NonFiniteLossError

#: Key of the status in the logs of a step (removed before Keras sees them).
STATUS_KEY = "keras_genae_guard_status"

OK, INPUT_NON_FINITE, INPUT_OUT_OF_RANGE = 0, 1, 2
_FIRST_TERM = 3


def term_code(index, infinite=False):
    """Status of the `index`-th loss term becoming NaN (or infinite)."""
    return _FIRST_TERM + 2 * index + int(bool(infinite))


def gradient_code(model, phase_index):
    """Status of the gradients of phase `phase_index` being non-finite."""
    return _FIRST_TERM + 2 * len(model.loss_terms) + phase_index


class GuardStatus(keras.metrics.Metric):
    """The step's guard status (see the module docstring): 0 while every
    step since the last reset passed, else the code of the first failure."""

    def __init__(self, name="guard_status", **kwargs):
        super().__init__(name=name, dtype="float32", **kwargs)
        self.status = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="status"
        )

    def update_state(self, code):
        code = ops.cast(code, "float32")
        self.status.assign(ops.where(ops.equal(self.status, 0.0), code, self.status))

    def result(self):
        return ops.convert_to_tensor(self.status)

    def reset_state(self):
        self.status.assign(0.0)


# ---------------------------------------------------------------- checks
def check_dtype(x):
    """Raise unless `x` is a float batch (a static check, at trace time)."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise ValueError(
            f"Expected float images in [0, 1]. Received a batch of dtype "
            f"{dtype}. Convert uint8 images with `x / 255` in the pipeline."
        )
    return x


def first(code, later):
    """The earlier failure wins: `code` unless it is `OK`, else `later`."""
    return ops.where(ops.equal(code, OK), later, code)


def _all_finite(x):
    return ops.all(ops.isfinite(ops.cast(x, "float32")))


def input_code(x):
    """Status of a batch: `OK`, `INPUT_NON_FINITE` or `INPUT_OUT_OF_RANGE`."""
    x = ops.cast(x, "float32")
    in_range = ops.logical_and(ops.min(x) >= 0.0, ops.max(x) <= 1.0)
    code = ops.where(in_range, OK, INPUT_OUT_OF_RANGE)
    return ops.where(_all_finite(x), code, INPUT_NON_FINITE)


def terms_code(model, terms):
    """Status of the first non-finite entry of `model.loss_terms` in the
    loss dict `terms` (`OK` if all are finite or absent)."""
    code = ops.convert_to_tensor(OK, "int32")
    for i, name in reversed(list(enumerate(model.loss_terms))):
        value = terms.get(name)
        if value is None or "float" not in keras.backend.standardize_dtype(value.dtype):
            continue
        value = ops.cast(value, "float32")
        nan = ops.any(ops.isnan(value))
        bad = ops.logical_not(_all_finite(value))
        code = ops.where(bad, ops.where(nan, term_code(i), term_code(i, True)), code)
    return code


def gradients_code(model, phase_index, grads, optimizer):
    """Status of a phase's gradients. A `LossScaleOptimizer` skips
    non-finite gradients itself (and lowers its scale), so they are not a
    failure there."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return ops.convert_to_tensor(OK, "int32")
    finite = [_all_finite(g) for g in grads if g is not None]
    if not finite:
        return ops.convert_to_tensor(OK, "int32")
    ok = ops.all(ops.stack(finite))
    return ops.where(ok, OK, gradient_code(model, phase_index))


def select(ok, new, old):
    """`new` where the step passed, else `old` (any dtype, no branch)."""
    return ops.where(ok, new, old)


# ---------------------------------------------------------- the wrapper
def guard_function(model, function, backend_module):
    """Wrap a Keras train or test function so that it raises the guard's
    error after a rejected step. `backend_module.on_rejected(model, out)`
    hands the (restored) state back to the model first, where the backend
    keeps it outside the variables (JAX)."""
    if getattr(function, "_keras_genae_guarded", False):
        return function

    def guarded(*args, **kwargs):
        out = function(*args, **kwargs)
        logs = out[0] if isinstance(out, tuple) else out
        code = logs.pop(STATUS_KEY, None) if isinstance(logs, dict) else None
        if code is not None:
            code = int(ops.convert_to_numpy(code))
            if code != OK:
                backend_module.on_rejected(model, out)
                raise error_for(model, code)
        return out

    guarded._keras_genae_guarded = True
    return guarded


def error_for(model, code):
    """The error that a status `code` stands for."""
    if code == INPUT_NON_FINITE:
        return ValueError(
            "Training stopped: a batch contains NaN or infinite values; the "
            "step was rejected and changed nothing. Expected float images in "
            "[0, 1]: check the input pipeline for NaNs (e.g. a division by zero "
            "in a normalization)."
        )
    if code == INPUT_OUT_OF_RANGE:
        return ValueError(
            "Expected float images in [0, 1], but a batch has values outside "
            "that range; the step was rejected and changed nothing. Scale uint8 "
            "images with `x / 255` (or map [-1, 1] images with `(x + 1) / 2`)."
        )
    index = code - _FIRST_TERM
    if index < 2 * len(model.loss_terms):
        term = model.loss_terms[index // 2]
        kind = "infinite" if index % 2 else "NaN"
        what = f"the loss term {term!r} became {kind}"
    else:
        phases = model.train_phases()
        phase = phases[index - 2 * len(model.loss_terms)]
        term = phase.objective
        what = (
            f"the gradients of the {phase.name!r} phase (objective {term!r}) "
            "became NaN or infinite, although its loss terms are finite"
        )
    return NonFiniteLossError(
        f"Training stopped: {what}; the step was rejected, and no weight, "
        "statistic or optimizer state changed. Lower the learning rate, check "
        "the inputs for NaNs, or clip gradients "
        "(`optimizer=keras.optimizers.Adam(clipnorm=1.0)`).",
        term=term,
    )
