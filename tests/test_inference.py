"""Compiled, batched inference (keras_genae.inference) on every backend.

The test process runs TensorFlow; the JAX and PyTorch checks run in one
subprocess per backend (tests/backend_checks.py), which also checks that
neither imports TensorFlow.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_genae
from keras_genae.models import FeatureClassifier
from keras_genae.inference import uncompiled
from keras_genae.models import ARCHITECTURES
from tests.helpers import SHAPES
from tests.test_models import BAD_COUNTS
from tests.helpers import tiny_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
numpy = keras.ops.convert_to_numpy


def images(n=6, dataset="mnist", seed=0):
    return np.random.default_rng(seed).random((n,) + SHAPES[dataset], dtype=np.float32)


def methods(model, x):
    """name -> zero-argument call of every inference method of `model`."""
    calls = {}
    if "encode" in model.capabilities:
        calls["encode"] = lambda: model.encode(x)
        calls["reconstruct"] = lambda: model.reconstruct(x)
        z = numpy(model.encode(x))
    else:
        z = np.random.default_rng(0).standard_normal((len(x), model.latent_dim)).astype("float32")
    calls["decode"] = lambda: model.decode(z)
    if "sample" in model.capabilities:
        calls["sample"] = lambda: model.sample(len(x), seed=5)
        calls["sample_latents"] = lambda: model.sample_latents(len(x), seed=5)
    return calls


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_compiled_matches_direct_and_returns_backend_tensor(name):
    model = tiny_model(ARCHITECTURES[name])
    x = images()
    for method, call in methods(model, x).items():
        compiled = call()
        with uncompiled():
            direct = call()
        assert isinstance(compiled, tf.Tensor), method
        np.testing.assert_allclose(numpy(compiled), numpy(direct), atol=1e-5, err_msg=method)


def test_return_types_and_dtypes():
    """What the README says each method returns on TensorFlow."""
    x = images(3)
    vae, vq = tiny_model(keras_genae.VAE), tiny_model(keras_genae.VQVAE)
    outputs = {"encode": vae.encode(x), "decode": vae.decode(vae.encode(x)),
               "reconstruct": vae.reconstruct(x), "sample": vae.sample(3),
               "sample_latents": vae.sample_latents(3)}
    for name, y in outputs.items():
        assert isinstance(y, tf.Tensor) and keras.backend.standardize_dtype(y.dtype) == "float32", name
        np.testing.assert_array_equal(np.asarray(y), numpy(y))
    codes = vq.encode(x)
    assert isinstance(codes, tf.Tensor) and keras.backend.standardize_dtype(codes.dtype) == "int32"
    assert keras.backend.standardize_dtype(vq.reconstruct(x).dtype) == "float32"


def test_inputs_numpy_list_and_tensor():
    model = tiny_model(keras_genae.VAE)
    x = images()
    expected = numpy(model.reconstruct(x))
    for given in (tf.constant(x), x.tolist(), keras.ops.convert_to_tensor(x)):
        np.testing.assert_allclose(numpy(model.reconstruct(given)), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(tf.constant(x), verbose=0), expected, atol=1e-5)
    model.compile()
    logs = model.evaluate(tf.constant(x), batch_size=3, verbose=0, return_dict=True)
    assert np.isfinite(logs["loss"])
    with pytest.raises(ValueError, match="Received dtype uint8"):
        model.reconstruct(tf.constant((x * 255).astype("uint8")))
    with pytest.raises(ValueError, match=r"values in \[.*\]\. Divide by 255"):
        model.encode(tf.constant(x * 3))


def test_batches_and_trace_cache():
    model = tiny_model(keras_genae.VQVAE)
    x = images(20)
    whole = numpy(model.reconstruct(x, batch_size=64))
    runner = model.__dict__["_genae_inference"]
    batched = numpy(model.reconstruct(x, batch_size=7))  # 7, 7 and 6 images
    np.testing.assert_allclose(batched, whole, atol=1e-6)
    traces = runner.traces
    for n in (20, 20, 7, 6):
        model.reconstruct(x[:n], batch_size=7)
    assert runner.traces == traces  # every shape was seen, nothing retraced
    codes = model.encode(x, batch_size=8)
    assert tuple(codes.shape)[0] == 20 and keras.backend.standardize_dtype(codes.dtype) == "int32"
    assert tuple(model.decode(codes, batch_size=8).shape) == (20,) + SHAPES["mnist"]
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer or None\. Received: batch_size=0"):
        model.reconstruct(x, batch_size=0)


def test_results_follow_new_weights():
    model = tiny_model(keras_genae.Autoencoder)
    x = images(16)
    before = numpy(model.reconstruct(x))
    weights = model.get_weights()
    model.set_weights([w * 0.5 for w in weights])
    after = numpy(model.reconstruct(x))
    assert not np.allclose(before, after)
    with uncompiled():
        np.testing.assert_allclose(after, numpy(model.reconstruct(x)), atol=1e-6)
    model.set_weights(weights)
    model.compile()
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(before, numpy(model.reconstruct(x)))


def test_sample_seeds():
    model = tiny_model(keras_genae.AdversarialAutoencoder)
    state = numpy(model.seed_generator.state)
    a, b = numpy(model.sample(5, seed=3)), numpy(model.sample(5, seed=3))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, numpy(model.sample(5, seed=4)))
    np.testing.assert_array_equal(numpy(model.seed_generator.state), state)  # an int seed leaves it
    c, d = numpy(model.sample(5)), numpy(model.sample(5))
    assert not np.allclose(c, d)
    assert not np.array_equal(numpy(model.seed_generator.state), state)
    big = model.sample(300, seed=1, batch_size=128)  # 128, 128 and 44
    assert tuple(big.shape) == (300,) + SHAPES["mnist"]
    np.testing.assert_array_equal(numpy(model.sample(300, seed=1, batch_size=128)), numpy(big))


def test_symbolic_and_traced_calls_use_the_raw_ops():
    model = tiny_model(keras_genae.VAE)
    x = images()
    out = model.reconstruct(keras.KerasTensor((None,) + SHAPES["mnist"]))
    assert isinstance(out, keras.KerasTensor)
    traced = tf.function(lambda t: model.encode(t))(tf.constant(x))
    np.testing.assert_allclose(numpy(traced), numpy(model.encode(x)), atol=1e-6)
    assert np.isfinite(float(model.compute_losses(tf.constant(x))["loss"]))


def test_classifier_features():
    classifier = FeatureClassifier(SHAPES["mnist"], filters=(8,), convs_per_stage=1, feature_dim=8)
    x = images(10)
    features = classifier.features(x, batch_size=4)
    with uncompiled():
        direct = classifier.features(tf.constant(x))
    assert isinstance(features, tf.Tensor) and tuple(features.shape) == (10, 8)
    np.testing.assert_allclose(numpy(features), numpy(direct), atol=1e-5)


@pytest.fixture(scope="module", params=["jax", "torch"])
def backend_results(request):
    env = dict(os.environ, KERAS_BACKEND=request.param, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "backend_checks.py")],
                          env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["backend"] == request.param
    return results


def test_other_backends_do_not_import_tensorflow(backend_results):
    for stage in ("tf_after_import", "tf_after_inference", "tf_after_cli", "tf_at_end"):
        assert backend_results[stage] is False, stage
    assert set(backend_results["cli_exit_codes"]) == {0}
    assert backend_results["fit_finite"] is True


def test_other_backends_inference(backend_results):
    r = backend_results
    expected_type = {"jax": "jaxlib._jax.ArrayImpl", "torch": "torch.Tensor"}[r["backend"]]
    assert r["return_type"] == expected_type and r["returns_backend_tensor"]
    for key in ("reconstruct_numpy_matches", "reconstruct_tensor_matches", "reconstruct_list_matches",
                "encode_matches", "predict_numpy", "predict_tensor", "batched_matches",
                "int_seed_deterministic", "int_seed_leaves_state", "int_seed_matches_direct",
                "none_seed_advances", "none_seed_state_moved", "set_weights_matches_direct",
                "set_weights_changes_output", "load_weights_restores", "features_match"):
        assert r[key] is True, key
    assert r["decode_shape"] == r["decode_numpy_shape"] == [5, 28, 28, 1]
    assert r["sample_shape"] == [3, 28, 28, 1] and r["batched_sample_shape"] == [5, 28, 28, 1]
    assert r["dtypes"] == dict.fromkeys(
        ("encode", "decode", "reconstruct", "sample", "sample_latents"), "float32")
    assert r["all_backend_tensors"] and r["np_asarray_matches"]
    assert r["sample_latents_shape"] == [4, 32]
    assert r["sample_latents_seeded"] and r["sample_decodes_latents"]
    expected_errors = [f"`n` must be a positive integer. Received: n={n!r}" for n in BAD_COUNTS]
    assert r["bad_n_errors"] == [expected_errors, expected_errors]
    assert "Received dtype uint8" in r["uint8_error"]
    assert "Divide by 255" in r["range_error"]
    if r["backend"] == "jax":
        assert r["no_retrace_same_shape"] and r["inside_user_jit"]
