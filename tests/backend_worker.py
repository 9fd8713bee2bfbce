"""One Keras backend's half of the cross-backend tests (`test_backends.py`).

Run as `python tests/backend_worker.py BACKEND STAGE WORKDIR`; the backend
is fixed per process, so each backend runs in its own. It writes
`WORKDIR/<BACKEND>-<STAGE>.json` and, for the `train` stage, files that the
other backends read in the `resume` stage.

Stages:
- `train`: for every case of `helpers.STATEFUL_CASES`, from the initial
  weights in `WORKDIR/init/` (written by the test, on TensorFlow): one SGD
  train step with the random draws replaced by fixed ones (so that every
  backend sees the same noise) -> loss terms and every weight after it;
  then one epoch of Adam on 256 real MNIST images with the backend's own
  random draws -> the logs; then save the model (`.keras`, with the
  optimizer state) and its reconstructions or samples.
  On TensorFlow the epoch runs a second time with other seeds, which
  measures the run-to-run noise of the logs.
- `resume`: load the other backends' `.keras` files, compare their outputs
  with the ones saved there, and train one more step from the loaded
  optimizer state.
- `dataparallel` (JAX, with 2 virtual CPU devices): the fixed-noise step
  of `train` under `keras.distribution.DataParallel`.
"""

import json
import os
import sys

BACKEND, STAGE, WORK = sys.argv[1:4]
os.environ["KERAS_BACKEND"] = BACKEND
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tests.helpers import STATEFUL_CASES  # noqa: E402
from tests.helpers import case_model  # noqa: E402
from tests.helpers import load_test_images  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
STEP_BATCH = 32
# SGD rates: Adam's update is invariant to the gradient's scale, so it
# would hide a wrong loss scaling. The VAE's loss is a sum over pixels.
LEARNING_RATES = {"VAE": 2e-4}


class FixedRandom:
    """`keras.random.normal`, `uniform` and `randint` replaced by draws that
    depend only on the shape and on how many draws of that shape the step
    made before, so every backend gets the same numbers."""

    def __init__(self):
        self.originals = {n: getattr(keras.random, n) for n in ("normal", "uniform", "randint")}
        self.counts = {}

    def _rng(self, kind, shape):
        shape = tuple(int(s) for s in shape)
        key = (kind, shape)
        k = self.counts[key] = self.counts.get(key, 0) + 1
        return np.random.default_rng([len(shape), *shape, k, len(kind)]), shape

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        rng, shape = self._rng("normal", shape)
        value = mean + stddev * rng.standard_normal(shape)
        return keras.ops.convert_to_tensor(value.astype("float32"))

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        rng, shape = self._rng("uniform", shape)
        value = rng.uniform(minval, maxval, shape)
        return keras.ops.convert_to_tensor(value.astype("float32"))

    def randint(self, shape, minval, maxval, dtype="int32", seed=None):
        rng, shape = self._rng("randint", shape)
        return keras.ops.convert_to_tensor(rng.integers(minval, maxval, shape).astype("int32"))

    def __enter__(self):
        for name in self.originals:
            setattr(keras.random, name, getattr(self, name))
        return self

    def __exit__(self, *exc):
        for name, fn in self.originals.items():
            setattr(keras.random, name, fn)


def outputs(model, x):
    """Deterministic outputs of a model, to compare two copies of it."""
    from keras_genae import DCGAN

    if isinstance(model, DCGAN):  # no encoder: decode fixed latents
        z = np.linspace(-1, 1, 8 * model.latent_dim, dtype="float32").reshape(8, -1)
        return keras.ops.convert_to_numpy(model.decode(z))
    return keras.ops.convert_to_numpy(model.reconstruct(x[:8]))


def build(name):
    model = case_model(name)
    model.load_weights(os.path.join(WORK, "init", f"{name}.weights.h5"))
    return model


def one_fixed_step(name, x):
    model = build(name)
    sgd = keras.optimizers.SGD(learning_rate=LEARNING_RATES.get(name, 0.02))
    model.compile(optimizer=sgd)
    with FixedRandom():
        logs = model.train_on_batch(x[:STEP_BATCH], return_dict=True)
    weights = {w.path: keras.ops.convert_to_numpy(w.value) for w in model.weights}
    np.savez(os.path.join(WORK, f"{BACKEND}-{name}-step.npz"), **weights)
    return {k: float(v) for k, v in logs.items()}


def one_epoch(name, x, reseed=False):
    model = build(name)
    if reseed:  # other random draws (noise, prior samples, code restarts)
        for v in model.non_trainable_variables:
            if "seed" in v.path:
                v.assign(v.value + 7)
    model.compile()
    history = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    logs = {k: float(v[-1]) for k, v in history.items()}
    if reseed:
        return logs
    model.save(os.path.join(WORK, f"{BACKEND}-{name}.keras"))
    np.save(os.path.join(WORK, f"{BACKEND}-{name}-out.npy"), outputs(model, x))
    result = {
        "logs": logs,
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }
    if BACKEND == "tensorflow":
        result["logs_reseeded"] = one_epoch(name, x, reseed=True)
    return result


def resume(name, source, x):
    model = keras.saving.load_model(os.path.join(WORK, f"{source}-{name}.keras"))
    expected = np.load(os.path.join(WORK, f"{source}-{name}-out.npy"))
    diff = float(np.max(np.abs(outputs(model, x) - expected)))
    iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    logs = model.fit(x[:32], batch_size=32, epochs=1, verbose=0).history
    return {
        "max_abs_diff": diff,
        "iterations_loaded": iterations,
        "iterations_after": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "finite": bool(all(np.isfinite(v[-1]) for v in logs.values())),
    }


def data_parallel_step(name, x):
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    try:
        model = build(name)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATES.get(name, 0.02)))
        with FixedRandom():
            logs = model.train_on_batch(x[:STEP_BATCH], return_dict=True)
        weights = {w.path: keras.ops.convert_to_numpy(w.value) for w in model.weights}
    finally:
        keras.distribution.set_distribution(None)
    np.savez(os.path.join(WORK, f"{BACKEND}-{name}-dataparallel.npz"), **weights)
    return {"step": {k: float(v) for k, v in logs.items()}, "devices": len(devices)}


def main():
    import keras_genae  # noqa: F401 (registers the classes)

    x = load_test_images("mnist", 256)[0]
    results = {}
    for name in STATEFUL_CASES:
        if STAGE == "train":
            results[name] = {"step": one_fixed_step(name, x), **one_epoch(name, x)}
        elif STAGE == "dataparallel":
            results[name] = data_parallel_step(name, x)
        else:
            results[name] = {
                source: resume(name, source, x)
                for source in BACKENDS
                if source != BACKEND and os.path.exists(os.path.join(WORK, f"{source}-{name}.keras"))
            }
    with open(os.path.join(WORK, f"{BACKEND}-{STAGE}.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
