"""Train and test steps for the TensorFlow backend."""

import contextlib
import re

import keras
import tensorflow as tf

from keras_genae.errors import NonFiniteLossError

_NAN_TAG = "keras_genae:non-finite-loss:"
_RANGE_TAG = "keras_genae:input-range"


def _unpack_images(data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, (tuple, list)):
        x = x[0]
    return x


def _check_range(x):
    """In-graph check that a batch of images lies in [0, 1]."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            f"Expected float images in [0, 1]. Received a batch of dtype "
            f"{x.dtype.name}. Convert uint8 images with `x / 255` in the pipeline."
        )
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


def train_step(model, data):
    x = _check_range(_unpack_images(data))
    terms = {}
    for phase in model.train_phases():
        loss_fn = phase.loss_fn or (
            lambda x: model.compute_losses(x, training=True)
        )
        with tf.GradientTape() as tape:
            losses = _guard(loss_fn(x), model.loss_terms)
            objective = losses[phase.objective]
            scaled = phase.optimizer.scale_loss(objective)
        grads = tape.gradient(scaled, phase.variables)
        phase.optimizer.apply(grads, phase.variables)
        terms.update(losses)
    return model.update_metrics(terms)


def test_step(model, data):
    x = _check_range(_unpack_images(data))
    terms = _guard(model.compute_losses(x, training=False), model.loss_terms)
    return model.update_metrics(terms)


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
            raise NonFiniteLossError(
                f"Training stopped: the loss term {match.group(1)!r} became "
                f"{kind}; the update computed from it was not applied. Lower the "
                "learning rate, check the inputs for NaNs, or clip gradients "
                "(`optimizer=keras.optimizers.Adam(clipnorm=1.0)`).",
                term=match.group(1),
            ) from None
        if _RANGE_TAG in message:
            raise ValueError(
                "Expected float images in [0, 1], but a training batch has "
                "values outside that range. Scale uint8 images with `x / 255` "
                "(or map [-1, 1] images with `(x + 1) / 2`)."
            ) from None
        raise
