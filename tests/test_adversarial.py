"""Adversarial models: the AAE and the DCGAN, with their multi-optimizer
train steps."""

import os

import keras
import numpy as np
import pytest

import keras_genae
from keras_genae.models import ARCHITECTURES
from keras_genae.models.gan.adversarial import sigmoid_cross_entropy

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
MNIST = (28, 28, 1)
CIFAR = (32, 32, 3)


def images(name="mnist", n=320):
    with np.load(os.path.join(DATA_DIR, f"{name}_test_320.npz")) as d:
        x = d["x"][:n]
    x = x.astype("float32") / 255.0
    return x[..., None] if x.ndim == 3 else x


def tiny_aae(image_shape=MNIST, **kwargs):
    config = dict(latent_dim=4, encoder_filters=(8, 16), discriminator_units=(32, 32), seed=0)
    config.update(kwargs)
    return keras_genae.AdversarialAutoencoder(image_shape=image_shape, **config)


def tiny_gan(image_shape=MNIST, **kwargs):
    config = dict(
        latent_dim=16, generator_filters=(32, 16), discriminator_filters=(16, 32), seed=0
    )
    config.update(kwargs)
    return keras_genae.DCGAN(image_shape=image_shape, **config)


BUILDERS = {"aae": tiny_aae, "dcgan": tiny_gan}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def mnist():
    return images("mnist")


def snapshot(model):
    return {v.path: v.numpy().copy() for v in model.trainable_variables}


def changed(model, before):
    return {
        v.path for v in model.trainable_variables if not np.array_equal(v.numpy(), before[v.path])
    }


def paths(*layers):
    return {v.path for layer in layers for v in layer.trainable_variables}


# ------------------------------------------------------------- API basics
def test_registered_and_exported():
    assert ARCHITECTURES["AdversarialAutoencoder"] is keras_genae.AdversarialAutoencoder
    assert ARCHITECTURES["DCGAN"] is keras_genae.DCGAN
    assert keras_genae.models.DCGAN is keras_genae.DCGAN


@pytest.mark.parametrize("image_shape", [MNIST, CIFAR], ids=["mnist", "cifar"])
@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("aae", {}),
        ("aae", {"prior": "mixture"}),
        ("dcgan", {"output_activation": "tanh"}),
        ("dcgan", {"output_activation": "sigmoid"}),
    ],
)
def test_build_and_sample_in_unit_range(kind, kwargs, image_shape):
    model = BUILDERS[kind](image_shape, **kwargs)
    a = np.asarray(model.sample(6, seed=3))
    assert a.shape == (6,) + image_shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, np.asarray(model.sample(6, seed=3)))
    assert not np.array_equal(a, np.asarray(model.sample(6, seed=4)))
    z = np.zeros((2, model.latent_dim), "float32")
    assert tuple(model.decode(z).shape) == (2,) + image_shape


def test_aae_priors():
    n = 4000
    gauss = np.asarray(tiny_aae(latent_dim=3).sample_latents(n, seed=0))
    np.testing.assert_allclose(gauss.mean(0), 0, atol=0.1)
    np.testing.assert_allclose(gauss.std(0), 1, atol=0.1)
    uni = np.asarray(tiny_aae(latent_dim=3, prior="uniform").sample_latents(n, seed=0))
    assert uni.min() >= -1 and uni.max() <= 1
    np.testing.assert_allclose(uni.std(0), 1 / np.sqrt(3), atol=0.05)
    mix = np.asarray(tiny_aae(latent_dim=3, prior="mixture", prior_components=4).sample_latents(n, seed=0))
    radius = np.linalg.norm(mix[:, :2], axis=1)
    assert 1.6 < np.median(radius) < 2.4
    angles = np.round(np.arctan2(mix[:, 1], mix[:, 0]) / (np.pi / 2)) % 4
    assert len(np.unique(angles)) == 4
    np.testing.assert_allclose(mix[:, 2].std(), 0.5, atol=0.05)


def test_dcgan_has_no_encoder(mnist):
    gan = tiny_gan()
    assert isinstance(gan, keras_genae.GenerativeModel)
    assert not isinstance(gan, keras_genae.GenerativeAutoencoder)
    for name in ("encode", "_encode", "reconstruct", "encoder"):
        assert not hasattr(gan, name), name
    assert gan.capabilities == {"decode", "sample"} and gan.has_prior
    # Calling the model and `predict` take latents, like `decode`.
    for call in (gan, lambda x: gan.predict(x, verbose=0)):
        with pytest.raises(ValueError, match=r"`z` must have shape \(batch, 16\)"):
            call(mnist[:2])
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    expected = np.asarray(gan.decode(z))
    np.testing.assert_allclose(np.asarray(gan(z)), expected, atol=1e-6)
    np.testing.assert_allclose(gan.predict(z, verbose=0), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"`z` must have shape \(batch, 16\)"):
        gan.decode(np.zeros((2, 8), "float32"))
    assert tuple(gan.discriminate(mnist[:3]).shape) == (3, 1)


def test_arguments_are_validated():
    with pytest.raises(ValueError, match=r"`label_smoothing` must be a number in \[0, 1\). Received: label_smoothing=1.0"):
        tiny_gan(label_smoothing=1.0)
    with pytest.raises(ValueError, match="`discriminator_steps` must be a positive integer"):
        tiny_gan(discriminator_steps=0)
    with pytest.raises(ValueError, match="`output_activation` must be one of"):
        tiny_gan(output_activation="relu")
    with pytest.raises(ValueError, match=r"divisible by 2\*\*len\(generator_filters\)=8"):
        tiny_gan(generator_filters=(32, 16, 8))
    with pytest.raises(ValueError, match="`generator_filters` must be a non-empty sequence"):
        tiny_gan(generator_filters=())
    with pytest.raises(ValueError, match="`prior` must be one of"):
        tiny_aae(prior="laplace")
    with pytest.raises(ValueError, match="mixture prior needs `latent_dim >= 2`"):
        tiny_aae(prior="mixture", latent_dim=1)
    with pytest.raises(ValueError, match="`discriminator_units` must be"):
        tiny_aae(discriminator_units=(0,))


def test_config_round_trip():
    for model in (tiny_aae(prior="uniform"), tiny_gan(label_smoothing=0.1, discriminator_steps=2)):
        config = model.get_config()
        clone = type(model).from_config(config)
        assert clone.get_config() == config
        assert clone.count_params() == model.count_params()


# ----------------------------------------------------------------- compile
def test_compile_optimizers():
    aae = tiny_aae()
    with pytest.raises(ValueError, match="must be compiled before training"):
        aae.train_phases()
    aae.compile()
    # `model.optimizer` holds every phase's optimizer and all their state.
    assert aae.optimizer.optimizers == [aae.ae_optimizer, aae.d_optimizer, aae.g_optimizer]
    assert len(aae.optimizer.variables) == sum(
        len(getattr(aae, n).variables) for n in aae.optimizer_names
    )
    assert float(aae.ae_optimizer.learning_rate) == pytest.approx(1e-3)
    # Callbacks act on the first optimizer's rate and iterations.
    assert float(aae.optimizer.learning_rate) == pytest.approx(1e-3)
    aae.optimizer.learning_rate = 5e-4
    assert float(aae.ae_optimizer.learning_rate) == pytest.approx(5e-4)
    assert aae.optimizer.iterations is aae.ae_optimizer.iterations
    with pytest.raises(TypeError, match="each phase of"):
        aae.optimizer.apply([])
    assert float(aae.d_optimizer.beta_1) == pytest.approx(0.5)
    # `optimizer=` is a template: each unset optimizer gets its own copy.
    d = keras.optimizers.RMSprop(1e-4)
    aae.compile(optimizer=keras.optimizers.SGD(0.05), d_optimizer=d)
    assert aae.d_optimizer is d
    assert isinstance(aae.ae_optimizer, keras.optimizers.SGD)
    assert isinstance(aae.g_optimizer, keras.optimizers.SGD)
    assert aae.ae_optimizer is not aae.g_optimizer
    assert float(aae.g_optimizer.learning_rate) == pytest.approx(0.05)
    assert all(getattr(aae, n).built for n in aae.optimizer_names)
    config = aae.get_compile_config()
    assert config["d_optimizer"]["class_name"] == "RMSprop"
    gan = tiny_gan()
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="`g_optimizer` and `d_optimizer` must be distinct"):
        gan.compile(g_optimizer=shared, d_optimizer=shared)
    with pytest.raises(ValueError, match="do not pass `loss`"):
        gan.compile(loss="mse")


# ------------------------------------------------------------------ losses
def test_dcgan_losses_match_their_definitions(mnist):
    gan = tiny_gan(label_smoothing=0.2)
    x = mnist[:16]
    state = gan.seed_generator.state.numpy()
    smooth = gan.discriminator_terms(x)["discriminator_loss"]
    gan.seed_generator.state.assign(state)
    gan.label_smoothing = 0.0
    plain = gan.discriminator_terms(x)["discriminator_loss"]
    # BCE(l, 1 - s) - BCE(l, 1) = s * l, on the real logits only.
    real_logits = np.asarray(gan.discriminate(x))
    np.testing.assert_allclose(float(smooth - plain), 0.2 * real_logits.mean(), rtol=1e-4, atol=1e-6)
    # Non-saturating generator loss: BCE(D(G(z)), 1).
    gan.seed_generator.state.assign(state)
    fake_logits = gan.discriminate(gan.decode(gan.sample_latents(16)))
    expected = keras.losses.BinaryCrossentropy(from_logits=True)(np.ones((16, 1)), fake_logits)
    gan.seed_generator.state.assign(state)
    np.testing.assert_allclose(float(gan.generator_terms(x)["generator_loss"]), float(expected), rtol=1e-5)
    logits = np.array([-30.0, -1.0, 0.0, 2.0, 40.0], "float32")
    np.testing.assert_allclose(
        float(sigmoid_cross_entropy(logits, 0.9)),
        float(keras.losses.binary_crossentropy(np.full(5, 0.9), logits, from_logits=True)),
        rtol=1e-5,
    )


# ----------------------------------------------------------------- phases
AAE_PHASES = {
    # phase -> the networks whose trainable weights it must change
    "reconstruction": ("encoder", "to_latent", "decoder", "from_latent"),
    "discriminator": ("discriminator",),
    "generator": ("encoder", "to_latent"),
}
GAN_PHASES = {"discriminator": ("discriminator",), "generator": ("generator",)}


@pytest.mark.parametrize(
    "kind, phase",
    [("aae", p) for p in AAE_PHASES] + [("dcgan", p) for p in GAN_PHASES],
)
def test_one_phase_updates_only_its_weights(kind, phase, mnist, monkeypatch):
    model = BUILDERS[kind]()
    model.compile()
    selected = [p for p in model.train_phases() if p.name == phase]
    monkeypatch.setattr(model, "train_phases", lambda: selected)
    monkeypatch.setattr(model, "update_metrics", lambda terms: {})  # terms of one phase only
    expected = paths(*(getattr(model, n) for n in (AAE_PHASES if kind == "aae" else GAN_PHASES)[phase]))
    before = snapshot(model)
    model.train_on_batch(mnist[:16])
    assert changed(model, before) == expected
    assert int(selected[0].optimizer.iterations) == 1


@pytest.mark.parametrize("kind", ["aae", "dcgan"])
def test_full_step_runs_every_phase(kind, mnist):
    model = BUILDERS[kind](**({"discriminator_steps": 2} if kind == "dcgan" else {}))
    model.compile()
    before = snapshot(model)
    logs = model.train_on_batch(mnist[:16], return_dict=True)
    assert changed(model, before) == set(before)
    iterations = {n: int(getattr(model, n).iterations) for n in model.optimizer_names}
    if kind == "dcgan":
        assert [p.name for p in model.train_phases()] == ["discriminator"] * 2 + ["generator"]
        assert iterations == {"g_optimizer": 1, "d_optimizer": 2}
    else:
        assert iterations == {"ae_optimizer": 1, "d_optimizer": 1, "g_optimizer": 1}
    psnr = {"psnr"} if model.reports_psnr else set()  # the AAE reconstructs
    assert set(logs) == set(model.loss_terms) | {"discriminator_accuracy"} | psnr


# ------------------------------------------------------- training on MNIST
@pytest.mark.parametrize("kind", ["aae", "dcgan"])
def test_fifty_steps_on_mnist(kind, mnist):
    model = BUILDERS[kind]()
    model.compile()
    history = model.fit(mnist, batch_size=32, epochs=5, verbose=0).history  # 50 steps
    assert int(model.optimizer.iterations) == 50
    for key, values in history.items():
        assert np.all(np.isfinite(values)), (key, values)
    acc = np.asarray(history["discriminator_accuracy"])
    assert np.all((acc > 0) & (acc < 1)), acc
    if kind == "aae":
        assert history["reconstruction_loss"][-1] < history["reconstruction_loss"][0]


# ----------------------------------------------------------------- saving
@pytest.mark.parametrize("kind", ["aae", "dcgan"])
def test_save_mid_training_then_resume(kind, mnist, tmp_path):
    model = BUILDERS[kind]()
    names = model.optimizer_names
    model.compile(**{n: keras.optimizers.Adam(1e-3 * (i + 1), beta_1=0.7) for i, n in enumerate(names)})
    batches = [mnist[i * 16 : (i + 1) * 16] for i in range(8)]
    for x in batches[:3]:
        model.train_on_batch(x)
    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.get_compile_config() == model.get_compile_config()
    for i, name in enumerate(names):
        old, new = getattr(model, name), getattr(loaded, name)
        assert float(new.learning_rate) == pytest.approx(1e-3 * (i + 1))
        assert int(new.iterations) == 3
        assert len(old.variables) == len(new.variables) > 2
        for a, b in zip(old.variables, new.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), loaded.seed_generator.state.numpy())
    np.testing.assert_array_equal(np.asarray(model.sample(4, seed=0)), np.asarray(loaded.sample(4, seed=0)))
    if kind == "aae":
        np.testing.assert_array_equal(
            np.asarray(model.reconstruct(mnist[:4])), np.asarray(loaded.reconstruct(mnist[:4]))
        )
    # Train both on: same batches, same noise (the RNG state was saved).
    for x in batches[3:]:
        a = model.train_on_batch(x, return_dict=True)
        b = loaded.train_on_batch(x, return_dict=True)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# -------------------------------------------------------------- NaN guard
@pytest.mark.parametrize(
    "kind, network, terms, frozen",
    [
        # `frozen`: the networks that the failing phase and the phases after
        # it train; none of their weights may change. (Phases before the
        # failing one in the same step may already have applied.)
        ("aae", "decoder", {"loss", "reconstruction_loss", "mse"}, ("encoder", "decoder", "discriminator")),
        ("aae", "discriminator", {"discriminator_loss"}, ("discriminator",)),
        ("dcgan", "generator", {"discriminator_loss"}, ("generator", "discriminator")),
        ("dcgan", "discriminator", {"discriminator_loss"}, ("generator", "discriminator")),
    ],
)
def test_injected_nan_stops_fit(kind, network, terms, frozen, mnist):
    model = BUILDERS[kind]()
    model.compile()
    w = getattr(model, network).trainable_variables[-1]
    w.assign(np.full(w.shape, np.nan, "float32"))
    watched = [v for n in frozen for v in getattr(model, n).trainable_variables if v is not w]
    before = [v.numpy().copy() for v in watched]
    with pytest.raises(keras_genae.NonFiniteLossError, match=r"loss term '\w+' became NaN") as info:
        model.fit(mnist[:32], batch_size=32, epochs=1, verbose=0)
    assert info.value.term in terms
    assert f"{info.value.term!r}" in str(info.value)
    for v, b in zip(watched, before):
        np.testing.assert_array_equal(v.numpy(), b, err_msg=v.path)
