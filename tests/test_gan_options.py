"""The options of the adversarial families that make them sample well:
the DCGAN's moving average of generator weights, hinge loss, spectral
normalization and resize-convolutions; the conditional and supervised
AAEs and the AAE's sampling temperature; and the precision and recall
that measure them."""

import keras
import numpy as np
import pytest

import keras_genae
from keras_genae.evaluation.precision_recall import knn_radii
from keras_genae.evaluation.precision_recall import precision_recall
from keras_genae.export.noise import noise_sampler
from keras_genae.layers import SpectralConv2D
from keras_genae.layers import SpectralDense
from keras_genae.models.aae.prior import MIXTURE_STD
from keras_genae.models.gan.networks import ema_update
from tests.helpers import load_test_images
from tests.helpers import run_serialization_test
from tests.test_adversarial import tiny_aae
from tests.test_adversarial import tiny_gan


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def mnist():
    return load_test_images("mnist", 128)


def _np(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------- DCGAN EMA
def test_the_moving_average_is_what_inference_runs(mnist):
    x, _ = mnist
    gan = tiny_gan()
    gan.compile()
    for a, b in zip(gan.generator_ema.weights, gan.generator.weights):  # starts as a copy
        np.testing.assert_array_equal(_np(a), _np(b))
    assert not gan.generator_ema.trainable and gan.generator_ema.trainable_weights == []
    gan.fit(x, epochs=2, batch_size=32, verbose=0)
    assert float(_np(gan.ema_updates)) == 8  # one per generator phase
    z = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    ema = 0.5 * (np.tanh(_np(gan.generator_ema(z, training=False))) + 1)
    raw = 0.5 * (np.tanh(_np(gan.generator(z, training=False))) + 1)
    np.testing.assert_allclose(_np(gan.decode(z)), ema, atol=1e-6)
    np.testing.assert_allclose(_np(gan.predict(z, verbose=0)), ema, atol=1e-5)
    assert np.abs(ema - raw).max() > 1e-3
    plain = tiny_gan(ema_decay=0.0)
    assert plain.generator_ema is None
    np.testing.assert_allclose(_np(plain.decode(z)), 0.5 * (np.tanh(_np(plain.generator(z))) + 1), atol=1e-6)


def test_ema_update_warms_up_then_decays():
    src, dst = keras.layers.Dense(2), keras.layers.Dense(2)
    src.build((None, 3)), dst.build((None, 3))
    count = keras.Variable(0.0)
    for v in dst.weights:
        v.assign(np.zeros(v.shape))
    for v in src.weights:
        v.assign(np.ones(v.shape))
    ema_update(dst, src, 0.999, count)  # d = min(0.999, 1 / 10)
    np.testing.assert_allclose(_np(dst.kernel), 0.9, rtol=1e-6)
    count.assign(1e6)
    ema_update(dst, src, 0.999, count)  # d = 0.999
    np.testing.assert_allclose(_np(dst.kernel), 0.999 * 0.9 + 0.001, rtol=1e-6)
    assert float(_np(count)) == 1e6 + 1


# ------------------------------------------------------- DCGAN other options
def test_hinge_losses_match_their_definitions(mnist):
    x = mnist[0][:16]
    gan = tiny_gan(loss="hinge")
    state = _np(gan.seed_generator.state).copy()
    terms = gan.discriminator_terms(x)
    gan.seed_generator.state.assign(state)
    fake = gan.decode(gan.sample_latents(16))
    real_logits, fake_logits = _np(gan.discriminate(x)), _np(gan.discriminate(fake))
    expected = np.maximum(0, 1 - real_logits).mean() + np.maximum(0, 1 + fake_logits).mean()
    np.testing.assert_allclose(float(terms["discriminator_loss"]), expected, rtol=1e-5)
    gan.seed_generator.state.assign(state)
    g = float(gan.generator_terms(x)["generator_loss"])
    np.testing.assert_allclose(g, -fake_logits.mean(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)], ids=["mnist", "cifar"])
def test_resize_generator_and_spectral_discriminator(shape):
    gan = tiny_gan(shape, upsampling="resize", spectral_norm=True, kernel_size=3)
    kinds = {type(layer).__name__ for layer in gan.generator.layers}
    assert "Conv2DTranspose" not in kinds and "UpSampling2D" in kinds
    d_kinds = [type(layer) for layer in gan.discriminator.layers]
    assert SpectralConv2D in d_kinds and SpectralDense in d_kinds
    assert not any(t in (keras.layers.Conv2D, keras.layers.Dense) for t in d_kinds)
    assert tuple(gan.sample(3, seed=0).shape) == (3,) + shape
    clone = run_serialization_test(gan)
    for key in ("loss", "spectral_norm", "upsampling", "ema_decay"):
        assert clone.get_config()[key] == gan.get_config()[key]


def test_a_saved_dcgan_with_every_option_samples_the_same(tmp_path, mnist):
    gan = tiny_gan(loss="hinge", spectral_norm=True, upsampling="resize", kernel_size=3)
    gan.compile()
    gan.fit(mnist[0][:64], epochs=1, batch_size=32, verbose=0)
    gan.save(tmp_path / "g.keras")
    back = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(_np(back.sample(4, seed=1)), _np(gan.sample(4, seed=1)), atol=1e-6)
    np.testing.assert_array_equal(_np(back.ema_updates), _np(gan.ema_updates))


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="wasserstein"), "`loss` must be one of"),
    (dict(upsampling="deconv"), "`upsampling` must be one of"),
    (dict(ema_decay=1.0), r"`ema_decay` must be a number in \[0, 1\)"),
    (dict(spectral_norm="yes"), "`spectral_norm` must be True or False"),
    (dict(loss="hinge", label_smoothing=0.1), "applies to the non-saturating loss only"),
])
def test_dcgan_option_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_gan(**kwargs)


# --------------------------------------------------------- conditional AAE
def test_conditional_aae_matches_classes_to_components(mnist):
    x, y = mnist
    aae = tiny_aae(prior="mixture", conditional=True)
    assert aae.uses_labels and aae.num_classes == 10
    assert tiny_aae(prior="mixture").uses_labels is False
    # The discriminator sees each code with its one-hot label (+ "unlabeled").
    assert aae.discriminator.layers[0].kernel.shape[0] == 4 + 11
    z = _np(aae.sample_latents(2000, seed=0, labels=3))
    angle = np.arctan2(z[:, 1], z[:, 0])
    np.testing.assert_allclose(np.median(angle), 3 * 2 * np.pi / 10, atol=0.05)
    # Only the labels' components are drawn, and the same seed draws the same.
    both = _np(aae.sample_latents(4, seed=1, labels=[0, 5, 0, 5]))
    np.testing.assert_array_equal(both, _np(aae.sample_latents(4, seed=1, labels=[0, 5, 0, 5])))
    assert np.all(both[[0, 2], 0] > 0) and np.all(both[[1, 3], 0] < 0)
    aae.compile()
    labeled = aae.fit(x, y, epochs=1, batch_size=32, verbose=0).history
    unlabeled = aae.fit(x, epochs=1, batch_size=32, verbose=0).history  # the "unlabeled" slot
    for h in (labeled, unlabeled):
        assert np.isfinite(h["discriminator_loss"][-1]) and np.isfinite(h["loss"][-1])
    assert tuple(aae.sample(3, seed=0, labels=[1, 2, 3]).shape) == (3, 28, 28, 1)


def test_conditional_aae_errors():
    with pytest.raises(ValueError, match="use prior='mixture'"):
        tiny_aae(conditional=True)
    with pytest.raises(ValueError, match="`conditional` must be True or False"):
        tiny_aae(prior="mixture", conditional=1)
    with pytest.raises(ValueError, match="needs a class-conditional model; this AdversarialAutoencoder is unconditional"):
        tiny_aae().sample(2, labels=[0, 1])
    with pytest.raises(ValueError, match=r"`labels` must be one int or 2 ints in \[0, 10\)"):
        tiny_aae(prior="mixture", conditional=True).sample(2, labels=[0, 10])


# ---------------------------------------------------------- supervised AAE
def test_supervised_aae_decodes_the_class_it_is_given(mnist):
    x, y = mnist
    aae = tiny_aae(num_classes=10)
    assert aae.uses_labels and aae.num_classes == 10 and aae.latent_size == 4 + 10
    # The discriminator sees the style code only; the decoder reads the class too.
    assert aae.discriminator.layers[0].kernel.shape[0] == 4
    assert "classification_loss" in aae.loss_terms
    z = _np(aae.sample_latents(6, seed=0, labels=[0, 1, 2, 3, 4, 9]))
    np.testing.assert_array_equal(z[:, 4:], np.eye(10, dtype="float32")[[0, 1, 2, 3, 4, 9]])
    drawn = _np(aae.sample_latents(3000, seed=1))[:, 4:]
    assert set(drawn.sum(axis=1)) == {1.0}
    assert np.all(np.abs(drawn.mean(axis=0) - 0.1) < 0.03)  # uniform classes by default
    # The tail of a code is the encoder's class probabilities.
    probabilities = _np(aae.encode(x[:8]))[:, 4:]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert probabilities.min() >= 0
    aae.compile()
    first = aae.fit(x, y, epochs=1, batch_size=32, verbose=0).history["classification_loss"][0]
    h = aae.fit(x, y, epochs=4, batch_size=32, verbose=0).history
    assert h["classification_loss"][-1] < first  # the class head learns from the labels
    np.testing.assert_allclose(h["loss"][-1], h["reconstruction_loss"][-1] + h["classification_loss"][-1],
                               rtol=1e-3)
    # An unlabeled batch reconstructs through the predicted class, with no class loss.
    unlabeled = aae.fit(x, epochs=1, batch_size=32, verbose=0).history
    assert unlabeled["classification_loss"] == [0.0] and np.isfinite(unlabeled["loss"][0])
    # Same style, another class: another image.
    a = _np(aae.sample(2, seed=3, labels=[1, 1]))
    b = _np(aae.sample(2, seed=3, labels=[7, 7]))
    assert np.abs(a - b).mean() > 1e-3 and a.shape == (2, 28, 28, 1)
    run_serialization_test(aae)


@pytest.mark.parametrize("kwargs,message", [
    (dict(num_classes=10, prior="mixture"), "`num_classes` makes a supervised AAE"),
    (dict(num_classes=10, prior="mixture", conditional=True), "Use one of them"),
    (dict(num_classes=-1), "`num_classes` must be"),
])
def test_supervised_aae_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_aae(**kwargs)


# ------------------------------------------------------- AAE temperature
@pytest.mark.parametrize("kwargs", [dict(), dict(prior="uniform"), dict(num_classes=10),
                                    dict(prior="mixture", conditional=True)])
def test_aae_temperature_scales_the_prior_noise(kwargs):
    aae = tiny_aae(**kwargs)
    labels = [0, 3, 5, 9] if aae.num_classes else None
    full = _np(aae.sample_latents(4, seed=2, labels=labels))
    half = _np(aae.sample_latents(4, seed=2, labels=labels, temperature=0.5))
    # The mixture's component means stay where they are; the spread halves.
    mean = _np(aae.prior_draws(np.zeros((4, 4), "float32"), components=np.array(labels))) \
        if aae.conditional else 0.0
    np.testing.assert_allclose(half[:, :4] - mean, 0.5 * (full[:, :4] - mean), atol=1e-6)
    np.testing.assert_array_equal(half[:, 4:], full[:, 4:])  # a supervised model's one-hot
    # The model's own temperature is what `sample` uses when given none.
    cold = tiny_aae(temperature=0.5, **kwargs)
    assert cold.get_config()["temperature"] == 0.5
    np.testing.assert_array_equal(_np(cold.sample_latents(4, seed=2, labels=labels)), half)
    np.testing.assert_array_equal(_np(cold.sample_latents(4, seed=2, labels=labels, temperature=1.0)), full)
    images = _np(cold.sample(4, seed=2, labels=labels))
    np.testing.assert_allclose(images, _np(cold.decode(half)), atol=1e-6)
    # The exported `sample` endpoint scales the caller's standard noise the same way.
    inputs, endpoint, _ = noise_sampler(cold)
    noise = (full[:, :4] - mean) / (MIXTURE_STD if aae.conditional else 1.0)
    args = [noise] + ([np.asarray(labels, "int32")] if len(inputs) == 2 else [])
    np.testing.assert_allclose(_np(endpoint(*args)), images, atol=1e-5)
    # A temperature set after a compiled call is the one the next call uses.
    cold.temperature = 1.0
    np.testing.assert_allclose(_np(cold.sample(4, seed=2, labels=labels)), _np(cold.decode(full)), atol=1e-6)
    run_serialization_test(cold)


def test_aae_temperature_errors():
    with pytest.raises(ValueError, match="`temperature` must be a positive number"):
        tiny_aae(temperature=0)
    with pytest.raises(ValueError, match="`temperature` must be a positive number"):
        tiny_aae().sample(2, temperature=-1.0)
    with pytest.raises(TypeError, match="takes only"):
        tiny_gan().sample(2, temperature=0.5)


# ------------------------------------------------- AAE ex-post code density
@pytest.mark.parametrize("kwargs", [dict(), dict(num_classes=10), dict(prior="mixture", conditional=True)])
def test_aae_samples_from_gaussians_fitted_to_its_codes(mnist, kwargs, tmp_path):
    x, y = mnist
    aae = tiny_aae(ex_post_density=True, **kwargs)
    labels = y if aae.num_classes else None
    with pytest.raises(ValueError, match="not fitted yet: call `model.fit_code_density"):
        aae.sample(2)
    aae.compile()
    aae.fit(x, labels, epochs=1, batch_size=32, verbose=0)
    assert aae.fit_code_density(x, labels) == len(x)
    codes = _np(aae.encode(x))[:, :4]
    wanted = 3 if aae.num_classes else None
    drawn = _np(aae.sample_latents(3000, seed=0, labels=wanted))
    own = codes[y == 3] if aae.num_classes else codes
    # The draws follow the codes of the class asked for (not the prior's N(0, I)).
    np.testing.assert_allclose(drawn[:, :4].mean(axis=0), own.mean(axis=0), atol=0.1 * own.std(axis=0).max())
    np.testing.assert_allclose(np.cov(drawn[:, :4], rowvar=False), np.cov(own, rowvar=False),
                               atol=0.15 * np.cov(own, rowvar=False).max())
    if aae.decoder_classes:  # the one-hot is the class the code was drawn for
        both = _np(aae.sample_latents(500, seed=1))
        assert set(both[:, 4:].sum(axis=1)) == {1.0}
    # The exported endpoint maps the caller's noise through the same Gaussians.
    inputs, endpoint, _ = noise_sampler(aae)
    noise = np.random.default_rng(0).standard_normal((4, 4)).astype("float32")
    classes = np.array([0, 3, 5, 9], "int32")
    z = _np(aae.code_density.draw(classes if aae.num_classes else np.zeros(4, "int32"), noise))
    if aae.decoder_classes:
        z = np.concatenate([z, np.eye(10, dtype="float32")[classes]], axis=-1)
    args = [noise] + ([classes] if len(inputs) == 2 else [])
    np.testing.assert_allclose(_np(endpoint(*args)), _np(aae.decode(z)), atol=1e-5)
    # Saved and loaded, the fitted Gaussians sample the same images.
    path = str(tmp_path / "aae.keras")
    aae.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(_np(loaded.sample(4, seed=2, labels=wanted)),
                               _np(aae.sample(4, seed=2, labels=wanted)), atol=1e-6)
    run_serialization_test(aae)


def test_aae_code_density_errors(mnist):
    x, y = mnist
    with pytest.raises(ValueError, match="build it with `ex_post_density=True`"):
        tiny_aae().fit_code_density(x)
    with pytest.raises(ValueError, match="fits one Gaussian per class: pass the images' `labels`"):
        tiny_aae(num_classes=10, ex_post_density=True).fit_code_density(x)
    with pytest.raises(ValueError, match="`ex_post_density` must be True or False"):
        tiny_aae(ex_post_density="yes")


# ------------------------------------------------------ precision and recall
def test_precision_and_recall_tell_collapse_from_blur():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(600, 8))
    same = precision_recall(real, rng.normal(size=(600, 8)))
    assert same["precision"] > 0.75 and same["recall"] > 0.75
    collapsed = precision_recall(real, 0.05 * rng.normal(size=(600, 8)))  # a few good images
    assert collapsed["precision"] > 0.95 and collapsed["recall"] < 0.1
    blurred = precision_recall(real, 4.0 * rng.normal(size=(600, 8)))  # everything, badly
    assert blurred["precision"] < 0.1 and blurred["recall"] > 0.95
    far = precision_recall(real, 100.0 + rng.normal(size=(600, 8)))
    assert far == {"precision": 0.0, "recall": 0.0}


def test_knn_radii_are_the_kth_neighbour_and_chunking_changes_nothing():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(knn_radii(points, k=1), [1.0, 1.0, 4.0, 16.0])
    np.testing.assert_allclose(knn_radii(points, k=3), [49.0, 36.0, 16.0, 49.0])
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(250, 4)) + 0.3
    assert precision_recall(real, fake, chunk=7) == precision_recall(real, fake, chunk=1000)


def test_precision_recall_errors():
    with pytest.raises(ValueError, match="same feature size"):
        precision_recall(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"`k` must be an integer in \[1, 4\]"):
        knn_radii(np.zeros((5, 3)), k=5)
    with pytest.raises(ValueError, match="at least 2 feature vectors"):
        precision_recall(np.zeros((1, 3)), np.zeros((5, 3)))


# -------------------------------------------------------- conditional DCGAN
def test_conditional_dcgan_latents_carry_the_class(mnist):
    x, y = mnist
    gan = tiny_gan(num_classes=10)
    assert gan.uses_labels and gan.latent_size == 26 and not tiny_gan().uses_labels
    z = _np(gan.sample_latents(6, seed=0, labels=[0, 1, 2, 3, 4, 9]))
    assert z.shape == (6, 26)
    np.testing.assert_array_equal(z[:, 16:].argmax(1), [0, 1, 2, 3, 4, 9])
    np.testing.assert_array_equal(z[:, 16:].sum(1), np.ones(6))
    drawn = _np(gan.sample_latents(500, seed=1))[:, 16:].argmax(1)
    assert len(np.unique(drawn)) == 10
    with pytest.raises(ValueError, match=r"`z` must have shape \(batch, 26\) \(the noise, then the one-hot"):
        gan.decode(np.zeros((2, 16), "float32"))
    # The class changes the sample; the noise alone does not decide it.
    a = _np(gan.decode(z[:1]))
    other = z[:1].copy()
    other[0, 16:] = np.eye(10)[5]
    assert np.abs(a - _np(gan.decode(other))).max() > 1e-4
    # The projection discriminator reads the label.
    logits = [_np(gan.discriminate(x[:4], labels=np.full(4, k))) for k in (0, 7)]
    assert np.abs(logits[0] - logits[1]).max() > 0
    gan.compile()
    before = gan.class_projection.get_weights()[0].copy()
    gan.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.abs(gan.class_projection.get_weights()[0] - before).max() > 0  # trained by the d phase
    gan.fit(x, epochs=1, batch_size=32, verbose=0)  # unlabeled: the "unlabeled" row
    assert tuple(gan.sample(3, seed=0, labels=7).shape) == (3, 28, 28, 1)
    with pytest.raises(ValueError, match="this DCGAN is unconditional"):
        tiny_gan().sample(2, labels=[0, 1])
    with pytest.raises(ValueError, match="`num_classes` must be a non-negative integer"):
        tiny_gan(num_classes=-1)


WORKER = """
import json, sys
import keras, numpy as np
from keras import ops
sys.path.insert(0, {root!r})
from tests.helpers import load_test_images
from tests.test_adversarial import tiny_aae, tiny_gan
keras.utils.set_random_seed(0)
x, y = load_test_images("mnist", 64)
out = {{}}
for name, model in (("dcgan", tiny_gan(num_classes=10, loss="hinge", spectral_norm=True,
                                       upsampling="resize", kernel_size=3)),
                    ("aae", tiny_aae(prior="mixture", conditional=True, ex_post_density=True)),
                    ("supervised_aae", tiny_aae(num_classes=10, temperature=0.5))):
    model.compile()
    h = model.fit(x, y, epochs=1, batch_size=32, verbose=0).history
    if name == "aae":  # samples from the Gaussians fitted to its codes (>= 5 per class)
        model.fit_code_density(*load_test_images("mnist", 200))
    a = ops.convert_to_numpy(model.sample(4, seed=1, labels=[0, 1, 2, 3]))
    b = ops.convert_to_numpy(model.sample(4, seed=1, labels=[0, 1, 2, 3]))
    out[name] = dict(d_loss=h["discriminator_loss"][-1], same=bool(np.array_equal(a, b)),
                     shape=list(a.shape), lo=float(a.min()), hi=float(a.max()))
    if name == "supervised_aae":  # sampled at its temperature 0.5: half the spread of 1
        cold, full = (ops.convert_to_numpy(model.sample_latents(4, seed=1, temperature=t))[:, :4]
                      for t in (None, 1.0))
        out[name]["temperature_error"] = float(np.abs(cold - 0.5 * full).max())
print(json.dumps(out))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_conditional_adversarial_models_train_with_labels_on_every_backend(backend, tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", WORKER.format(root=root)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("dcgan", "aae", "supervised_aae"):
        assert np.isfinite(out[name]["d_loss"]) and out[name]["same"], name
        assert out[name]["shape"] == [4, 28, 28, 1] and 0 <= out[name]["lo"] <= out[name]["hi"] <= 1
    assert out["supervised_aae"]["temperature_error"] < 1e-6
