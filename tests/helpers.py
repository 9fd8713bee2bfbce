"""Shared test helpers, in the spirit of KerasHub's `TestCase`."""

import os

import keras
import numpy as np

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

# Small configurations so that every test runs in seconds. An architecture
# missing here is tested with its defaults: new models are covered anyway.
TINY_CONFIGS = {
    "Autoencoder": dict(latent_dim=8, encoder_filters=(8, 16)),
    "DenoisingAutoencoder": dict(latent_dim=8, encoder_filters=(8, 16)),
    "VAE": dict(latent_dim=4, encoder_filters=(8, 16)),
    "VQVAE": dict(
        num_embeddings=16, embedding_dim=4, encoder_filters=(8, 16), num_res_blocks=1
    ),
    "AdversarialAutoencoder": dict(latent_dim=4, encoder_filters=(8, 16)),
    "DCGAN": dict(latent_dim=8),
}

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
    "AdversarialAutoencoder": dict(prior="mixture"),
    "DCGAN": dict(),
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


def run_serialization_test(model):
    """`get_config` -> `from_config` gives the same config and architecture."""
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model)
    )
    assert type(revived) is type(model)
    return clone


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
