"""Train and test steps for the TensorFlow backend.

One `tf.GradientTape` per phase of `model.train_phases()`. The steps run
inside Keras' own TensorFlow train function, and so under any
`tf.distribute` strategy whose scope the model was built in (see
`keras_genae.distribute`): each phase's objective, a mean over the
replica's shard, is divided by the number of replicas before the gradient,
and `optimizer.apply` sums the gradients over the replicas.

Checks. Without XLA, every loss term passes through
`tf.debugging.check_numerics` (the gradients are computed from the checked
tensors, so no update is applied after a non-finite loss) and each batch
through an in-graph range assertion; `translate_errors` turns their errors
into `NonFiniteLossError` and `ValueError`. XLA drops both ops silently, so
with `jit_compile=True` the step instead keeps each phase's update only if
the batch is in range and the loss terms of this and the earlier phases
are finite (the weights and optimizer state are selected back otherwise),
records the first failure in a status variable, and a callback that
`fit`/`evaluate` add (`prepare`) raises the same errors after the batch.
"""

import contextlib
import re
import warnings
import weakref

import keras
import tensorflow as tf

from keras_genae import distribute
from keras_genae.errors import NonFiniteLossError

_NAN_TAG = "keras_genae:non-finite-loss:"
_RANGE_TAG = "keras_genae:input-range"

# Status codes of the XLA guard: 0 ok, 1 input out of range, 2 + i the
# i-th entry of `model.loss_terms` was not finite.
_OK, _OUT_OF_RANGE, _FIRST_TERM = 0, 1, 2
# model -> int32 status variable of the XLA guard (not a model weight).
_STATUS = weakref.WeakKeyDictionary()


def _unpack_images(data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, (tuple, list)):
        x = x[0]
    return x


def _check_dtype(x):
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            f"Expected float images in [0, 1]. Received a batch of dtype "
            f"{x.dtype.name}. Convert uint8 images with `x / 255` in the pipeline."
        )
    return x


def _in_range(x):
    return tf.logical_and(tf.reduce_min(x) >= 0, tf.reduce_max(x) <= 1)


def _check_range(x):
    """In-graph check that a batch of images lies in [0, 1]."""
    x = _check_dtype(x)
    lo, hi = tf.reduce_min(x), tf.reduce_max(x)
    ok = tf.logical_and(lo >= 0, hi <= 1)
    with tf.control_dependencies(
        [tf.debugging.Assert(ok, [_RANGE_TAG, lo, hi], summarize=3)]
    ):
        return tf.identity(x)


def _guard(terms, names):
    """Wrap each floating scalar loss term in a NaN/inf check. Gradients are
    computed from the checked tensors, so no update is applied after a
    non-finite loss."""
    out = dict(terms)
    for name in names:
        if name in out and out[name].dtype.is_floating:
            out[name] = tf.debugging.check_numerics(out[name], f"{_NAN_TAG}{name}:")
    return out


def _failure(terms, names):
    """XLA guard: int32 status code of the first non-finite term, or 0."""
    code = tf.constant(_OK, tf.int32)
    for i, name in reversed(list(enumerate(names))):
        if name in terms and terms[name].dtype.is_floating:
            finite = tf.reduce_all(tf.math.is_finite(terms[name]))
            code = tf.where(finite, code, _FIRST_TERM + i)
    return code


def _uses_xla(model):
    """Whether the step being traced is compiled with XLA. Keras reads
    `model.jit_compile` when it builds the train function."""
    return bool(getattr(model, "jit_compile", False)) and not model.run_eagerly


def _prepare_replicas(model):
    """Per-trace set-up under a strategy: synchronized BatchNorm."""
    replicas = distribute.num_replicas()
    if replicas > 1:
        distribute.sync_batchnorm(model)
    return replicas


def _record(model, code):
    status = _STATUS.get(model)
    if status is not None:
        status.assign(tf.where(tf.equal(status, _OK), code, status))


def train_step(model, data):
    xla = _uses_xla(model)
    if xla and model not in _STATUS:
        warnings.warn(
            "Training with jit_compile=True outside `fit()` (e.g. "
            "`train_on_batch`): XLA drops the NaN and input-range checks, so "
            "updates from non-finite losses or out-of-range batches are skipped "
            "without an error. Use `fit()` to have them raised.",
            stacklevel=2,
        )
    x = _unpack_images(data)
    if xla:
        x = _check_dtype(x)
        bad = tf.where(_in_range(x), _OK, _OUT_OF_RANGE)
    else:
        x = _check_range(x)
    replicas = _prepare_replicas(model)
    phases = model.train_phases()
    if replicas == 1 and not all(p.optimizer.built for p in phases):
        # Not built by `prepare` (e.g. `train_on_batch`): create the
        # optimizers' variables outside the function being traced, so it is
        # traced once and XLA can compile it.
        with tf.init_scope():
            model.build_optimizers()
    terms = {}
    for phase in phases:
        loss_fn = phase.loss_fn or (
            lambda x: model.compute_losses(x, training=True)
        )
        with tf.GradientTape() as tape:
            losses = loss_fn(x)
            if not xla:
                losses = _guard(losses, model.loss_terms)
            objective = tf.cast(losses[phase.objective], tf.float32)
            if replicas > 1:
                # Per-replica mean -> share of the global-batch mean; the
                # optimizer sums the gradients over the replicas.
                objective = objective / replicas
            scaled = phase.optimizer.scale_loss(objective)
        grads = tape.gradient(scaled, phase.variables)
        if xla:
            # The first failure of the step (bad input, or a non-finite term
            # of this or an earlier phase) skips this and every later update.
            bad = tf.where(tf.equal(bad, _OK), _failure(losses, model.loss_terms), bad)
            _apply_if(tf.equal(bad, _OK), phase, grads)
        else:
            phase.optimizer.apply(grads, phase.variables)
        terms.update(losses)
    if xla:
        _record(model, bad)
    return _logs(model.update_metrics(terms))


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


def _apply_if(ok, phase, grads):
    """Apply the phase's update only where `ok`, without `tf.cond`: XLA on
    CPU ran a step with the update inside a conditional about 20 times
    slower. The update is applied (from zeroed gradients when not `ok`, so
    no NaN is computed), then the weights and the optimizer's state
    (moments, step counter, loss scale) are selected back when not `ok`."""
    state = list(phase.variables) + [
        v for v in phase.optimizer.variables if not any(v is w for w in phase.variables)
    ]
    before = [tf.identity(v.value if hasattr(v, "value") else v) for v in state]
    grads = [None if g is None else tf.where(ok, g, tf.zeros_like(g)) for g in grads]
    with tf.control_dependencies(before):
        phase.optimizer.apply(grads, phase.variables)
    for v, old in zip(state, before):
        v.assign(tf.where(ok, v.value if hasattr(v, "value") else v, old))


def test_step(model, data):
    x = _unpack_images(data)
    _prepare_replicas(model)
    if _uses_xla(model):
        x = _check_dtype(x)
        terms = model.compute_losses(x, training=False)
        bad = tf.where(_in_range(x), _OK, _OUT_OF_RANGE)
        _record(model, tf.where(tf.equal(bad, _OK), _failure(terms, model.loss_terms), bad))
    else:
        x = _check_range(x)
        terms = _guard(model.compute_losses(x, training=False), model.loss_terms)
    return _logs(model.update_metrics(terms))


# ------------------------------------------------------------ fit set-up
def prepare(model, callbacks=None):
    """Called by `fit` and `evaluate` before Keras builds the step function.

    - Build every phase's optimizer (so the step is traced once).
    - Under a strategy with several replicas, turn `jit_compile` off (Keras
      cannot compile a multi-device step with XLA), with a warning.
    - With XLA, create the guard's status variable and return `callbacks`
      plus the callback that raises the guard's errors.

    Returns the list of callbacks to pass on to Keras.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        # `fit` passes its own list to the validation `evaluate`: keep it.
        return callbacks
    callbacks = list(callbacks or [])
    if not getattr(model, "compiled", False):
        return callbacks
    strategy = model.distribute_strategy
    # Create the optimizers' variables now: created in the first call of
    # the step function instead, they make `tf.function` trace it twice.
    with strategy.scope():
        model.build_optimizers()
    if model.jit_compile and strategy.num_replicas_in_sync > 1:
        warnings.warn(
            f"jit_compile=True is not supported with {type(strategy).__name__} "
            f"over {strategy.num_replicas_in_sync} replicas (XLA cannot compile "
            "a multi-device step); training without XLA.",
            stacklevel=3,
        )
        model.jit_compile = False
        model.train_function = model.test_function = None
    if _uses_xla(model):
        if model not in _STATUS:
            with strategy.scope():
                _STATUS[model] = tf.Variable(
                    _OK, dtype=tf.int32, trainable=False, name="keras_genae_guard_status",
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
                )
        _STATUS[model].assign(_OK)
        callbacks.append(_XlaGuardCallback(model))
    return callbacks


class _XlaGuardCallback(keras.callbacks.Callback):
    """Raise the XLA guard's failure after the batch that caused it."""

    def __init__(self, guarded):
        super().__init__()
        self._guarded = weakref.ref(guarded)

    def _check(self):
        model = self._guarded()
        status = _STATUS.get(model) if model is not None else None
        if status is None:
            return
        code = int(status.numpy())
        if code == _OK:
            return
        status.assign(_OK)
        if code == _OUT_OF_RANGE:
            raise _range_error()
        term = model.loss_terms[code - _FIRST_TERM]
        raise _nan_error(term, "NaN or infinite")

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()


def _nan_error(term, kind):
    return NonFiniteLossError(
        f"Training stopped: the loss term {term!r} became "
        f"{kind}; the update computed from it was not applied. Lower the "
        "learning rate, check the inputs for NaNs, or clip gradients "
        "(`optimizer=keras.optimizers.Adam(clipnorm=1.0)`).",
        term=term,
    )


def _range_error():
    return ValueError(
        "Expected float images in [0, 1], but a training batch has "
        "values outside that range. Scale uint8 images with `x / 255` "
        "(or map [-1, 1] images with `(x + 1) / 2`)."
    )


@contextlib.contextmanager
def translate_errors():
    """Turn the in-graph checks' TensorFlow errors into clear Python ones."""
    try:
        yield
    except tf.errors.InvalidArgumentError as e:
        message = str(e)
        match = re.search(re.escape(_NAN_TAG) + r"(\w+):", message)
        if match:
            kind = "NaN" if "NaN" in message else "infinite"
            raise _nan_error(match.group(1), kind) from None
        if _RANGE_TAG in message:
            raise _range_error() from None
        raise
