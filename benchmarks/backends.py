"""Training speed of one zoo checkpoint per family on every Keras backend.

Usage:
    python benchmarks/backends.py [--out benchmarks/results] [--readme README.md]
        [--backends tensorflow jax torch] [--models vae_mnist ...]
        [--batch-size 64] [--steps 12]

Each (checkpoint, backend) pair runs in its own subprocess (KERAS_BACKEND
is fixed per process, and a fresh process gives a clean peak memory), the
backends one after the other for each checkpoint, so that all of them see
the same machine. In each: `keras_genae.load(name)` (compiled with its
fine-tuning settings, the backend's default `jit_compile`), then `fit` on
random images of the model's shape:

- first step: the wall time of a first `fit` of one step, which traces
  and compiles the step (`tf.function`, `jax.jit`; PyTorch runs eagerly);
- train img/s: `--steps` steps of `--batch-size` images in a second `fit`
  call (the same compiled step), divided into its wall time;
- peak memory: the process's peak resident set size (`ru_maxrss`), which
  includes the framework itself.

It writes `backends.json` and `backends.md` to `--out` and, with
`--readme`, rewrites the table between the `backends-table` markers.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

# The repository, for its tools (the script's own folder is first on the path).
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.readme_tables import replace_section  # noqa: E402

MODELS = ("ae_mnist", "dae_mnist", "vae_mnist", "vqvae_cifar10", "aae_mnist", "dcgan_mnist")
BACKENDS = ("tensorflow", "jax", "torch")


def worker(name, batch_size, steps):
    import keras
    import numpy as np

    import keras_genae

    model = keras_genae.load(name)
    shape = model.image_shape
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(batch_size * steps,) + shape).astype("float32")
    start = time.perf_counter()
    model.fit(x[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "backend": keras.backend.backend(),
        "model": name,
        "first_step_s": first,
        "train_img_s": len(x) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_one(backend, name, batch_size, steps):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--batch-size", str(batch_size),
         "--steps", str(steps)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(rows, backends):
    """Per backend: geometric mean of train img/s over the checkpoints."""
    import math

    out = {}
    for b in backends:
        values = [r["train_img_s"] for r in rows if r["backend"] == b]
        out[b] = math.exp(sum(math.log(v) for v in values) / len(values))
    return out


def render(rows, backends, args):
    import keras

    means = summary(rows, backends)
    fastest = max(means, key=means.get)
    lines = [
        f"`python benchmarks/backends.py` (batch {args.batch_size}, {args.steps} timed steps; "
        f"{os.cpu_count()} CPUs, {platform.machine()}, keras {keras.__version__}). "
        "Train img/s, first step (trace and compile) in seconds, peak resident memory in MB.",
        "",
        "| checkpoint | " + " | ".join(f"{b} img/s" for b in backends) + " | "
        + " | ".join(f"{b} first step" for b in backends) + " | "
        + " | ".join(f"{b} peak MB" for b in backends) + " |",
        "|---|" + "---:|" * (3 * len(backends)),
    ]
    for name in dict.fromkeys(r["model"] for r in rows):
        by = {r["backend"]: r for r in rows if r["model"] == name}
        lines.append(
            f"| {name} | "
            + " | ".join(f"{by[b]['train_img_s']:,.0f}" for b in backends) + " | "
            + " | ".join(f"{by[b]['first_step_s']:.1f}" for b in backends) + " | "
            + " | ".join(f"{by[b]['peak_rss_mb']:,.0f}" for b in backends) + " |"
        )
    others = ", ".join(
        f"{means[fastest] / means[b]:.2f}x {b}" for b in backends if b != fastest
    )
    lines += [
        "",
        f"Geometric mean of train img/s: "
        + ", ".join(f"{b} {means[b]:,.0f}" for b in backends)
        + f". Fastest on this CPU: **{fastest}** ({others}).",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--readme")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch_size, args.steps)))
        return
    rows = []
    for name in args.models:
        for backend in args.backends:
            row = run_one(backend, name, args.batch_size, args.steps)
            print(json.dumps(row), flush=True)
            rows.append(row)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "backends.json"), "w") as f:
        json.dump({"batch_size": args.batch_size, "steps": args.steps, "rows": rows}, f, indent=1)
    table = render(rows, args.backends, args)
    with open(os.path.join(args.out, "backends.md"), "w") as f:
        f.write("# Training speed per backend\n\n" + table)
    if args.readme:
        replace_section(args.readme, "backends-table", table)
    print(table)


if __name__ == "__main__":
    main()
