"""Family-specific behaviour: reparameterization, straight-through
estimator, EMA codebook, denoising."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_genae
from keras_genae.models.losses import gaussian_kl
from tests.helpers import load_test_images
from tests.helpers import tiny_model


@pytest.fixture(scope="module")
def mnist():
    return load_test_images("mnist", 64)[0]


def test_kl_matches_closed_form_on_hand_made_input():
    mean = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    log_var = np.array([[0.0, 0.0], [np.log(4.0), np.log(0.25)]], "float32")
    # KL = 0.5 * sum(mu^2 + var - 1 - log var) per row.
    expected = [0.0, 0.5 * ((1 + 4 - 1 - np.log(4)) + (4 + 0.25 - 1 - np.log(0.25)))]
    np.testing.assert_allclose(ops.convert_to_numpy(gaussian_kl(mean, log_var)), expected, rtol=1e-6)


def test_vae_kl_term_equals_closed_form_of_its_posterior(mnist):
    vae = tiny_model(keras_genae.VAE)
    x = mnist[:16]
    mean, log_var = (np.asarray(t) for t in vae.encode_distribution(x))
    expected = np.mean(0.5 * np.sum(mean**2 + np.exp(log_var) - 1 - log_var, axis=-1))
    terms = vae.compute_losses(x)
    np.testing.assert_allclose(float(terms["kl_loss"]), expected, rtol=1e-5)
    np.testing.assert_allclose(
        float(terms["neg_elbo"]), float(terms["reconstruction_loss"] + terms["kl_loss"]), rtol=1e-6
    )


def test_reparameterization_gradients_reach_mean_and_log_var_heads(mnist):
    vae = tiny_model(keras_genae.VAE)
    kernel = vae.to_latent.dense.kernel
    with tf.GradientTape() as tape:
        loss = vae.compute_losses(mnist[:16], training=True)["loss"]
    grad = tape.gradient(loss, kernel).numpy()
    d = vae.latent_dim
    assert np.abs(grad[:, :d]).sum() > 0, "no gradient reaches the mean head"
    assert np.abs(grad[:, d:]).sum() > 0, "no gradient reaches the log-variance head"
    # The draw is z = mean + exp(0.5 log_var) * eps: its gradient w.r.t. log_var
    # is 0.5 * (z - mean), checked with a fixed seed.
    mean = tf.constant([[0.5, -1.0]])
    log_var = tf.constant([[0.2, -0.4]])
    with tf.GradientTape() as tape:
        tape.watch(log_var)
        z = vae.reparameterize(mean, log_var, seed=7)
    np.testing.assert_allclose(
        tape.gradient(z, log_var).numpy(), 0.5 * (z - mean).numpy(), rtol=1e-6
    )


def test_vae_sampling_uses_the_seed_generator(mnist):
    vae = tiny_model(keras_genae.VAE)
    a = vae.compute_losses(mnist[:8], training=True)["reconstruction_loss"]
    b = vae.compute_losses(mnist[:8], training=True)["reconstruction_loss"]
    assert float(a) != float(b)  # fresh noise each step
    np.testing.assert_array_equal(np.asarray(vae.sample(4, seed=3)), np.asarray(vae.sample(4, seed=3)))


def test_gaussian_likelihood_is_a_scaled_mse(mnist):
    vae = tiny_model(keras_genae.VAE, likelihood="gaussian", gaussian_sigma=0.5)
    x = mnist[:4]
    logits = vae.decode_raw(vae.encode(x))
    mean = logits  # a linear output: the Gaussian mean
    expected = -(
        0.5 * np.sum(((x - np.asarray(mean)) / 0.5) ** 2, axis=(1, 2, 3))
        + x[0].size * (np.log(0.5) + 0.5 * np.log(2 * np.pi))
    )
    np.testing.assert_allclose(np.asarray(vae.log_likelihood(x, logits)), expected, rtol=1e-4)


@pytest.mark.parametrize("use_ema", [False, True])
def test_straight_through_estimator(mnist, use_ema):
    vq = tiny_model(keras_genae.VQVAE, use_ema=use_ema)
    x = mnist[:8]
    with tf.GradientTape(persistent=True) as tape:
        z = vq.encode_continuous(x)
        tape.watch(z)
        q_st, _, q = vq.quantizer(z)
        tape.watch(q_st)
        logits = vq.decode_raw(q_st)
        rec = tf.reduce_mean(tf.square(x - logits))
    dz = tape.gradient(rec, z).numpy()
    dq = tape.gradient(rec, q_st).numpy()
    assert np.abs(dz).sum() > 0
    np.testing.assert_allclose(dz, dq, rtol=1e-6, atol=1e-12)
    # The output equals the codebook vectors in value.
    np.testing.assert_allclose(q_st.numpy(), q.numpy(), atol=1e-6)
    with tf.GradientTape() as tape:
        loss = vq.compute_losses(x, training=False)["loss"]
    grads = tape.gradient(loss, vq.encoder.trainable_variables)
    assert all(g is not None for g in grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0


def test_vq_codebook_trainable_only_without_ema():
    assert tiny_model(keras_genae.VQVAE).quantizer.codebook.trainable
    ema = tiny_model(keras_genae.VQVAE, use_ema=True)
    assert not ema.quantizer.codebook.trainable
    assert all(not v.trainable for v in ema.quantizer.weights)


def test_vq_ema_update_moves_used_codes_toward_inputs():
    vq = keras_genae.layers.VectorQuantizer(num_embeddings=4, embedding_dim=2, use_ema=True, ema_decay=0.5)
    z = np.array([[[[1.0, 1.0], [1.0, 1.0]]]], "float32")  # (1, 1, 2, 2)
    vq.build(z.shape)
    vq.codebook.assign(np.array([[0.9, 0.9], [-1, -1], [5, 5], [0, 3]], "float32"))
    vq.ema_embed_sum.assign(vq.codebook)
    before = vq.codebook.numpy().copy()
    _, idx, _ = vq(z, training=False)
    np.testing.assert_array_equal(vq.codebook.numpy(), before)  # no update in inference
    _, idx, _ = vq(z, training=True)
    assert np.all(idx.numpy() == 0)
    after = vq.codebook.numpy()
    # cluster 0: 0.5 * 1 + 0.5 * 2 = 1.5; sum: 0.5 * 0.9 + 0.5 * 2 = 1.45.
    np.testing.assert_allclose(after[0], [1.45 / 1.5] * 2, rtol=1e-3)
    np.testing.assert_allclose(after[1:], before[1:], rtol=1e-3)


def test_vq_dead_codes_are_restarted_on_encoder_outputs():
    vq = keras_genae.layers.VectorQuantizer(
        num_embeddings=8, embedding_dim=2, dead_code_threshold=0.6, ema_decay=0.5, seed=1
    )
    z = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype("float32") + 10
    vq.build(z.shape)
    before = vq.codebook.numpy().copy()
    _, idx, _ = vq(z, training=True)  # usage of unused codes: 0.5 < 0.6 -> restart
    used = set(np.asarray(idx).ravel().tolist())
    codebook = vq.codebook.numpy()
    flat = z.reshape(-1, 2)
    for k, code in enumerate(codebook):
        if k in used:  # usage 0.5 + 0.5 * count > 0.6: kept
            np.testing.assert_array_equal(code, before[k])
        else:  # moved onto one of the batch's encoder outputs
            assert np.min(np.abs(flat - code).sum(axis=1)) < 1e-5
    np.testing.assert_array_equal(vq.usage.numpy()[sorted(set(range(8)) - used)], 1.0)


def test_vq_encode_decode_indices_and_vectors(mnist):
    vq = tiny_model(keras_genae.VQVAE)
    codes = vq.encode(mnist[:4])
    assert tuple(codes.shape) == (4, 7, 7) and "int" in str(codes.dtype)
    from_idx = np.asarray(vq.decode(codes))
    from_vec = np.asarray(vq.decode(vq.indices_to_vectors(codes)))
    np.testing.assert_allclose(from_idx, from_vec, atol=1e-6)
    np.testing.assert_allclose(from_idx, np.asarray(vq.reconstruct(mnist[:4])), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(batch, h, w\)"):
        vq.decode(np.zeros((4, 7), "int32"))
    with pytest.raises(ValueError, match="quantized vectors"):
        vq.decode(np.zeros((4, 7, 7, 3), "float32"))


def test_vq_tracks_codebook_usage_and_perplexity(mnist):
    vq = tiny_model(keras_genae.VQVAE)
    vq.compile()
    logs = vq.evaluate(mnist, batch_size=16, verbose=0, return_dict=True)
    counts = np.bincount(np.asarray(vq.encode(mnist)).ravel(), minlength=vq.num_embeddings)
    np.testing.assert_allclose(logs["codebook_usage"], np.mean(counts > 0), rtol=1e-6)
    p = counts / counts.sum()
    perplexity = np.exp(-np.sum(p[p > 0] * np.log(p[p > 0])))
    np.testing.assert_allclose(logs["perplexity"], perplexity, rtol=1e-4)


def test_denoising_noise_only_in_training(mnist):
    dae = tiny_model(keras_genae.DenoisingAutoencoder, noise_type="masking", noise_level=0.5)
    x = mnist[:8]
    eval_a = float(dae.compute_losses(x, training=False)["loss"])
    eval_b = float(dae.compute_losses(x, training=False)["loss"])
    assert eval_a == eval_b
    train_a = float(dae.compute_losses(x, training=True)["loss"])
    train_b = float(dae.compute_losses(x, training=True)["loss"])
    assert train_a != train_b
    noisy = np.asarray(dae.corrupt(x, seed=0))
    dropped = (x > 0) & (noisy == 0)
    assert 0.3 < dropped.sum() / (x > 0).sum() < 0.7
    gauss = tiny_model(keras_genae.DenoisingAutoencoder, noise_level=0.3)
    noisy = np.asarray(gauss.corrupt(x, seed=0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert 0.1 < np.std(noisy - x) < 0.3


def test_denoising_autoencoder_learns_to_denoise():
    x, _ = load_test_images("mnist", 320)
    dae = tiny_model(keras_genae.DenoisingAutoencoder, noise_level=0.3)
    dae.compile(optimizer=keras.optimizers.Adam(3e-3))
    noisy = np.asarray(dae.corrupt(x[:64], seed=0))
    err = lambda: float(np.mean((np.asarray(dae.reconstruct(noisy)) - x[:64]) ** 2))
    before = err()
    dae.fit(x[64:], epochs=3, batch_size=32, verbose=0)
    assert err() < before
