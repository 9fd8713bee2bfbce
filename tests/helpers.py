"""Shared test helpers, in the spirit of KerasHub's `TestCase`."""

import json
import os

import keras
import numpy as np

from keras_genae.models import family

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}

#: A subprocess that holds `run_lock(argv[2], argv[3])` (the module at
#: argv[1], loaded on its own) and prints "locked" once it does.
LOCK_HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("run_lock", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with module.run_lock(sys.argv[2], sys.argv[3]):
    print("locked", flush=True)
    time.sleep(60)
"""

# Small configurations so that every test runs in seconds: each family's
# `test_config` (keras_genae/models/<family>/presets.py), by class name.
TINY_CONFIGS = {f.architecture: dict(f.test_config) for f in family.list_families()}

# Configurations that exercise the state a step changes besides the
# weights: BatchNorm in the conv stacks and in the DCGAN generator, every
# random draw (denoising noise, VAE eps, AAE mixture prior with its
# randint), the VQ EMA codebook with dead-code restarts, and a trainable
# codebook. Keyed "Class" or "Class-variant"; `case_model` builds them.
STATEFUL_CASES = {
    "Autoencoder": dict(use_batchnorm=True),
    "DenoisingAutoencoder": dict(noise_type="gaussian"),
    "VAE": dict(use_batchnorm=True),
    "VQVAE": dict(use_ema=True, ema_decay=0.9, dead_code_threshold=0.5),
    "VQVAE-gradient": dict(use_ema=False),
    "AdversarialAutoencoder": dict(prior="mixture", conditional=True),
    "AdversarialAutoencoder-supervised": dict(num_classes=10),
    "DCGAN": dict(),
    "DCGAN-hinge": dict(loss="hinge", spectral_norm=True, upsampling="resize", kernel_size=3,
                        num_classes=10),
}


def case_model(name, seed=0):
    """The tiny model of `STATEFUL_CASES[name]`."""
    from keras_genae.models import ARCHITECTURES

    return tiny_model(ARCHITECTURES[name.split("-")[0]], seed=seed, **STATEFUL_CASES[name])


def load_test_images(name="mnist", n=256):
    """`n` real test images of `name` as float32 in [0, 1], NHWC."""
    with np.load(os.path.join(DATA_DIR, f"{name}_test_320.npz")) as d:
        x, y = d["x"][:n], d["y"][:n]
    x = x.astype("float32") / 255.0
    if x.ndim == 3:
        x = x[..., None]
    return x, y.astype("int64").ravel()


def tiny_model(cls, dataset="mnist", seed=0, **overrides):
    config = dict(TINY_CONFIGS.get(cls.__name__, {}))
    config.update(overrides)
    return cls(image_shape=SHAPES[dataset], seed=seed, **config)


def assert_weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def model_outputs(model, x):
    """Deterministic outputs used to compare two models."""
    if hasattr(model, "encoder"):
        return keras.ops.convert_to_numpy(model.reconstruct(x))
    return keras.ops.convert_to_numpy(model.sample(len(x), seed=123))


#: Public attributes that `compile` and `fit` add to any Keras model, so
#: an uncompiled copy from `from_config` lacks them; ignored by the
#: `dir()` check.
RUNTIME_ATTRIBUTES = frozenset({"history", "optimizer", "stop_training"})


def _json(config):
    """`config` as canonical JSON; fails if it holds a non-JSON value."""
    return json.dumps(config, sort_keys=True, indent=1)


def public_attributes(instance):
    """The `dir()`-visible public attribute names of `instance`."""
    return {a for a in dir(instance) if not a.startswith("_")} - RUNTIME_ATTRIBUTES


def run_serialization_test(instance):
    """Round-trip `instance` (a layer or a model) through its config, as
    KerasHub's `TestCase.run_serialization_test` does.

    Checks that `get_config()` and `keras.saving.serialize_keras_object`
    are JSON, that `from_config(get_config())` and deserializing the JSON
    of `serialize_keras_object` both give the same config (compared as
    JSON), the same class, the same parameter count and the same public
    attributes (`dir()`, without those `fit` adds), and that a built
    instance revives built.

    Returns:
        The `from_config` clone.
    """
    cls = type(instance)
    config = instance.get_config()
    config_json = _json(config)
    reference = public_attributes(instance)
    built = instance.built
    count = instance.count_params() if built else None

    clone = cls.from_config(config)
    if built and not clone.built:
        clone.build_from_config(instance.get_build_config())
    assert _json(clone.get_config()) == config_json
    assert public_attributes(clone) == reference, sorted(public_attributes(clone) ^ reference)

    serialized = keras.saving.serialize_keras_object(instance)
    revived = keras.saving.deserialize_keras_object(json.loads(_json(serialized)))
    assert type(revived) is cls
    assert revived.built == built
    assert _json(revived.get_config()) == config_json
    assert public_attributes(revived) == reference, sorted(public_attributes(revived) ^ reference)
    if built:
        assert clone.count_params() == revived.count_params() == count
    return clone


def _input_data(input_shape, seed=0):
    return np.random.default_rng(seed).random(input_shape, dtype=np.float32)


def _output_shapes(output):
    """The shape tuple of a tensor, or a tuple of those for a tuple output."""
    if isinstance(output, (tuple, list)):
        return tuple(_output_shapes(o) for o in output)
    return tuple(output.shape)


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape, call_kwargs=None,
                   expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                   input_data=None):
    """Run the basic checks on a layer, in the spirit of KerasHub's and
    Keras' `run_layer_test`.

    1. Serialization of the unbuilt layer (`run_serialization_test`).
    2. A symbolic call on a `keras.KerasTensor` of `input_shape` (batch
       axis unknown) gives `expected_output_shape` (batch axis `None`).
    3. An eager call on data of `input_shape` gives
       `expected_output_shape`, builds the layer, and creates the expected
       numbers of trainable and non-trainable weights; `build` alone
       creates the same weights.
    4. Serialization of the built layer; a `from_config` clone with the
       layer's weights gives the same output.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict. Constructor arguments.
        input_shape: tuple of int, with the batch axis.
        expected_output_shape: tuple of int, or a tuple of such tuples for
            a layer that returns a tuple.
        call_kwargs: dict. Extra call arguments (e.g. `training=False`).
        expected_num_trainable_weights: int or None (not checked).
        expected_num_non_trainable_weights: int or None (not checked).
        input_data: array or None. Defaults to uniform [0, 1) values.

    Returns:
        The eagerly called layer.
    """
    call_kwargs = dict(call_kwargs or {})
    data = _input_data(input_shape) if input_data is None else input_data

    def with_unknown_batch(shape):
        if shape and isinstance(shape[0], (tuple, list)):
            return tuple(with_unknown_batch(s) for s in shape)
        return (None,) + tuple(shape[1:])

    run_serialization_test(layer_cls(**init_kwargs))

    symbolic = layer_cls(**init_kwargs)
    output = symbolic(keras.KerasTensor((None,) + tuple(input_shape[1:])), **call_kwargs)
    assert _output_shapes(output) == with_unknown_batch(expected_output_shape)

    layer = layer_cls(**init_kwargs)
    assert not layer.built
    output = layer(data, **call_kwargs)
    assert layer.built
    assert _output_shapes(output) == tuple(expected_output_shape)
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    built_only = layer_cls(**init_kwargs)
    built_only.build(input_shape)
    assert [tuple(w.shape) for w in built_only.weights] == [tuple(w.shape) for w in layer.weights]

    clone = run_serialization_test(layer)
    clone.set_weights(layer.get_weights())
    for a, b in zip(keras.tree.flatten(clone(data, **call_kwargs)), keras.tree.flatten(output)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-6)
    return layer


def run_saving_test(model, x, tmp_path):
    """`.keras` (safe mode) and `save_weights` round trips, bit for bit."""
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert_weights_equal(model, loaded)
    np.testing.assert_array_equal(model_outputs(model, x), model_outputs(loaded, x))

    wpath = str(tmp_path / "model.weights.h5")
    model.save_weights(wpath)
    fresh = type(model).from_config(model.get_config())
    fresh.load_weights(wpath)
    assert_weights_equal(model, fresh)
    np.testing.assert_array_equal(model_outputs(model, x), model_outputs(fresh, x))
    return loaded


def run_model_test(model, x, epochs=1, batch_size=32):
    """Fit one epoch and evaluate: returns (history, before, after), where
    `before` and `after` are `evaluate` dicts around the fit."""
    before = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    history = model.fit(x, epochs=epochs, batch_size=batch_size, verbose=0)
    after = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    assert set(history.history) == set(after) == set(before)
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), (key, values)
    return history, before, after


def write_npz_dir(directory, names=("mnist",), n_train=256, n_test=64):
    """Write `<name>.npz` files in the ../shared/data format from the real
    test images of tests/data, for code that reads a local data folder."""
    os.makedirs(directory, exist_ok=True)
    for name in names:
        with np.load(os.path.join(DATA_DIR, f"{name}_test_320.npz")) as d:
            x, y = d["x"], d["y"]
        np.savez(
            os.path.join(directory, f"{name}.npz"),
            x_train=x[:n_train], y_train=y[:n_train],
            x_test=x[n_train:n_train + n_test], y_test=y[n_train:n_train + n_test],
        )
    return str(directory)
