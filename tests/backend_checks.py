"""Inference checks run in a subprocess with KERAS_BACKEND=jax or torch
(the test process is TensorFlow): `python tests/backend_checks.py` prints one
JSON object of named results, which tests/test_inference.py asserts on.

The first checks run before anything else could import TensorFlow: that
`import keras_genae`, `load`, the inference methods, `predict` and the CLI's
inference commands leave it unimported.
"""

import io
import json
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout

import numpy as np



def main():
    start = time.perf_counter()
    results, seconds = {}, {}

    def mark(name):
        seconds[name] = round(time.perf_counter() - start, 1)
    import keras

    import keras_genae
    from keras_genae.inference import uncompiled

    numpy = keras.ops.convert_to_numpy
    results["backend"] = keras.backend.backend()
    results["tf_after_import"] = "tensorflow" in sys.modules

    mark("import")
    # --- the pretrained VAE: every method, numpy and backend tensors in.
    vae = keras_genae.load("vae_mnist")
    x = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    xt = keras.ops.convert_to_tensor(x)
    rec = vae.reconstruct(x)
    results["return_type"] = f"{type(rec).__module__}.{type(rec).__name__}"
    results["returns_backend_tensor"] = bool(keras.ops.is_tensor(rec))
    with uncompiled():
        direct = {"reconstruct": numpy(vae.reconstruct(x)), "encode": numpy(vae.encode(x))}
    results["reconstruct_numpy_matches"] = _close(rec, direct["reconstruct"])
    results["reconstruct_tensor_matches"] = _close(vae.reconstruct(xt), direct["reconstruct"])
    results["reconstruct_list_matches"] = _close(vae.reconstruct(x.tolist()), direct["reconstruct"])
    z = vae.encode(xt)
    results["encode_matches"] = _close(z, direct["encode"])
    results["decode_shape"] = list(vae.decode(z).shape)
    results["decode_numpy_shape"] = list(vae.decode(numpy(z)).shape)
    results["predict_numpy"] = _close(vae.predict(x, verbose=0), direct["reconstruct"])
    results["predict_tensor"] = _close(vae.predict(xt, verbose=0), direct["reconstruct"])
    results["batched_matches"] = _close(vae.reconstruct(x, batch_size=2), direct["reconstruct"])
    results["sample_shape"] = list(vae.sample(3).shape)
    mark("vae")
    # --- prior latents: one way to draw them, and `n` checked the same everywhere.
    # (Few new shapes: each new trace costs a second or more on JAX.)
    latents = vae.sample_latents(4, seed=7)
    results["sample_latents_shape"] = list(latents.shape)
    results["sample_latents_seeded"] = _close(latents, vae.sample_latents(4, seed=7))
    results["sample_decodes_latents"] = _close(vae.sample(4, seed=7), vae.decode(latents))
    results["bad_n_errors"] = [
        [_error(lambda: method(n)) for n in (0, -1, 2.5, True, "3", None)]
        for method in (vae.sample, vae.sample_latents)
    ]
    # --- what each method returns (the README's table), and numpy from it.
    outputs = {"encode": z, "decode": vae.decode(z), "reconstruct": rec, "sample": vae.sample(3),
               "sample_latents": latents}
    results["dtypes"] = {k: keras.backend.standardize_dtype(y.dtype) for k, y in outputs.items()}
    results["all_backend_tensors"] = all(keras.ops.is_tensor(y) for y in outputs.values())
    results["np_asarray_matches"] = all(np.array_equal(np.asarray(y), numpy(y)) for y in outputs.values())
    results["tf_after_inference"] = "tensorflow" in sys.modules

    mark("types_and_latents")
    from keras_genae import cli

    # Every load costs ~10 s on JAX (Keras compiles each initializer), so
    # the commands that load a model again run on torch only.
    with tempfile.TemporaryDirectory() as tmp, redirect_stdout(io.StringIO()):
        rec = os.path.join(tmp, "r.png")
        commands = [["info", "vae_mnist"], ["reconstruct", "vae_mnist", "--n", "4", "--out", rec]]
        if results["backend"] == "torch":
            commands += [
                ["sample", "vae_mnist", "-n", "4", "--out", os.path.join(tmp, "s.png")],
                ["interpolate", "vae_mnist", "--steps", "3", "--rows", "1", "--out", os.path.join(tmp, "i.png")],
                ["evaluate", "vae_mnist", "--images", rec, "--json"],
            ]
        codes = [cli.main(command) for command in commands]
    results["cli_exit_codes"] = codes
    results["tf_after_cli"] = "tensorflow" in sys.modules

    mark("cli")
    # --- input checks read the backend's dtypes.
    results["uint8_error"] = _error(lambda: vae.reconstruct(keras.ops.convert_to_tensor((x * 255).astype("uint8"))))
    results["range_error"] = _error(lambda: vae.encode(xt * 3.0))

    # --- seeds: an int is deterministic, None advances the model's state.
    state = numpy(vae.seed_generator.state).tolist()
    a, b = numpy(vae.sample(4, seed=7)), numpy(vae.sample(4, seed=7))
    results["int_seed_deterministic"] = bool(np.array_equal(a, b))
    results["int_seed_leaves_state"] = numpy(vae.seed_generator.state).tolist() == state
    with uncompiled():
        results["int_seed_matches_direct"] = _close(vae.sample(4, seed=7), a)
    c, d = numpy(vae.sample(4)), numpy(vae.sample(4))
    results["none_seed_advances"] = not np.allclose(c, d)
    results["none_seed_state_moved"] = numpy(vae.seed_generator.state).tolist() != state

    mark("seeds")
    # --- weights are not baked in: results follow set_weights and load_weights.
    before = numpy(vae.reconstruct(x))
    weights = vae.get_weights()
    vae.set_weights([w * 0.5 if w.dtype.kind == "f" else w for w in weights])
    after = numpy(vae.reconstruct(x))
    with uncompiled():
        results["set_weights_matches_direct"] = _close(after, vae.reconstruct(x))
    results["set_weights_changes_output"] = not np.allclose(before, after)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.weights.h5")
        vae.set_weights(weights)
        vae.save_weights(path)
        vae.set_weights([w * 0 if w.dtype.kind == "f" else w for w in weights])
        vae.load_weights(path)
    results["load_weights_restores"] = _close(vae.reconstruct(x), before)

    # --- traces are cached per shape, not rebuilt per call.
    if results["backend"] == "jax":  # the PyTorch path has no trace
        runner = vae.__dict__["_genae_inference"]
        traces = runner.traces
        for _ in range(3):
            vae.reconstruct(x)
        results["no_retrace_same_shape"] = runner.traces == traces

        # --- inside a user's trace the raw ops run.
        import jax

        traced = jax.jit(lambda images: vae.encode(images))(xt)
        results["inside_user_jit"] = _close(traced, vae.encode(x))
    mark("traces")
    # --- a batched sample; a classifier's features.
    results["batched_sample_shape"] = list(vae.sample(5, batch_size=2).shape)
    classifier = keras_genae.models.FeatureClassifier(
        (28, 28, 1), filters=(8,), convs_per_stage=1, feature_dim=8
    )
    features = classifier.features(xt)
    with uncompiled():
        results["features_match"] = _close(features, classifier.features(x))
    # --- fit on arrays, evaluate and fine-tune need no TensorFlow either.
    history = vae.fit(x, epochs=1, batch_size=5, verbose=0).history
    results["fit_finite"] = bool(np.isfinite(history["loss"][-1]))
    vae.evaluate(x, batch_size=5, verbose=0)
    keras_genae.finetune(vae, x, val_images=x, epochs=1, batch_size=5)
    results["tf_at_end"] = "tensorflow" in sys.modules
    mark("end")
    results["seconds"] = seconds
    print(json.dumps(results))


def _close(a, b):
    import keras

    return bool(np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5))


def _error(fn):
    try:
        fn()
    except ValueError as error:
        return str(error)
    return None


if __name__ == "__main__":
    main()
