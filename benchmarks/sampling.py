"""Sampling speed of the zoo VQ-VAEs' PixelCNN priors.

Usage:
    python benchmarks/sampling.py [--names vqvae_mnist ...] [--backends tensorflow jax torch]

Sampling is autoregressive: one code after the other, `h * w` steps per
grid. `GatedPixelCNN.sample_codes` reuses what does not change between
steps: the vertical stack, which sees only the rows above, runs once per
row, and each step runs the horizontal stack of one row only. The naive
sampler runs the whole network on the whole grid at every step. Both are
compiled the same way (`tf.function` on TensorFlow) and draw the same
codes from the same noise (tests/test_prior.py checks it).

For each backend (one process each, run one after the other) and model:
images/s of `model.sample(n)` (compiled, decoding included) at batch 1 and
256, after one warm-up call of the same shape, at the checkpoint's default
guidance (a guided prior runs twice per step: with the labels and without);
on TensorFlow also the naive and the cached sampler at batch 64 (both
unguided, so they draw the same codes). Writes `sampling.md` and
`sampling.json` to `--out`; a rerun of some `--backends` or `--names`
replaces their figures there and keeps the others'.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("vqvae_mnist", "vqvae_fashion_mnist", "vqvae_cifar10", "vqvae_cifar10_8x8")


def _time(fn, n, repeats):
    fn()  # warm-up: traces and compiles
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n * repeats / (time.perf_counter() - start)


def naive_codes(prior, n, grid_shape, labels, seed):
    """Raster sampling with one full forward pass of the prior per step."""
    import keras
    from keras import ops

    h, w = grid_shape
    u = keras.random.uniform((n, h, w, prior.num_codes), minval=1e-6, maxval=1 - 1e-6, seed=seed)
    gumbel = -ops.log(-ops.log(u))
    rows, cols = ops.arange(h, dtype="int32"), ops.arange(w, dtype="int32")

    def step(i, codes):
        r, c = i // w, i % w
        logits = ops.take(ops.take(prior(codes, labels=labels), r, axis=1), c, axis=1)
        noise = ops.take(ops.take(gumbel, r, axis=1), c, axis=1)
        new = ops.cast(ops.argmax(logits + noise, axis=-1), "int32")
        here = ops.logical_and(ops.expand_dims(rows == r, 1), ops.expand_dims(cols == c, 0))
        return ops.where(ops.expand_dims(here, 0), new[:, None, None], codes)

    return ops.fori_loop(0, h * w, step, ops.zeros((n, h, w), dtype="int32"))


def worker(names):
    import keras
    import numpy as np

    import keras_genae

    backend = keras.backend.backend()
    out = {}
    for name in names:
        model = keras_genae.load(name, compile=False)
        row = {"grid": list(model.latent_shape), "guidance": float(model.prior.guidance)}
        for n, repeats in ((1, 3), (256, 2)):
            row[f"cached_{n}"] = _time(lambda: keras.ops.convert_to_numpy(model.sample(n, seed=0)), n, repeats)
        if backend == "tensorflow":
            import tensorflow as tf

            n = 64
            labels = np.arange(n, dtype="int32") % 10
            naive = tf.function(lambda: naive_codes(model.prior, n, model.latent_shape, labels, 0))
            cached = tf.function(lambda: model.prior.sample_codes(n, model.latent_shape, labels=labels,
                                                                  seed=0, guidance=0.0))
            row["naive_codes_64"] = _time(lambda: naive().numpy(), n, 1)
            row["cached_codes_64"] = _time(lambda: cached().numpy(), n, 1)
            row["same_codes"] = bool(np.array_equal(naive().numpy(), cached().numpy()))
        out[name] = row
    print(json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", nargs="+", default=list(NAMES))
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        sys.path.insert(0, str(ROOT))
        worker(args.names)
        return 0
    out = Path(args.out)
    # A rerun of some backends or models replaces their figures and keeps the others'.
    results = json.loads((out / "sampling.json").read_text()) if (out / "sampling.json").exists() else {}
    for backend in args.backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, __file__, "--worker", "--names", *args.names],
                              env=env, capture_output=True, text=True, cwd=str(ROOT))
        if proc.returncode != 0:
            raise SystemExit(f"{backend} failed:\n{proc.stderr[-3000:]}")
        results.setdefault(backend, {}).update(json.loads(proc.stdout.strip().splitlines()[-1]))
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    backends = [b for b in ("tensorflow", "jax", "torch") if b in results]
    names = [n for n in NAMES if all(n in results[b] for b in backends)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "sampling.json").write_text(json.dumps(results, indent=2))
    lines = ["Images/s of `model.sample(n)` (`python benchmarks/sampling.py`), " + results["machine"] + ".", "",
             "| model | grid | guidance | " + " | ".join(f"{b} n=1 | {b} n=256" for b in backends) + " |",
             "|---|---|---:|" + "---:|---:|" * len(backends)]
    for name in names:
        cells = [f"{results[b][name]['cached_1']:.1f} | {results[b][name]['cached_256']:.1f}" for b in backends]
        grid = "x".join(map(str, results[backends[0]][name]["grid"]))
        guidance = results[backends[0]][name]["guidance"]
        lines.append(f"| `{name}` | {grid} | {guidance:g} | " + " | ".join(cells) + " |")
    if "tensorflow" in results:
        lines += ["", "Codes only, TensorFlow, batch 64: the row-cached sampler against one full pass per step.",
                  "", "| model | naive | cached | speed-up | same codes |", "|---|---:|---:|---:|---|"]
        for name in names:
            r = results["tensorflow"][name]
            lines.append(f"| `{name}` | {r['naive_codes_64']:.1f} | {r['cached_codes_64']:.1f} | "
                         f"{r['cached_codes_64'] / r['naive_codes_64']:.1f}x | {r['same_codes']} |")
    (out / "sampling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
