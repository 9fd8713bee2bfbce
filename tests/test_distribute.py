"""Training under `tf.distribute.MirroredStrategy` equals single-device
training on the same global batch, for every family; and so does a
2-worker `MultiWorkerMirroredStrategy` cluster on localhost (TF_CONFIG).

The CPU is split into 2 logical devices, which must happen before
TensorFlow initializes its devices, so the comparison runs in one
subprocess (this file run as a script), which writes its measurements as
JSON; the tests below check them. Each family trains for one epoch
(2 steps of a global batch of 32, so 16 images per replica) from the same
initial weights and RNG state, once on one device and once under the
strategy, with SGD (Adam's update is invariant to the scale of the
gradient, so it would hide a wrong loss scaling).
"""

import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script
    sys.path.insert(0, ROOT)

from tests.helpers import STATEFUL_CASES  # noqa: E402

CASES = STATEFUL_CASES
#: Cases compared only in the slow run (`pytest -m slow`), to keep the one
#: subprocess of the default run short. What each one adds is covered in
#: the default run by another case:
SLOW_CASES = {
    # Its loss, a sum over pixels, is scaled per replica like the others; the
    # same VAE with BatchNorm is compared by the 2-worker
    # MultiWorkerMirroredStrategy test below, in the default run.
    "VAE",
    # Random draws inside a replica's step: the AAE's mixture prior (normal
    # and randint draws) stays in the default run.
    "DenoisingAutoencoder",
    # A trainable codebook is a weight like any other, whose gradient is
    # all-reduced as in every default case; the EMA codebook (VQVAE) stays.
    "VQVAE-gradient",
}
#: Cases the other tests of this file read, trained whatever is selected.
ALWAYS = ("Autoencoder", "DCGAN", "VQVAE")
GLOBAL_BATCH = 32
STEPS = 2
# SGD learning rates; the VAE's loss is a sum over pixels, in nats.
LEARNING_RATES = {"VAE": 2e-4}
RTOL, ATOL = 1e-4, 1e-5


# ------------------------------------------------------------ subprocess
def _worker(out_path, names):
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np

    sys.path.insert(0, ROOT)
    import keras_genae
    from tests.helpers import load_test_images
    from tests.helpers import tiny_model

    x = load_test_images("mnist", GLOBAL_BATCH * STEPS)[0]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2

    def make(name, init=None):
        cls = keras_genae.models.ARCHITECTURES[name.split("-")[0]]
        keras.utils.set_random_seed(0)
        model = tiny_model(cls, seed=0, **CASES[name])
        if init is not None:
            model.set_weights(init)
        # Multi-optimizer models give each phase a copy of the template.
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATES.get(name, 0.02)))
        return model

    def train(model):
        history = model.fit(
            x, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0
        ).history
        logs = {k: float(v[-1]) for k, v in history.items()}
        evaluation = model.evaluate(x, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
        weights = [np.asarray(w.numpy(), dtype="float64") for w in model.weights]
        return logs, {k: float(v) for k, v in evaluation.items()}, weights

    results = {}
    for name in names:
        single = make(name)
        init = single.get_weights()
        paths = [w.path.split("/", 1)[-1] for w in single.weights]
        before = [np.asarray(w.numpy(), dtype="float64") for w in single.weights]
        logs_1, eval_1, w_1 = train(single)
        with strategy.scope():
            mirrored = make(name, init)
        logs_2, eval_2, w_2 = train(mirrored)
        # Every replica holds the same values of each mirrored variable.
        replicas_agree = all(
            np.array_equal(
                *[np.asarray(v) for v in strategy.experimental_local_results(w.value)]
            )
            for w in mirrored.weights
        )
        synced_bn = [
            layer.synchronized for layer in mirrored._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        diffs = {}
        assert len(w_1) == len(w_2)
        for path, a, b, a0 in zip(paths, w_1, w_2, before):
            diffs[path] = {
                "max_abs_diff": float(np.max(np.abs(a - b))) if a.size else 0.0,
                "allclose": bool(np.allclose(a, b, rtol=RTOL, atol=ATOL)),
                "moved": float(np.max(np.abs(a - a0))) if a.size else 0.0,
            }
        results[name] = {
            "logs_single": logs_1,
            "logs_mirrored": logs_2,
            "eval_single": eval_1,
            "eval_mirrored": eval_2,
            "weights": diffs,
            "replicas_agree": replicas_agree,
            "synced_bn": synced_bn,
        }
    # jit_compile=True cannot compile a multi-device step: fit warns and
    # trains without XLA.
    import warnings

    with strategy.scope():
        model = tiny_model(keras_genae.Autoencoder)
        model.compile(jit_compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, batch_size=GLOBAL_BATCH, epochs=1, verbose=0).history
    results["jit_fallback"] = {
        "warned": any("jit_compile=True is not supported" in str(w.message) for w in caught),
        "jit_compile": bool(model.jit_compile),
        "loss": float(history["loss"][-1]),
    }
    with open(out_path, "w") as f:
        json.dump(results, f)


# ------------------------------------------------------------ the tests
@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """The subprocess's measurements, for the cases that this session runs
    (a case marked slow is trained only when its test is selected)."""
    selected = {
        item.callspec.params["name"] for item in request.session.items
        if getattr(item, "originalname", None) == "test_mirrored_epoch_matches_single_device"
    }
    names = [n for n in CASES if n in selected or n in ALWAYS]
    out = tmp_path_factory.mktemp("distribute") / "results.json"
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(out), *names],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out) as f:
        return json.load(f)


def _close(a, b):
    return abs(a - b) <= ATOL + RTOL * abs(b) + 1e-4 * abs(b)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_CASES else []) for n in CASES]
)
def test_mirrored_epoch_matches_single_device(results, name):
    r = results[name]
    bad = {p: d for p, d in r["weights"].items() if not d["allclose"]}
    assert not bad, f"weights differ from single-device training: {bad}"
    # The comparison is meaningful: training moved the weights far more
    # than the tolerance.
    moved = max(d["moved"] for d in r["weights"].values())
    assert moved > 500 * ATOL
    assert r["logs_single"].keys() == r["logs_mirrored"].keys()
    for key, value in r["logs_single"].items():
        assert _close(r["logs_mirrored"][key], value), (key, r["logs_mirrored"][key], value)
    for key, value in r["eval_single"].items():
        assert _close(r["eval_mirrored"][key], value), (key, r["eval_mirrored"][key], value)
    assert r["replicas_agree"], "the replicas' copies of a variable diverged"


def test_batchnorm_is_synchronized_under_the_strategy(results):
    assert results["Autoencoder"]["synced_bn"] and all(results["Autoencoder"]["synced_bn"])
    assert results["DCGAN"]["synced_bn"] and all(results["DCGAN"]["synced_bn"])


def test_jit_compile_falls_back_with_a_warning_under_the_strategy(results):
    r = results["jit_fallback"]
    assert r["warned"] and not r["jit_compile"]
    assert math.isfinite(r["loss"])


def test_vq_ema_statistics_and_codebook_metrics_are_global(results):
    r = results["VQVAE"]
    for key in ("quantizer/codebook", "quantizer/ema_cluster_size", "quantizer/usage"):
        (path,) = [p for p in r["weights"] if p.endswith(key)]
        assert r["weights"][path]["moved"] > 1e-3, path
        assert r["weights"][path]["allclose"], path
    # Perplexity and usage come from the histogram summed over replicas.
    assert _close(r["logs_mirrored"]["perplexity"], r["logs_single"]["perplexity"])
    assert _close(r["logs_mirrored"]["codebook_usage"], r["logs_single"]["codebook_usage"])


# ------------------------------------------------- MultiWorkerMirroredStrategy
def _multi_worker(out_path):
    """One worker of a 2-worker cluster (TF_CONFIG), or, without TF_CONFIG,
    the single-device reference: one epoch of a VAE with BatchNorm."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None
    import keras
    import numpy as np

    sys.path.insert(0, ROOT)
    import keras_genae
    from tests.helpers import load_test_images
    from tests.helpers import tiny_model

    x = load_test_images("mnist", GLOBAL_BATCH * STEPS)[0]
    ds = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)

    def make():
        keras.utils.set_random_seed(0)
        model = tiny_model(keras_genae.VAE, seed=0, use_batchnorm=True)
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATES["VAE"]))
        return model

    if strategy is None:
        model = make()
    else:
        with strategy.scope():
            model = make()
    logs = {k: float(v[-1]) for k, v in model.fit(ds, epochs=1, verbose=0).history.items()}
    weights = [np.asarray(w.numpy(), "float64").ravel() for w in model.weights]
    np.save(out_path + ".npy", np.concatenate(weights))
    with open(out_path + ".json", "w") as f:
        json.dump(logs, f)


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_strategy_matches_single_device(tmp_path):
    """Two local workers with TF_CONFIG, as in docs/distributed.md."""
    import numpy as np

    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    script = [sys.executable, os.path.abspath(__file__), "--multi-worker"]
    hosts = [f"localhost:{p}" for p in _free_ports(2)]
    workers = []
    for index in range(2):
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        workers.append(subprocess.Popen(
            script + [str(tmp_path / f"worker{index}")], cwd=ROOT,
            env=dict(env, TF_CONFIG=json.dumps(config)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    single = subprocess.run(script + [str(tmp_path / "single")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
    w0, w1, ref = (np.load(tmp_path / f"{n}.npy") for n in ("worker0", "worker1", "single"))
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(w0, ref, rtol=RTOL, atol=ATOL)
    logs0, logs_ref = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("worker0", "single"))
    for key, value in logs_ref.items():
        assert _close(logs0[key], value), (key, logs0[key], value)


if __name__ == "__main__":
    if sys.argv[1] == "--multi-worker":
        _multi_worker(sys.argv[2])
    else:
        _worker(sys.argv[1], sys.argv[2:] or list(CASES))
