"""Tests of keras_genae.evaluation (evaluate and its probes, the likelihoods,
the Fréchet distance, the classifiers, evaluate_recipe) and the classifier family."""

import json
import logging
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_genae
from keras_genae.hub.checkpoint_writer import save_checkpoint
from keras_genae.models import FeatureClassifier
from keras_genae.models.classifier.recipe import augment_batch
from keras_genae.evaluation import core as evaluation
from keras_genae.evaluation import frechet
from keras_genae.evaluation import likelihood
from keras_genae.evaluation import probes as probes_lib
from keras_genae.evaluation.classifier import load_classifier

DATA = os.path.join(os.path.dirname(__file__), "data")

#: The Fréchet probe's other keys: class shares of a 10-class classifier,
#: precision and recall.
SHARES = {f"class_share_{k}" for k in range(10)} | {"class_share_min", "class_share_max", "precision", "recall"}


def _images(name, n=None):
    with np.load(os.path.join(DATA, f"{name}_test_320.npz")) as d:
        x, y = d["x"][:n], d["y"][:n]
    if x.ndim == 3:
        x = x[..., None]
    return x.astype("float32") / 255.0, y.astype("int32")


# ------------------------------------------------------------ image metrics
def test_psnr_known_values():
    x, _ = _images("cifar10", 8)
    assert np.all(np.isinf(evaluation.psnr(x, x)))
    flat = np.full((2, 16, 16, 1), 0.5, "float32")
    np.testing.assert_allclose(evaluation.psnr(flat, flat + 0.1), 20.0, rtol=1e-5)
    # Noise of +-delta on every pixel: MSE = delta**2, PSNR = -20 log10(delta).
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=x.shape).astype("float32")
    noisy = x * 0.5 + 0.25 + 0.05 * signs
    np.testing.assert_allclose(evaluation.psnr(x * 0.5 + 0.25, noisy), -20 * math.log10(0.05), rtol=1e-4)


def test_ssim_matches_tf_image_ssim():
    x, _ = _images("cifar10", 6)
    rng = np.random.default_rng(1)
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    np.testing.assert_allclose(evaluation.ssim(x, x), 1.0, atol=1e-5)
    np.testing.assert_allclose(evaluation.ssim(x, y), tf.image.ssim(x, y, 1.0), atol=1e-5)
    m, _ = _images("mnist", 4)
    np.testing.assert_allclose(evaluation.ssim(m, m[::-1]), tf.image.ssim(m, m[::-1], 1.0), atol=1e-5)
    with pytest.raises(ValueError, match="at least 11x11"):
        evaluation.ssim(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))


@pytest.mark.parametrize("mean,sigma", [(0.0, 0.1), (0.5, 0.1), (1.0, 0.1), (0.3, 0.01), (0.97, 0.003)])
def test_discretized_gaussian_is_a_distribution(mean, sigma):
    levels = np.arange(256, dtype="float32").reshape(256, 1, 1, 1) / 255.0
    log_p = evaluation.discretized_gaussian_log_likelihood(levels, np.full_like(levels, mean), sigma)
    np.testing.assert_allclose(np.exp(np.asarray(log_p, np.float64)).sum(), 1.0, atol=2e-3)
    # Away from the end bins it is the density times the bin width.
    if sigma == 0.1 and mean == 0.5:
        dens = -0.5 * ((levels[128] - 0.5) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
        np.testing.assert_allclose(log_p[128], dens.item() + math.log(1 / 255), atol=1e-3)


# -------------------------------------------------------- Fréchet distance
def test_frechet_distance_identical_and_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 6))
    assert abs(frechet.frechet_distance(a, a)) < 1e-8
    # Diagonal covariances: ||dmu||^2 + sum (sqrt(var_a) - sqrt(var_b))^2.
    mu_a, mu_b = np.zeros(3), np.array([1.0, -2.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet.frechet_distance_from_statistics(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # Samples from shifted, scaled gaussians approach the closed form.
    n, d = 40_000, 4
    s1 = rng.normal(size=(n, d))
    s2 = 1.0 + 2.0 * rng.normal(size=(n, d))
    np.testing.assert_allclose(frechet.frechet_distance(s1, s2), d * 1.0 + d * 1.0, rtol=0.03)


def test_frechet_distance_general_covariances():
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = m1 @ m1.T, m2 @ m2.T + np.diag([0, 0, 0, 0, 1e-9])
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    # tr sqrt(C1 C2) from the eigenvalues of the (non-symmetric) product.
    trace_sqrt = np.sum(np.sqrt(np.abs(np.linalg.eigvals(c1 @ c2))))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * trace_sqrt
    got = frechet.frechet_distance_from_statistics(mu1, c1, mu2, c2)
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    np.testing.assert_allclose(frechet.frechet_distance_from_statistics(mu2, c2, mu1, c1), got, rtol=1e-8)
    # Rank-deficient covariance (fewer samples than dimensions) stays finite.
    few = rng.normal(size=(3, 8))
    assert np.isfinite(frechet.frechet_distance(few, rng.normal(size=(50, 8))))


def test_streaming_statistics_match_numpy():
    rng = np.random.default_rng(2)
    f = 100.0 + rng.normal(size=(1000, 7))  # a large mean tests the shifted sums
    stats = frechet.FeatureStatistics()
    for chunk in np.array_split(f, 7):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(f, rowvar=False), rtol=1e-9, atol=1e-12)


# -------------------------------------------------------------- evaluate
def test_evaluate_autoencoder_and_denoiser():
    x, y = _images("mnist", 96)
    ae = keras_genae.Autoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8), seed=0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(40)
    results = evaluation.evaluate(ae, ds)
    assert set(results) == {"num_images", "mse", "psnr", "ssim"}
    assert results["num_images"] == 96
    recon = np.asarray(ae.reconstruct(x))
    np.testing.assert_allclose(results["mse"], np.mean((recon - x) ** 2), rtol=1e-5)
    np.testing.assert_allclose(results["psnr"], np.mean(evaluation.psnr(x, recon)), rtol=1e-5)
    assert results == pytest.approx(evaluation.evaluate(ae, x, batch_size=32), rel=1e-6)  # array input, same numbers (up to thread-order float sums)
    dae = keras_genae.DenoisingAutoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8))
    noisy = evaluation.evaluate(dae, x, noise_stddev=0.3, seed=1)
    assert {"noisy_psnr", "psnr_gain"} <= set(noisy)
    assert 10 < noisy["noisy_psnr"] < 14  # sigma 0.3 clipped: about 12 dB on MNIST
    assert noisy == evaluation.evaluate(dae, x, noise_stddev=0.3, seed=1)


def test_evaluate_vae_likelihoods_and_frechet(caplog):
    x, _ = _images("mnist", 64)
    binary = (x >= 0.5).astype("float32")
    vae = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8), seed=0)
    clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(4, 8), feature_dim=8)
    results = evaluation.evaluate(vae, binary, classifier=clf, num_samples=100, batch_size=32)
    assert set(results) == {"num_images", "mse", "psnr", "ssim", "neg_elbo", "kl",
                            "bits_per_dim", "frechet_distance", "num_samples", *SHARES}
    # An untrained Bernoulli decoder (logits near 0) costs about ln 2 per pixel.
    assert abs(results["neg_elbo"] / 784 - math.log(2)) < 0.1
    np.testing.assert_allclose(results["bits_per_dim"], results["neg_elbo"] / (784 * math.log(2)))
    assert results["frechet_distance"] >= 0
    assert results == pytest.approx(evaluation.evaluate(vae, binary, classifier=clf, num_samples=100, batch_size=32), rel=1e-6)
    with caplog.at_level(logging.WARNING, logger="keras_genae.evaluation"):
        grey = evaluation.evaluate(vae, x)
    assert "bits_per_dim" not in grey and "not binary" in caplog.text


def test_evaluate_gaussian_vae_bits_per_dim():
    x, _ = _images("cifar10", 32)
    vae = keras_genae.VAE(image_shape=(32, 32, 3), latent_dim=4, encoder_filters=(4, 8),
                          likelihood="gaussian", gaussian_sigma=0.1, seed=0)
    results = evaluation.evaluate(vae, x)
    # Interior bins: density * (1/255) per pixel; the end bins can only add mass.
    dims = 32 * 32 * 3
    density_bpd = results["neg_elbo"] / (dims * math.log(2)) + math.log2(255)
    assert 0 < results["bits_per_dim"] <= density_bpd + 1e-3
    assert results["bits_per_dim"] > density_bpd - 0.2


def test_evaluate_vqvae_codebook_usage():
    x, _ = _images("cifar10", 64)
    vq = keras_genae.VQVAE(image_shape=(32, 32, 3), num_embeddings=32, embedding_dim=4,
                           encoder_filters=(4, 8), num_res_blocks=0, seed=0)
    results = evaluation.evaluate(vq, x, batch_size=20)
    assert {"codebook_usage", "codes_used", "perplexity", "mse", "psnr", "ssim"} <= set(results)
    codes = np.asarray(vq.encode(x)).ravel()
    counts = np.bincount(codes, minlength=32)
    assert results["codes_used"] == len(np.unique(codes))
    np.testing.assert_allclose(results["codebook_usage"], len(np.unique(codes)) / 32)
    p = counts[counts > 0] / counts.sum()
    np.testing.assert_allclose(results["perplexity"], np.exp(-np.sum(p * np.log(p))), rtol=1e-6)
    assert 1.0 <= results["perplexity"] <= results["codes_used"]


class _Sampler(keras_genae.GenerativeAutoencoder):
    """A model with a prior and no encoder, like a GAN, outside the families."""

    has_prior = True
    capabilities = frozenset({"decode", "sample"})

    def __init__(self, **kwargs):
        super().__init__(image_shape=(28, 28, 1), **kwargs)
        self.dense = keras.layers.Dense(28 * 28)
        self.build()

    def build_layers(self, x):
        self.decode(keras.KerasTensor((None, 4)))

    def decode(self, z, training=False):
        return keras.ops.reshape(keras.ops.sigmoid(self.dense(z)), (-1, 28, 28, 1))

    def sample(self, n, seed=None):
        return self.decode(keras.random.normal((n, 4), seed=self._sample_seed(seed)))


def test_evaluate_sampler_without_reconstruction(tmp_path):
    x, _ = _images("mnist", 48)
    gan = _Sampler(seed=0)
    clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(4,), feature_dim=8)
    save_checkpoint(clf, tmp_path / "clf", overwrite=True)
    results = evaluation.evaluate(gan, x, classifier=str(tmp_path / "clf"), num_samples=64)
    assert set(results) == {"num_images", "frechet_distance", "num_samples", *SHARES}
    wrong = FeatureClassifier(image_shape=(32, 32, 3), filters=(4,))
    with pytest.raises(ValueError, match="classifier was built for images of shape"):
        evaluation.evaluate(gan, x, classifier=wrong)


# ----------------------------------------------------------------- probes
def test_probes_registry_defaults_and_errors():
    assert set(probes_lib.PROBES) == {"reconstruction", "denoising", "likelihood", "is_nll",
                                      "codebook", "prior", "frechet", "classification"}
    ae = keras_genae.Autoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4,))
    dae = keras_genae.DenoisingAutoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4,))
    assert evaluation.default_probes(ae) == ("reconstruction",)
    assert evaluation.default_probes(dae) == ("reconstruction", "denoising")
    assert evaluation.default_probes(_Sampler()) == ("frechet",)  # from its capabilities
    x, _ = _images("mnist", 8)
    assert set(evaluation.evaluate(ae, x, probes=["reconstruction"])) == {"num_images", "mse", "psnr", "ssim"}
    with pytest.raises(ValueError, match="Unknown probe 'recon'"):
        evaluation.evaluate(ae, x, probes=["recon"])
    with pytest.raises(ValueError, match="'codebook' probe cannot run on this model: it needs a VQVAE"):
        evaluation.evaluate(ae, x, probes=["codebook"])
    with pytest.raises(ValueError, match="'frechet' probe cannot run.*classifier"):
        evaluation.evaluate(_Sampler(), x, probes=["frechet"])
    with pytest.raises(ValueError, match="'denoising' probe cannot run.*cannot reconstruct"):
        evaluation.evaluate(_Sampler(), x, noise_stddev=0.3)  # noise on a model that cannot denoise
    with pytest.raises(ValueError, match="'denoising' probe cannot run.*noise_stddev"):
        evaluation.evaluate(ae, x, probes=["denoising"])
    with pytest.raises(ValueError, match="takes no options"):
        evaluation.evaluate(ae, x, probes=[("reconstruction", {"k": 1})])
    vae = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=2, encoder_filters=(4,))
    with pytest.raises(ValueError, match="`k` must be a positive integer. Received: k=0"):
        evaluation.evaluate(vae, x, probes=[("is_nll", {"k": 0})])


def test_denoising_uses_the_models_own_noise():
    x, _ = _images("mnist", 32)
    dae = keras_genae.DenoisingAutoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8))
    own = evaluation.evaluate(dae, x, seed=2)  # gaussian, noise_level 0.3: the zoo's and the CLI's
    assert {"noisy_psnr", "psnr_gain"} <= set(own)
    assert own == evaluation.evaluate(dae, x, seed=2, noise_stddev=0.3)
    masking = keras_genae.DenoisingAutoencoder(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8),
                                               noise_type="masking", noise_level=0.5)
    results = evaluation.evaluate(masking, x, seed=3, batch_size=32)
    corrupted = masking.corrupt(x, seed=keras.random.SeedGenerator(3))
    np.testing.assert_allclose(results["noisy_psnr"], np.mean(evaluation.psnr(x, corrupted)), rtol=1e-6)
    denoised = np.mean(evaluation.psnr(x, masking.reconstruct(corrupted)))
    np.testing.assert_allclose(results["psnr_gain"], denoised - results["noisy_psnr"], rtol=1e-5)


def test_classification_probe():
    x, y = _images("mnist", 40)
    clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(4,), feature_dim=8)
    results = evaluation.evaluate(clf, (x, y), batch_size=16, fd_reference=x[:20])
    predicted = np.argmax(np.asarray(clf(x, training=False)), axis=-1)
    assert results["test_accuracy"] == pytest.approx(np.mean(predicted == y))
    expected = frechet.frechet_distance_between(clf, x[:20], x)
    np.testing.assert_allclose(results["frechet_distance_train_test"], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="needs labels"):
        evaluation.evaluate(clf, x)


# ------------------------------------------------------- importance sampling
def _quadrature_nll(vae, x):
    """-log p(x) of a VAE with a 1-d latent: the integral over z on a grid."""
    grid = np.linspace(-8, 8, 1601).astype("float32")[:, None]
    raw = likelihood.decode_raw(vae, grid)
    log_lik = np.stack([np.asarray(vae.log_likelihood(np.repeat(x[i:i + 1], len(grid), 0), raw))
                        for i in range(len(x))])
    log_joint = log_lik - 0.5 * grid[:, 0] ** 2 - 0.5 * math.log(2 * math.pi)
    return -np.logaddexp.reduce(log_joint.astype(np.float64), axis=1) - math.log(grid[1, 0] - grid[0, 0])


def test_is_nll_approaches_the_exact_likelihood():
    """On a VAE with a 1-d latent whose decoder depends strongly on z (so that
    the untrained posterior is far off and the ELBO gap large), the bound
    decreases in K towards -log p(x) computed by quadrature."""
    x, _ = _images("mnist", 4)
    x = (x >= 0.5).astype("float32")
    keras.utils.set_random_seed(0)  # the weights, whatever ran before
    vae = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=1, encoder_filters=(4, 8), seed=0)
    kernel = vae.from_latent.dense.kernel
    kernel.assign(kernel * 30.0)
    exact = _quadrature_nll(vae, x).mean()
    means = {k: float(np.mean(likelihood.importance_weighted_nll(vae, x, k=k, chunk=250, seed=0)))
             for k in (1, 10, 100, 1000)}
    # Decreasing in K, up to Monte-Carlo noise (measured below 0.25 nats at
    # K = 1000 over 4 initializations, either side of the exact value).
    assert means[1] > means[10] > means[100] > means[1000] - 0.5
    assert means[1] - exact > 10  # the ELBO is far off ...
    assert abs(means[1000] - exact) < 1.0  # ... the bound at K = 1000 within a nat
    results = evaluation.evaluate(vae, x, probes=["likelihood", ("is_nll", {"k": 64, "chunk": 16})], seed=1)
    assert results["is_nll_k"] == 64 and exact - 0.5 < results["is_nll"] < results["neg_elbo"]
    np.testing.assert_allclose(results["is_nll_bits_per_dim"], results["is_nll"] / (784 * math.log(2)))
    again = evaluation.evaluate(vae, x, probes=["likelihood", ("is_nll", {"k": 64, "chunk": 16})], seed=1)
    assert again == results  # reproducible with a seed
    other = evaluation.evaluate(vae, x, probes=[("is_nll", {"k": 64, "chunk": 16})], seed=2)
    assert other["is_nll"] != results["is_nll"]


def test_is_nll_with_one_sample_is_the_elbo_in_expectation():
    x, _ = _images("mnist", 16)
    x = np.repeat((x >= 0.5).astype("float32"), 16, axis=0)  # 256 draws of 16 images
    keras.utils.set_random_seed(0)
    vae = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8), seed=0)
    one = np.asarray(likelihood.importance_weighted_nll(vae, x, k=1, seed=0), np.float64)
    kl, log_lik, _ = likelihood.elbo_terms(vae, x, keras.random.SeedGenerator(1))
    elbo = np.asarray(kl, np.float64) - np.asarray(log_lik, np.float64)
    tolerance = 4 * math.sqrt(one.var() / len(x) + elbo.var() / len(x))
    assert abs(one.mean() - elbo.mean()) < tolerance


def test_is_nll_gaussian_bits_per_dim():
    x, _ = _images("cifar10", 8)
    keras.utils.set_random_seed(0)
    vae = keras_genae.VAE(image_shape=(32, 32, 3), latent_dim=4, encoder_filters=(4, 8),
                          likelihood="gaussian", gaussian_sigma=0.1, seed=0)
    results = evaluation.evaluate(vae, x, probes=["likelihood", ("is_nll", {"k": 64, "chunk": 32})])
    assert results["is_nll"] <= results["neg_elbo"]
    assert 0 < results["is_nll_bits_per_dim"] <= results["bits_per_dim"] + 1e-3
    # The discrete and the continuous bound agree away from the end bins.
    density_bpd = results["is_nll"] / (32 * 32 * 3 * math.log(2)) + math.log2(255)
    assert density_bpd - 0.2 < results["is_nll_bits_per_dim"] <= density_bpd + 1e-3
    grey, _ = _images("mnist", 4)
    bernoulli = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=2, encoder_filters=(4,))
    assert "is_nll_bits_per_dim" not in evaluation.evaluate(bernoulli, grey, probes=[("is_nll", {"k": 4})])


# ---------------------------------------------------------- evaluate_recipe
def test_evaluate_recipe(tmp_path):
    from keras_genae.evaluation import evaluate_recipe
    from keras_genae.models.family import get_recipe
    from tests.helpers import write_npz_dir

    data_dir = write_npz_dir(tmp_path / "data", n_train=64, n_test=48)
    vae = keras_genae.VAE(image_shape=(28, 28, 1), latent_dim=4, encoder_filters=(4, 8), seed=0)
    metrics = evaluate_recipe(vae, get_recipe("vae_mnist"), data_dir, limit=40, num_samples=0,
                              probes=["likelihood"])
    assert metrics["num_images"] == 40 and "bits_per_dim" in metrics  # statically binarized
    test = keras_genae.data.load_dataset("mnist", "test[:40]", shuffle=False, binarize="static",
                                         data_dir=data_dir)
    assert metrics == pytest.approx(evaluation.evaluate(vae, test, probes=["likelihood"]), rel=1e-6)
    clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(4,), feature_dim=8)
    scored = evaluate_recipe(clf, get_recipe("classifier_mnist"), data_dir, num_samples=32)
    assert scored["num_images"] == 48 and 0 <= scored["test_accuracy"] <= 1
    assert scored["frechet_distance_train_test"] > 0


# ------------------------------------------------------------- classifier
def test_classifier_features_and_serialization(tmp_path):
    x, _ = _images("cifar10", 5)
    clf = FeatureClassifier(image_shape=(32, 32, 3), filters=(8, 16), feature_dim=24)
    assert tuple(clf.features(x).shape) == (5, 24)
    assert tuple(clf(x).shape) == (5, 10)
    assert keras.saving.get_registered_name(FeatureClassifier) == "keras_genae>FeatureClassifier"
    clone = FeatureClassifier.from_config(clf.get_config())
    assert clone.get_config() == clf.get_config()
    save_checkpoint(clf, tmp_path / "c", overwrite=True, metrics={"test_accuracy": 0.5})
    loaded = load_classifier(tmp_path / "c")
    np.testing.assert_allclose(loaded.features(x), clf.features(x), atol=1e-6)
    keras_path = str(tmp_path / "c.keras")
    clf.save(keras_path)
    np.testing.assert_allclose(keras.saving.load_model(keras_path).features(x), clf.features(x), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="classifier checkpoint directory"):
        load_classifier(tmp_path / "nothing")
    # The checkpoint has the zoo's layout and card; load() compiles it for
    # integer labels.
    assert {p.name for p in (tmp_path / "c").iterdir()} == {
        "config.json", "model.weights.h5", "metadata.json", "README.md"}
    card = (tmp_path / "c" / "README.md").read_text()
    assert "classifier.features(images)" in card and "reconstruct" not in card
    compiled = keras_genae.load(str(tmp_path / "c"))
    history = compiled.fit(x, np.arange(5), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history
    with pytest.raises(ValueError, match="does not hold a FeatureClassifier"):
        vae = keras_genae.VAE(image_shape=(32, 32, 3), latent_dim=2, encoder_filters=(4,))
        keras_genae.save_pretrained(vae, tmp_path / "vae", verbose=False)
        load_classifier(tmp_path / "vae")


def test_augment_batch():
    x, y = _images("cifar10", 4)
    same, _ = augment_batch(tf.constant(x), y, flip=False, crop_padding=0)
    np.testing.assert_array_equal(same, x)
    out, _ = augment_batch(tf.constant(x), y, flip=True, crop_padding=4, seed=0)
    assert out.shape == x.shape
    tf.random.set_seed(0)
    flipped, _ = augment_batch(tf.constant(np.repeat(x[:1], 64, 0)), y, True, 0)
    mirrored = np.all(np.isclose(flipped, x[:1, :, ::-1]), axis=(1, 2, 3))
    assert 0 < mirrored.sum() < 64


def test_train_classifier_recipe_tiny_run(tmp_path, capsys):
    """`genae train classifier_mnist` trains, evaluates and writes a zoo
    checkpoint with accuracy and the train-vs-test scale."""
    from keras_genae.cli import main
    from tests.helpers import write_npz_dir

    data_dir = write_npz_dir(tmp_path / "data", n_train=256, n_test=64)
    out = tmp_path / "ckpt"
    assert main(["train", "classifier_mnist", "--data-dir", data_dir, "--out", str(out),
                 "--epochs", "1", "--quiet", "--print-manifest"]) == 0
    metadata = json.loads((out / "classifier_mnist" / "metadata.json").read_text())
    metrics = metadata["metrics"]
    assert metadata["architecture"] == "FeatureClassifier"
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["num_images"] == 64
    assert metrics["epochs"] == 1
    assert math.isfinite(metrics["frechet_distance_train_test"]) and metrics["frechet_distance_train_test"] > 0
    assert '"test_accuracy"' in capsys.readouterr().out  # the manifest entry is printed
    # The per-epoch training state restores with its optimizer (resume).
    from keras_genae.callbacks import EpochCheckpoint

    restored, finished = EpochCheckpoint.restore(str(out / "classifier_mnist.state"))
    assert finished == 1 and isinstance(restored, FeatureClassifier)
    assert int(restored.optimizer.iterations.numpy()) == 2  # 256 images at batch 128, 1 epoch
    loaded = load_classifier(out / "classifier_mnist")
    x, _ = _images("mnist", 3)
    assert tuple(loaded.features(x).shape) == (3, 128)
    import h5py

    with h5py.File(out / "classifier_mnist" / "model.weights.h5") as f:
        assert "optimizer" not in f  # weights only: the shipped file stays small


def test_is_nll_tool(tmp_path, capsys):
    """tools/is_nll.py spreads a subset over the split and merges its JSON."""
    import importlib.util

    from tests.helpers import write_npz_dir

    spec = importlib.util.spec_from_file_location(
        "is_nll_tool", os.path.join(os.path.dirname(__file__), "..", "tools", "is_nll.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    data_dir = write_npz_dir(tmp_path / "data", n_train=8, n_test=40)
    out = tmp_path / "is_nll.json"
    out.write_text(json.dumps({"other": {"kept": True}}))
    assert tool.main(["vae_mnist", "--data-dir", data_dir, "--k", "4", "--limit", "5",
                      "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["other"] == {"kept": True}
    entry = written["vae_mnist"]
    assert entry["num_images"] == 5 and entry["stride"] == 8 and entry["binarize"] == "static"
    assert entry["metrics"]["is_nll_k"] == 4 and entry["images_per_second"] > 0
    assert entry["is_nll_below_neg_elbo"] == (entry["metrics"]["is_nll"] <= entry["metrics"]["neg_elbo"])
    with pytest.raises(SystemExit):
        tool.main(["vae_mnist", "--k", "0"])
    assert "--k must be a positive integer" in capsys.readouterr().err
