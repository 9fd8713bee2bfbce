"""Compilation: the train function is traced once per input shape, not once
per epoch, and XLA (`jit_compile=True`) works for every family with the
trainer's NaN and input-range guard still in force."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_genae
from keras_genae.models import ARCHITECTURES
from keras_genae.training import stateful
from keras_genae.training import tensorflow as tensorflow_trainer
from tests.helpers import load_test_images
from tests.helpers import tiny_model

FAMILIES = sorted(ARCHITECTURES)


@pytest.fixture(scope="module")
def x():
    return load_test_images("mnist", 64)[0]


@pytest.fixture
def traces(monkeypatch):
    """Count the Python calls of the trainer's steps, which happen only when
    Keras traces the step function, keyed by step and batch shape."""
    counts = collections.Counter()
    for step in ("train_step", "test_step"):
        original = getattr(tensorflow_trainer, step)

        def counted(model, data, _original=original, _step=step):
            images = stateful.unpack_images(data)
            counts[_step, tuple(images.shape)] += 1
            return _original(model, data)

        monkeypatch.setattr(tensorflow_trainer, step, counted)
    return counts


class _CountPerEpoch(keras.callbacks.Callback):
    def __init__(self, counts):
        super().__init__()
        self.counts, self.totals = counts, []

    def on_epoch_end(self, epoch, logs=None):
        self.totals.append(sum(self.counts.values()))


def _total(counts, step):
    return sum(n for (s, _), n in counts.items() if s == step)


@pytest.mark.parametrize("name", FAMILIES)
def test_train_function_is_traced_once_across_epochs(name, x, traces):
    model = tiny_model(ARCHITECTURES[name])
    model.compile()
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True).cache().prefetch(2)
    per_epoch = _CountPerEpoch(traces)
    model.fit(ds, validation_data=ds, epochs=3, verbose=0, callbacks=[per_epoch])
    assert _total(traces, "train_step") == 1, traces
    assert _total(traces, "test_step") == 1, traces
    assert per_epoch.totals == [2, 2, 2]
    # A second `fit` (and `evaluate`) reuses the traced functions.
    model.fit(ds, epochs=2, verbose=0)
    model.evaluate(ds, verbose=0)
    assert sum(traces.values()) == 2, traces


def test_last_smaller_batch_adds_one_trace_in_the_first_epoch_only(x, traces):
    model = tiny_model(keras_genae.Autoencoder)
    model.compile()
    ds = tf.data.Dataset.from_tensor_slices(x[:40]).batch(16)  # 16, 16, 8
    per_epoch = _CountPerEpoch(traces)
    model.fit(ds, epochs=3, verbose=0, callbacks=[per_epoch])
    assert per_epoch.totals[0] <= 2
    assert per_epoch.totals[1:] == [per_epoch.totals[0]] * 2, per_epoch.totals


def test_numpy_input_and_the_package_pipeline_do_not_retrace(x, traces, tmp_path):
    # NumPy arrays with a remainder (Keras converts them to tf.data).
    model = tiny_model(keras_genae.VAE)
    model.compile()
    per_epoch = _CountPerEpoch(traces)
    model.fit(x[:40], batch_size=16, epochs=3, verbose=0, callbacks=[per_epoch])
    assert per_epoch.totals[1:] == [per_epoch.totals[0]] * 2, per_epoch.totals
    # `keras_genae.data.load_dataset` (cache, shuffle, batch, prefetch; the
    # dynamic binarization is a graph op too).
    traces.clear()
    images = (x[..., 0] * 255).astype("uint8")
    labels = np.zeros(len(x), "int64")
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    ds = keras_genae.data.load_dataset(
        "mnist", batch_size=16, seed=0, binarize="dynamic", data_dir=str(tmp_path),
        drop_remainder=True,
    )
    model = tiny_model(keras_genae.VAE)
    model.compile()
    per_epoch = _CountPerEpoch(traces)
    model.fit(ds, epochs=3, verbose=0, callbacks=[per_epoch])
    assert per_epoch.totals == [1, 1, 1], (per_epoch.totals, traces)


# -------------------------------------------------------------------- XLA
def _xla_fit(name, x):
    kwargs = {"use_ema": True} if name == "VQVAE" else {}
    model = tiny_model(ARCHITECTURES[name], **kwargs)
    model.compile(jit_compile=True)
    assert model.jit_compile
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(x, batch_size=16, epochs=1, verbose=0).history
    for key, values in history.items():
        assert np.isfinite(values).all(), (key, values)
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)]
    assert any(moved)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    return model


#: Families whose XLA run also checks the guard: the one-phase and the
#: multi-phase (three optimizers) train step.
GUARDED = ("Autoencoder", "AdversarialAutoencoder")


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[] if n in GUARDED else pytest.mark.slow) for n in FAMILIES],
)
def test_xla_training_works(name, x):
    model = _xla_fit(name, x)
    if name not in GUARDED:
        return
    # The guard stops on a non-finite loss without applying it. On the model
    # just trained, so that XLA compiles the steps once (batch 16 again).
    w = model.decoder.weights[-1]
    w.assign(np.full(w.shape, np.nan, "float32"))
    untouched = [v.numpy().copy() for v in model.trainable_variables if v is not w]
    with pytest.raises(keras_genae.NonFiniteLossError, match=r"loss term 'loss' became NaN") as info:
        model.fit(x[:32], batch_size=16, epochs=1, verbose=0)
    assert info.value.term == "loss"
    # Neither the failing phase nor the later phases were applied.
    after = [v.numpy() for v in model.trainable_variables if v is not w]
    for a, b in zip(untouched, after):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(keras_genae.NonFiniteLossError):
        model.evaluate(x[:16], batch_size=16, verbose=0)


def test_xla_guard_rejects_out_of_range_batches_in_fit_and_train_on_batch(x):
    """One model, batches of 8 throughout, so XLA compiles the step once."""
    model = tiny_model(keras_genae.Autoencoder)
    model.compile(jit_compile=True)
    before = [v.numpy().copy() for v in model.trainable_variables]
    bad = tf.data.Dataset.from_tensor_slices(x[:16] * 2.0).batch(8)
    with pytest.raises(ValueError, match=r"outside that range.*x / 255"):
        model.fit(bad, epochs=1, verbose=0)
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())
    with pytest.raises(ValueError, match="outside that range"):
        model.train_on_batch(x[:8] * 2.0)
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())
    # The guard is reset: good batches train afterwards, in both.
    model.train_on_batch(x[:8])
    moved = model.get_weights()
    assert any(not np.array_equal(b, m) for b, m in zip(before, moved))
    model.fit(x[:16], batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 3


def test_the_default_is_keras_auto_jit(x):
    # Measured on CPU (benchmarks/results/xla.md): XLA is slower for every
    # family, so no family forces it; Keras' "auto" picks XLA on GPUs.
    model = tiny_model(keras_genae.Autoencoder)
    model.compile()
    on_cpu_only = not [d for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    if on_cpu_only:
        assert model.jit_compile is False
