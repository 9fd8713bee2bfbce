"""One Keras backend's half of the cross-backend tests (`test_backends.py`).

Run as `python tests/backend_worker.py BACKEND STAGE WORKDIR [CASE ...]`;
the backend is fixed per process, so each backend runs in its own. It
writes `WORKDIR/<BACKEND>-<STAGE>.json` and, in the `train` stage, the
files that the other backends read in the `resume` stage.

Every random draw (`keras.random.normal`, `uniform`, `randint`) is
replaced by a fixed one that depends only on its shape and its place in
the step (`FixedRandom`), so that every backend trains on the same noise
and the results agree up to float rounding.

Stages:
- `train`: for every case of `helpers.STATEFUL_CASES`, from the initial
  weights in `WORKDIR/init/` (written by the test, on TensorFlow): one SGD
  train step -> its loss terms and every weight after it; then one epoch
  on 256 real MNIST test images -> its logs; then the model is saved
  (`.keras`, with the optimizer state) with its reconstructions or samples.
- `resume`: load every other backend's `.keras` file and compare its
  outputs with the ones saved there; train one more epoch from the loaded
  optimizer state of one of them (`RESUME_FROM`, a ring over the backends).
- `dataparallel` (JAX, with 2 virtual CPU devices): the SGD step of
  `train` under `keras.distribution.DataParallel`.
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
# Each backend resumes the training of the one before it.
RESUME_FROM = {"tensorflow": "torch", "jax": "tensorflow", "torch": "jax"}
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

    def step_started(self):
        """Called at the start of each step (eager backends run it every
        step; compiled ones once, at tracing), so every step draws alike."""
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
        z = np.linspace(-1, 1, 8 * model.latent_size, dtype="float32").reshape(8, -1)
        return keras.ops.convert_to_numpy(model.decode(z))
    return keras.ops.convert_to_numpy(model.reconstruct(x[:8]))


def build(name):
    model = case_model(name)
    model.load_weights(os.path.join(WORK, "init", f"{name}.weights.h5"))
    return model


def weights_of(model):
    """Every weight (and statistic, and seed state), in order."""
    return [keras.ops.convert_to_numpy(w.value) for w in model.weights]


def fixed_noise_steps(model, noise):
    """Make every step of `model` start `noise`'s draws afresh."""
    step = model.train_step

    def train_step(*args):
        noise.step_started()
        return step(*args)

    model.train_step = train_step


def train(name, x, noise):
    model = build(name)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATES.get(name, 0.02)))
    fixed_noise_steps(model, noise)
    step = model.train_on_batch(x[:STEP_BATCH], return_dict=True)
    np.savez(os.path.join(WORK, f"{BACKEND}-{name}-step.npz"), *weights_of(model))
    history = model.fit(x, batch_size=STEP_BATCH, epochs=1, shuffle=False, verbose=0).history
    model.save(os.path.join(WORK, f"{BACKEND}-{name}.keras"))
    np.save(os.path.join(WORK, f"{BACKEND}-{name}-out.npy"), outputs(model, x))
    return {
        "step": {k: float(v) for k, v in step.items()},
        "epoch": {k: float(v[-1]) for k, v in history.items()},
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }


def resume(name, x, noise):
    results = {}
    for source in BACKENDS:
        path = os.path.join(WORK, f"{source}-{name}.keras")
        if source == BACKEND or not os.path.exists(path):
            continue
        model = keras.saving.load_model(path)
        expected = np.load(os.path.join(WORK, f"{source}-{name}-out.npy"))
        result = {"max_abs_diff": float(np.max(np.abs(outputs(model, x) - expected)))}
        if source == RESUME_FROM[BACKEND]:
            fixed_noise_steps(model, noise)
            result["iterations_loaded"] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
            history = model.fit(x, batch_size=STEP_BATCH, epochs=1, shuffle=False, verbose=0).history
            result["epoch"] = {k: float(v[-1]) for k, v in history.items()}
            result["iterations_after"] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        results[source] = result
    return results


def data_parallel_step(name, x, noise):
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    try:
        model = build(name)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATES.get(name, 0.02)))
        fixed_noise_steps(model, noise)
        logs = model.train_on_batch(x[:STEP_BATCH], return_dict=True)
        np.savez(os.path.join(WORK, f"{BACKEND}-{name}-dataparallel.npz"), *weights_of(model))
    finally:
        keras.distribution.set_distribution(None)
    return {"step": {k: float(v) for k, v in logs.items()}, "devices": len(devices)}


def state_of(model):
    """Every variable of the model and of its optimizers, as numpy."""
    return [keras.ops.convert_to_numpy(v.value) for v in model.variables + model.optimizer.variables]


def guard(name, x, noise):
    """A poisoned weight (NaN loss) and a NaN batch: each step is rejected
    with an error that names the cause, and no variable changes."""
    import keras_genae

    results = {}
    for what in ("nan_weight", "nan_input"):
        model = build(name)
        # XLA on TensorFlow (where the old guard leaked); torch.compile
        # would take a minute per shape.
        model.compile(jit_compile=BACKEND != "torch")
        model.fit(x[:STEP_BATCH], batch_size=STEP_BATCH, epochs=1, verbose=0)
        batch = x[:STEP_BATCH].copy()
        if what == "nan_weight":
            w = model.pre_quantization.kernel if name.startswith("VQVAE") else model.generator.weights[-1]
            w.assign(np.full(w.shape, np.nan, "float32"))
        else:
            batch[0, 0, 0, 0] = np.nan
        before = state_of(model)
        try:
            model.fit(batch, batch_size=STEP_BATCH, epochs=1, verbose=0)
            error = None
        except (keras_genae.NonFiniteLossError, ValueError) as e:
            error = {"type": type(e).__name__, "message": str(e), "term": getattr(e, "term", None)}
        after = state_of(model)
        changed = [
            v.path for v, a, b in zip(model.variables + model.optimizer.variables, before, after)
            if not np.array_equal(a, b, equal_nan=True)
        ]
        results[what] = {"error": error, "changed": changed}
    return results


STAGES = {"train": train, "guard": guard, "resume": resume, "dataparallel": data_parallel_step}


def main():
    import keras_genae  # noqa: F401 (registers the classes)

    x = load_test_images("mnist", 256)[0]
    cases = sys.argv[4:] or list(STATEFUL_CASES)
    with FixedRandom() as noise:
        results = {name: STAGES[STAGE](name, x, noise) for name in cases}
    with open(os.path.join(WORK, f"{BACKEND}-{STAGE}.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
