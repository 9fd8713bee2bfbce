"""Behaviour shared by every registered architecture."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_genae
from keras_genae.models import ARCHITECTURES
from tests.helpers import SHAPES
from tests.helpers import load_test_images
from tests.helpers import run_model_test
from tests.helpers import run_saving_test
from tests.helpers import run_serialization_test
from tests.helpers import tiny_model

ARCH_NAMES = sorted(ARCHITECTURES)


def representatives(keep, why):
    """`ARCH_NAMES` as params, the families not in `keep` marked slow: the
    behaviour is the shared trainer's, and `keep` names the cheapest
    families that exercise each of its code paths (`why`)."""
    assert set(keep) <= set(ARCH_NAMES) and why
    return [pytest.param(n, marks=[] if n in keep else [pytest.mark.slow]) for n in ARCH_NAMES]


@pytest.fixture(scope="module")
def images():
    return {name: load_test_images(name, 256) for name in SHAPES}


#: (arch, dataset) pairs fitted only in the slow run. Every family fits on
#: MNIST in the default run; on CIFAR-10 (32x32x3) the default run keeps the
#: families with a shipped CIFAR-10 checkpoint (VAE, VQVAE) and the DCGAN,
#: whose generator and discriminator are their own conv stacks. The others
#: are Autoencoder subclasses with the conv backbone that the VAE fits.
SLOW_FITS = {("Autoencoder", "cifar10"), ("DenoisingAutoencoder", "cifar10"),
             ("AdversarialAutoencoder", "cifar10")}


@pytest.mark.parametrize(
    "arch, dataset",
    [
        pytest.param(a, d, marks=[pytest.mark.slow] if (a, d) in SLOW_FITS else [])
        for a in ARCH_NAMES for d in sorted(SHAPES)
    ],
)
def test_fit_lowers_loss_and_evaluate_matches(arch, dataset, images):
    x, _ = images[dataset]
    model = tiny_model(ARCHITECTURES[arch], dataset)
    model.compile(optimizer=keras_genae_adam())
    assert model.count_params() > 0
    history, before, after = run_model_test(model, x)
    if "reconstruction_loss" in model.loss_terms:
        assert after["reconstruction_loss"] < before["reconstruction_loss"]
    if model.has_prior:
        samples = np.asarray(model.sample(3, seed=1))
        assert samples.shape == (3,) + SHAPES[dataset]
        assert samples.min() >= 0 and samples.max() <= 1


def keras_genae_adam():
    import keras

    return keras.optimizers.Adam(2e-3)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_serialization_and_saving_round_trip(arch, images, tmp_path):
    x, _ = images["mnist"]
    model = tiny_model(ARCHITECTURES[arch])
    model.compile()
    model.fit(x[:64], epochs=1, batch_size=32, verbose=0)
    run_serialization_test(model)
    run_saving_test(model, x[:8], tmp_path)


@pytest.mark.parametrize("arch", representatives(
    ("Autoencoder", "DCGAN"), "the one-phase train step and the multi-phase one, without an encoder"))
def test_fit_accepts_arrays_datasets_and_labelled_datasets(arch, images):
    x, y = images["mnist"]
    x, y = x[:64], y[:64]
    model = tiny_model(ARCHITECTURES[arch])
    model.compile()
    keys = set(model.fit(x, y, epochs=1, batch_size=32, verbose=0).history)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(32)
    labelled = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    assert set(model.fit(ds, epochs=1, verbose=0).history) == keys
    assert set(model.fit(labelled, epochs=1, verbose=0).history) == keys
    assert set(model.evaluate(labelled, verbose=0, return_dict=True)) == keys


@pytest.mark.parametrize("arch", representatives(
    ("Autoencoder", "DCGAN"), "the input checks of a model with an encoder (reconstruct too) and of one without"))
def test_bad_inputs_raise_clear_errors(arch, images):
    x, _ = images["mnist"]
    model = tiny_model(ARCHITECTURES[arch])
    model.compile()
    x8 = (x[:8] * 255).astype("uint8")
    with pytest.raises(ValueError, match=r"uint8.*x.astype\('float32'\) / 255"):
        model.fit(x8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"rank 4.*Received rank 3.*x\[\.\.\., None\]"):
        model.fit(x[:8, ..., 0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"Expected 1 channel\(s\).*3 channel"):
        model.fit(np.repeat(x[:8], 3, axis=-1), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 1\].*Received values in \[0, 255\].*Divide by 255"):
        model.fit(x[:8] * 255, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"height and width \(28, 28\)"):
        model.fit(np.zeros((4, 32, 32, 1), "float32"), epochs=1, verbose=0)
    # Datasets are checked by their spec up front and by value in the step.
    with pytest.raises(ValueError, match="uint8"):
        model.fit(tf.data.Dataset.from_tensor_slices(x8).batch(4), epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices(x[:8] * 2.0).batch(4)
    with pytest.raises(ValueError, match=r"outside that range.*x / 255"):
        model.fit(bad, epochs=1, verbose=0)
    if "reconstruct" in model.capabilities:
        with pytest.raises(ValueError, match="uint8"):
            model.reconstruct(x8)


@pytest.mark.parametrize("arch", representatives(
    ("Autoencoder", "VAE"),
    "the guard of the one-phase step, on one term and on a sum of terms; the multi-phase models "
    "have their own NaN tests in test_adversarial.py, and XLA's guard is in test_tracing.py"))
def test_injected_nan_stops_fit_naming_the_term(arch, images):
    x, _ = images["mnist"]
    model = tiny_model(ARCHITECTURES[arch])
    model.compile()
    # Poison one output-side weight: every loss term that depends on it is NaN.
    target = model.decoder if hasattr(model, "decoder") else model.generator
    w = target.weights[-1]
    w.assign(np.full(w.shape, np.nan, "float32"))
    untouched = [v.numpy().copy() for v in model.trainable_variables if v is not w]
    with pytest.raises(keras_genae.NonFiniteLossError, match=r"loss term '\w+' became NaN") as info:
        model.fit(x[:32], epochs=1, batch_size=32, verbose=0)
    assert info.value.term in model.loss_terms
    after = [v.numpy() for v in model.trainable_variables if v is not w]
    for a, b in zip(untouched, after):
        np.testing.assert_array_equal(a, b)


def test_unsupported_backend_error_names_the_backend():
    from keras_genae import training

    with pytest.raises(training.UnsupportedBackendError, match="'numpy'.*KERAS_BACKEND"):
        training.get_trainer("numpy")
    for name in ("tensorflow", "jax", "torch"):
        assert training.get_trainer(name).__name__ == f"keras_genae.training.{name}"


def test_architectures_validate_arguments():
    with pytest.raises(ValueError, match=r"`latent_dim` must be a positive integer. Received: latent_dim=0"):
        keras_genae.Autoencoder(image_shape=(28, 28, 1), latent_dim=0)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*levels=8.*\(28, 28, 1\)"):
        keras_genae.Autoencoder(image_shape=(28, 28, 1), encoder_filters=(8, 8, 8))
    with pytest.raises(ValueError, match="`image_shape` must be a tuple"):
        keras_genae.VAE(image_shape=(28, 28))
    with pytest.raises(ValueError, match="`likelihood` must be one of"):
        keras_genae.VAE(image_shape=(28, 28, 1), likelihood="poisson")
    with pytest.raises(ValueError, match="`noise_level` must be a positive number"):
        keras_genae.DenoisingAutoencoder(image_shape=(28, 28, 1), noise_type="masking", noise_level=2.0)


# ------------------------------------------------------------ capabilities
#: The declared capabilities of each architecture (the contract; a new
#: architecture must be added here).
EXPECTED_CAPABILITIES = {
    "Autoencoder": {"encode", "decode", "reconstruct"},
    "DenoisingAutoencoder": {"encode", "decode", "reconstruct"},
    "VQVAE": {"encode", "decode", "reconstruct", "sample"},  # "sample" with a prior
    "VAE": {"encode", "decode", "reconstruct", "sample"},
    "AdversarialAutoencoder": {"encode", "decode", "reconstruct", "sample"},
    "DCGAN": {"decode", "sample"},
}
PRIOR_ARCHS = sorted(a for a, c in EXPECTED_CAPABILITIES.items() if "sample" in c)


def test_every_architecture_declares_its_capabilities():
    assert set(EXPECTED_CAPABILITIES) == set(ARCH_NAMES)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_capabilities_are_declared_and_honoured(arch, images):
    cls = ARCHITECTURES[arch]
    assert isinstance(cls.capabilities, frozenset)
    assert cls.capabilities == EXPECTED_CAPABILITIES[arch]
    assert cls.capabilities <= keras_genae.models.CAPABILITIES
    assert issubclass(cls, keras_genae.GenerativeModel)
    assert issubclass(cls, keras_genae.GenerativeAutoencoder) == ("encode" in cls.capabilities)
    model = tiny_model(cls)
    assert cls.has_prior is ("sample" in cls.capabilities)
    assert model.has_prior is ("sample" in model.capabilities) and model.capabilities <= cls.capabilities
    x = images["mnist"][0][:2]
    if "encode" in cls.capabilities:
        z = model.encode(x)
        assert tuple(model.reconstruct(x).shape) == (2,) + SHAPES["mnist"]
    else:
        for name in ("encode", "_encode", "reconstruct"):
            assert not hasattr(model, name), name
        z = np.zeros((2, model.latent_dim), "float32")
    assert tuple(model.decode(z).shape) == (2,) + SHAPES["mnist"]
    if "sample" in cls.capabilities:
        assert tuple(model.sample(2, seed=0).shape) == (2,) + SHAPES["mnist"]
    else:
        for method in (model.sample, model.sample_latents):
            with pytest.raises(NotImplementedError, match=f"{arch} has no prior to sample from"):
                method(2)


def test_capabilities_of_subclasses_are_checked():
    class Legacy(keras_genae.Autoencoder):  # the older spelling
        has_prior = True

    assert Legacy.capabilities == {"encode", "decode", "reconstruct", "sample"} and Legacy.has_prior

    class NoPrior(keras_genae.VAE):
        has_prior = False

    assert "sample" not in NoPrior.capabilities and NoPrior.has_prior is False
    with pytest.raises(TypeError, match=r"Unknown capabilities \['fly'\]"):
        type("Bad", (keras_genae.GenerativeModel,), {"capabilities": frozenset({"decode", "fly"})})
    with pytest.raises(TypeError, match="declare `capabilities` only"):
        type("Both", (keras_genae.GenerativeModel,), {"capabilities": frozenset(), "has_prior": True})


@pytest.mark.parametrize("arch", PRIOR_ARCHS)
def test_sample_latents_shape_seeds_and_sample(arch):
    model = tiny_model(ARCHITECTURES[arch])
    z = model.sample_latents(5, seed=1)
    if isinstance(model, keras_genae.VQVAE):  # int32 code grids from the PixelCNN prior
        assert tuple(z.shape) == (5,) + tuple(model.latent_shape)
        assert keras.backend.standardize_dtype(z.dtype) == "int32"
    else:
        assert tuple(z.shape) == (5, model.latent_dim)
        assert keras.backend.standardize_dtype(z.dtype) == "float32"
    z = keras.ops.convert_to_numpy(z)
    np.testing.assert_array_equal(z, keras.ops.convert_to_numpy(model.sample_latents(np.int64(5), seed=1)))
    assert not np.allclose(z, keras.ops.convert_to_numpy(model.sample_latents(5, seed=2)))
    state = keras.ops.convert_to_numpy(model.seed_generator.state)
    a = keras.ops.convert_to_numpy(model.sample_latents(5))
    assert not np.array_equal(keras.ops.convert_to_numpy(model.seed_generator.state), state)
    assert not np.allclose(a, keras.ops.convert_to_numpy(model.sample_latents(5)))
    # `sample` decodes exactly these latents, batch by batch too.
    for batch_size in (None, 2):
        latents = model.sample_latents(5, seed=3, batch_size=batch_size)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(model.sample(5, seed=3, batch_size=batch_size)),
            keras.ops.convert_to_numpy(model.decode(latents)), atol=1e-6)


#: Values of `n` that `sample(n)` and `sample_latents(n)` reject.
BAD_COUNTS = (0, -1, 2.5, True, "3", None)


def test_sample_rejects_bad_counts():
    model = tiny_model(keras_genae.VAE)
    for method in (model.sample, model.sample_latents):
        for n in BAD_COUNTS:
            expected = f"`n` must be a positive integer. Received: n={n!r}"
            with pytest.raises(ValueError) as info:
                method(n)
            assert str(info.value) == expected
        with pytest.raises(ValueError, match=r"Received: n=-1$"):
            method(n=-1, seed=0)
    with keras_genae.inference.uncompiled():
        with pytest.raises(ValueError, match=r"Received: n=0$"):
            model.sample(0)
    assert tuple(model.sample(np.int32(2)).shape) == (2,) + SHAPES["mnist"]


def test_shipped_dcgan_samples_are_unchanged():
    gan = keras_genae.load("dcgan_mnist")
    assert type(gan) is keras_genae.DCGAN and gan.capabilities == {"decode", "sample"}
    a = keras.ops.convert_to_numpy(gan.sample(4, seed=0))
    np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(gan.sample(4, seed=0)))
    assert gan.uses_labels and gan.latent_size == 110 and gan.generator_ema is not None
    # Recorded when the class-conditional checkpoint was published.
    np.testing.assert_allclose(a.mean(axis=(1, 2, 3)), [0.13065937, 0.24080704, 0.16901588, 0.09264793], atol=1e-4)
    np.testing.assert_allclose(a[:, 14, 14, 0], [0.9964727, 0.0, 0.58985966, 0.9932333], atol=1e-4)
