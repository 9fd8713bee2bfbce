"""The gated PixelCNN prior over a VQ-VAE's codes: causality, the fast
sampler, sampling options, training it (jointly, and alone on a frozen
VQ-VAE, as the recipes' second stage), its probe, on every backend."""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_genae.evaluation import evaluate
from keras_genae.evaluation.prior import SIGMAS
from keras_genae.layers import GatedPixelCNN
from keras_genae.models import VQVAE
from keras_genae.models import family as recipes
from keras_genae.workflow import train as train_lib
from tests.helpers import TINY_CONFIGS
from tests.helpers import load_test_images
from tests.helpers import write_npz_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K, H, W = 7, 3, 4


def tiny_vqvae(prior=True, **changes):
    config = dict(TINY_CONFIGS["VQVAE"])
    if not prior:
        config.pop("prior")
    elif isinstance(prior, dict):
        config["prior"] = prior
    config.update(changes)
    return VQVAE(image_shape=(28, 28, 1), seed=0, **config)


def _numpy(x):
    return ops.convert_to_numpy(x)


def test_each_logit_sees_only_earlier_codes_and_all_of_them():
    prior = GatedPixelCNN(K, filters=8, num_layers=4, num_classes=3, seed=1)
    codes = np.random.RandomState(0).randint(0, K, (1, H, W))
    labels = np.array([1])
    base = _numpy(prior(codes, labels=labels))
    for i in range(H * W):
        changed = codes.copy()
        changed.flat[i] = (changed.flat[i] + 1) % K
        moved = np.abs(_numpy(prior(changed, labels=labels)) - base).max(-1).reshape(-1) > 1e-6
        assert not moved[: i + 1].any(), f"position {i} leaks into positions <= {i}"
        assert moved[-1] or i == H * W - 1, f"the last position does not see position {i}"
    # The label changes every logit.
    other = _numpy(prior(codes, labels=np.array([2])))
    assert (np.abs(other - base).max(-1) > 1e-6).all()


def test_the_row_cached_sampler_equals_naive_raster_sampling():
    prior = GatedPixelCNN(K, filters=8, num_layers=3, num_classes=3, seed=1)
    labels = np.array([0, 1, 2])
    fast = _numpy(prior.sample_codes(3, (H, W), labels=labels, temperature=0.7, seed=5))
    # The same Gumbel noise, one full forward pass per position.
    u = _numpy(keras.random.uniform((3, H, W, K), minval=1e-6, maxval=1 - 1e-6, seed=5))
    gumbel = -np.log(-np.log(u))
    codes = np.zeros((3, H, W), np.int32)
    for i in range(H * W):
        r, c = divmod(i, W)
        logits = _numpy(prior(codes, labels=labels))
        codes[:, r, c] = np.argmax(logits[:, r, c] / 0.7 + gumbel[:, r, c], axis=-1)
    assert fast.dtype == np.int32
    np.testing.assert_array_equal(fast, codes)


def test_log_prob_of_an_untrained_prior_is_near_uniform():
    prior = GatedPixelCNN(K, filters=8, num_layers=2)
    codes = np.random.RandomState(0).randint(0, K, (4, H, W))
    log_p = _numpy(prior.log_prob(codes))
    assert log_p.shape == (4,)
    np.testing.assert_allclose(log_p, -H * W * np.log(K), rtol=0.05)


def test_guided_sampling_mixes_conditional_and_unconditional_logits():
    prior = GatedPixelCNN(K, filters=8, num_layers=3, num_classes=3, seed=1)
    labels = np.array([0, 1, 2])
    g = 2.0
    guided = _numpy(prior.sample_codes(3, (H, W), labels=labels, seed=5, guidance=g))
    # The same Gumbel noise, one full forward pass per position, by hand.
    u = _numpy(keras.random.uniform((3, H, W, K), minval=1e-6, maxval=1 - 1e-6, seed=5))
    gumbel = -np.log(-np.log(u))
    codes = np.zeros((3, H, W), np.int32)
    for i in range(H * W):
        r, c = divmod(i, W)
        cond = _numpy(prior(codes, labels=labels))[:, r, c]
        uncond = _numpy(prior(codes))[:, r, c]  # "no label"
        codes[:, r, c] = np.argmax(cond + g * (cond - uncond) + gumbel[:, r, c], axis=-1)
    np.testing.assert_array_equal(guided, codes)
    plain = _numpy(prior.sample_codes(3, (H, W), labels=labels, seed=5))
    np.testing.assert_array_equal(plain, _numpy(prior.sample_codes(3, (H, W), labels=labels, seed=5,
                                                                   guidance=0.0)))
    # The layer's own guidance is the default where labels are given.
    layer = GatedPixelCNN.from_config({**prior.get_config(), "guidance": g})
    layer.build((None, H, W))
    layer.set_weights(prior.get_weights())
    np.testing.assert_array_equal(_numpy(layer.sample_codes(3, (H, W), labels=labels, seed=5)), guided)
    with pytest.raises(ValueError, match="needs a class-conditional prior and `labels`"):
        prior.sample_codes(2, (H, W), seed=0, guidance=1.0)
    with pytest.raises(ValueError, match="`guidance` must be a non-negative number"):
        prior.sample_codes(2, (H, W), labels=labels[:2], guidance=-1.0)
    with pytest.raises(ValueError, match="needs a class-conditional prior"):
        GatedPixelCNN(K, guidance=1.0)


def test_a_vqvae_samples_with_guidance():
    model = tiny_vqvae()
    a = _numpy(model.sample_latents(4, seed=3, labels=[0, 1, 2, 3], guidance=3.0))
    b = _numpy(model.sample_latents(4, seed=3, labels=[0, 1, 2, 3], guidance=3.0))
    c = _numpy(model.sample_latents(4, seed=3, labels=[0, 1, 2, 3]))
    np.testing.assert_array_equal(a, b)
    assert a.shape == c.shape and a.dtype == np.int32
    with pytest.raises(ValueError, match="`guidance` must be a non-negative number"):
        model.sample(2, guidance=-0.5)
    unconditional = tiny_vqvae(prior=dict(filters=8, num_layers=2))
    with pytest.raises(ValueError, match="`guidance` above 0 needs a class-conditional prior"):
        unconditional.sample(2, guidance=1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=2), "`kernel_size` must be odd"),
    (dict(num_classes=-1), "`num_classes` must be a non-negative integer"),
    (dict(label_dropout=1.0), r"`label_dropout` must be a number in \[0, 1\)"),
    (dict(filters=0), "`filters` must be a positive integer"),
])
def test_bad_prior_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GatedPixelCNN(K, **kwargs)


def test_a_vqvae_samples_only_with_a_prior():
    plain = tiny_vqvae(prior=False)
    assert "sample" not in plain.capabilities and not plain.has_prior
    assert "sample" in VQVAE.capabilities  # what the class can do, with a prior
    with pytest.raises(NotImplementedError, match="has no prior"):
        plain.sample(2)
    with pytest.raises(ValueError, match="`prior` must be None or a dict"):
        VQVAE(image_shape=(28, 28, 1), prior="pixelcnn")
    with pytest.raises(ValueError, match="nothing to train"):
        plain.autoencoder_trainable = False
    model = tiny_vqvae()
    assert "sample" in model.capabilities and model.has_prior and model.uses_labels


def test_sampling_options_are_checked_and_seeded():
    model = tiny_vqvae()
    a = _numpy(model.sample(5, seed=3, labels=[0, 1, 2, 3, 4], temperature=0.5))
    b = _numpy(model.sample(5, seed=3, labels=[0, 1, 2, 3, 4], temperature=0.5))
    assert a.shape == (5, 28, 28, 1) and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    # One label for all, batched calls and the direct (uncompiled) path agree.
    codes = _numpy(model.sample_latents(7, seed=4, labels=3, batch_size=3))
    assert codes.shape == (7,) + tuple(model.latent_shape) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < model.num_embeddings
    from keras_genae.inference import uncompiled

    with uncompiled():
        direct = _numpy(model.sample_latents(3, seed=4, labels=3))
    np.testing.assert_array_equal(direct, codes[:3])
    for kwargs, error, message in [
        (dict(labels=[0, 1]), ValueError, "`labels` must be one int or 3 ints in"),
        (dict(labels=10), ValueError, r"in \[0, 10\)"),
        (dict(labels=[0.5, 1, 2]), ValueError, "`labels` must be"),
        (dict(temperature=0), ValueError, "`temperature` must be a positive number"),
        (dict(temperature=float("nan")), ValueError, "`temperature` must be a positive number"),
        (dict(top_k=3), TypeError, "unexpected keyword"),
    ]:
        with pytest.raises(error, match=message):
            model.sample(3, **kwargs)
    unconditional = tiny_vqvae(prior=dict(filters=8, num_layers=2))
    assert not unconditional.uses_labels
    with pytest.raises(ValueError, match="needs a class-conditional prior"):
        unconditional.sample(2, labels=1)
    assert _numpy(unconditional.sample(2, seed=0)).shape == (2, 28, 28, 1)


def test_other_samplers_refuse_sampling_options():
    from tests.helpers import tiny_model
    from keras_genae.models import VAE

    with pytest.raises(TypeError, match="takes only `n`, `seed` and `batch_size`"):
        tiny_model(VAE).sample(2, labels=1)


def test_fit_trains_the_prior_with_labels_and_alone_on_a_frozen_autoencoder():
    keras.utils.set_random_seed(0)
    x, y = load_test_images("mnist", 64)
    model = tiny_vqvae()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0).history
    assert np.isfinite(history["prior_loss"][-1])  # jointly: the codes move under the prior
    with pytest.raises(ValueError, match=r"labels passed to fit must be 64 ints in \[0, 10\)"):
        model.fit(x, y + 10, epochs=1, verbose=0)
    # Alone: the encoder, codebook and decoder stay as they are.
    model.autoencoder_trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    frozen = [w.copy() for part in ("encoder", "quantizer", "decoder")
              for w in getattr(model, part).get_weights()]
    prior_before = [w.copy() for w in model.prior.get_weights()]
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=0).history
    assert np.isfinite(history["psnr"][-1])
    # On the frozen codes the prior learns: its NLL falls.
    assert history["prior_loss"][-1] < history["prior_loss"][0] - 0.05
    after = [w for part in ("encoder", "quantizer", "decoder") for w in getattr(model, part).get_weights()]
    for a, b in zip(frozen, after):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(prior_before, model.prior.get_weights()))
    # The freeze is part of the config (so that a resumed run keeps it).
    assert VQVAE.from_config(model.get_config()).autoencoder_trainable is False


def test_save_pretrained_and_load_keep_the_prior(tmp_path):
    from keras_genae.hub.api import load
    from keras_genae.hub.api import save_pretrained

    model = tiny_vqvae()
    save_pretrained(model, tmp_path / "ckpt", verbose=False)
    loaded = load(str(tmp_path / "ckpt"))
    assert loaded.has_prior and loaded.prior_config == model.prior_config
    np.testing.assert_array_equal(_numpy(loaded.sample(3, seed=1, labels=2)),
                                  _numpy(model.sample(3, seed=1, labels=2)))


def test_the_prior_probe_and_class_shares():
    x, y = load_test_images("mnist", 64)
    model = tiny_vqvae()
    from keras_genae.evaluation.classifier import shipped_classifier

    metrics = evaluate(model, (x, y), probes=["prior", "frechet"], classifier=shipped_classifier("mnist"),
                       num_samples=40, batch_size=32)
    h, w = model.latent_shape
    assert 0.5 * np.log2(16) < metrics["prior_bits_per_code"] < 1.5 * np.log2(16)
    # Conditional on the true labels: the bound adds log2(10) bits per image.
    np.testing.assert_allclose(metrics["prior_bits_per_image"],
                               metrics["prior_bits_per_code"] * h * w + np.log2(10), rtol=1e-5)
    assert metrics["decoder_sigma"] in SIGMAS
    assert metrics["bits_per_dim"] * 784 > metrics["prior_bits_per_image"]
    shares = [metrics[f"class_share_{k}"] for k in range(10)]
    assert abs(sum(shares) - 1.0) < 1e-6 and metrics["class_share_min"] == min(shares)


def test_a_recipe_trains_its_prior_stage_and_resumes_inside_it(tmp_path):
    data_dir = write_npz_dir(tmp_path / "data")
    out = str(tmp_path / "out")
    recipe = recipes.get_recipe("vqvae_mnist")
    config = dict(recipe.config, **TINY_CONFIGS["VQVAE"])
    recipe = dataclasses.replace(recipe, config=config, batch_size=64, epochs=1,
                                 prior_stage=recipes.PriorStage(epochs=1, batch_size=64))
    model, state = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    assert state["epochs"] == 2 and model.autoencoder_trainable
    history = json.load(open(os.path.join(out, "vqvae_mnist.state", "state.json")))["history"]
    assert len(history["prior_loss"]) == 2
    autoencoder = [w.copy() for w in model.decoder.get_weights()]
    # Ask for a longer prior stage: it resumes inside the stage, frozen.
    longer = dataclasses.replace(recipe, prior_stage=recipes.PriorStage(epochs=2, batch_size=64))
    model2, state2 = train_lib.train(longer, data_dir=data_dir, out=out, verbose=0)
    assert state2["epochs"] == 3
    for a, b in zip(autoencoder, model2.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="has no prior stage"):
        train_lib.train(recipes.get_recipe("ae_mnist"), data_dir=data_dir, out=out, prior_only=True)


WORKER = """
import json, sys
import keras, numpy as np
from keras import ops
sys.path.insert(0, {root!r})
from tests.helpers import TINY_CONFIGS, load_test_images
from keras_genae.models import VQVAE
keras.utils.set_random_seed(0)
x, y = load_test_images("mnist", 64)
m = VQVAE(image_shape=(28, 28, 1), seed=0, **TINY_CONFIGS["VQVAE"])
m.compile(optimizer=keras.optimizers.Adam(1e-2))
h = m.fit(x, y, epochs=1, batch_size=32, verbose=0).history
a = ops.convert_to_numpy(m.sample(4, seed=1, labels=[0, 1, 2, 3], temperature=0.8))
b = ops.convert_to_numpy(m.sample(4, seed=1, labels=[0, 1, 2, 3], temperature=0.8))
codes = ops.convert_to_numpy(m.sample_latents(5, seed=2, batch_size=2))
print(json.dumps(dict(prior_loss=h["prior_loss"][-1], same=bool(np.array_equal(a, b)),
                      shape=list(a.shape), dtype=str(codes.dtype), lo=int(codes.min()),
                      hi=int(codes.max()))))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_prior_trains_and_samples_on_every_backend(backend, tmp_path):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", WORKER.format(root=ROOT)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert np.isfinite(out["prior_loss"]) and out["same"]
    assert out["shape"] == [4, 28, 28, 1] and out["dtype"] == "int32"
    assert 0 <= out["lo"] and out["hi"] < 16
